import { ConfigError, readConfigFile } from '../lib/config-file';
import { planDefinition, type PlanDefinition, type PlanItemDefinition } from './definition-schema';

// The shapes are zod, in definition-schema.ts (the workflow bundle imports them); re-exported for the loaders' callers.
export { AUTOMATED_RUNS, OWNER_ROLES } from './definition-schema';
export type { AutomatedRun, LocalizedTitle, OwnerRole, PlanDefinition, PlanItemDefinition } from './definition-schema';

/**
 * 项目实施进度安排 as data: the seed's work packages and their items, each with an owner role,
 * dependencies, a due offset from T0 (contract signature) and how it completes — a person's sign-off
 * or an automated run. Checked at load (shape, unknown or circular dependencies, due dates that come
 * before a dependency's) so a bad plan stops the worker instead of a plan run weeks later.
 */

export function loadPlanDefinition(file: string): PlanDefinition {
  const plan = readConfigFile(file, planDefinition);
  const problems = planProblems(plan);
  if (problems.length) throw new ConfigError(file, problems);
  return plan;
}

function planProblems(plan: PlanDefinition): string[] {
  const problems: string[] = [];
  const where = new Map<string, string>();
  const items = new Map<string, PlanItemDefinition>();
  plan.packages.forEach((p, pi) => {
    if (plan.packages.findIndex((q) => q.id === p.id) !== pi) problems.push(`packages[${pi}].id: package "${p.id}" is declared twice`);
    p.items.forEach((it, ii) => {
      const at = `packages[${pi}].items[${ii}]`;
      if (items.has(it.id)) problems.push(`${at}.id: item "${it.id}" is already declared at ${where.get(it.id)}`);
      items.set(it.id, it);
      where.set(it.id, at);
    });
  });
  for (const [itemId, it] of items) {
    it.dependsOn.forEach((dep, di) => {
      const at = `${where.get(itemId)}.dependsOn[${di}]`;
      const d = items.get(dep);
      if (!d) problems.push(`${at}: item "${itemId}" depends on "${dep}", which is not an item of the plan`);
      else if (d.dueOffsetDays > it.dueOffsetDays) {
        problems.push(`${at}: item "${itemId}" is due on day ${it.dueOffsetDays}, before its dependency "${dep}" (day ${d.dueOffsetDays})`);
      }
    });
  }
  const cycle = findCycle(items);
  if (cycle) problems.push(`${where.get(cycle[0])}.dependsOn: circular dependency ${cycle.join(' → ')}`);
  plan.milestones.forEach((m, mi) => {
    if (plan.milestones.findIndex((q) => q.id === m.id) !== mi) problems.push(`milestones[${mi}].id: milestone "${m.id}" is declared twice`);
    m.items.forEach((ref, ri) => {
      if (!items.has(ref)) problems.push(`milestones[${mi}].items[${ri}]: milestone "${m.id}" names "${ref}", which is not an item of the plan`);
    });
  });
  return problems;
}

/** The first dependency cycle found (as a path that returns to its start), or null. */
function findCycle(items: Map<string, PlanItemDefinition>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (itemId: string): string[] | null => {
    if (state.get(itemId) === 'done' || !items.has(itemId)) return null;
    if (state.get(itemId) === 'visiting') return [...stack.slice(stack.indexOf(itemId)), itemId];
    state.set(itemId, 'visiting');
    stack.push(itemId);
    for (const dep of items.get(itemId)!.dependsOn) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(itemId, 'done');
    return null;
  };
  for (const itemId of items.keys()) {
    const found = visit(itemId);
    if (found) return found;
  }
  return null;
}
