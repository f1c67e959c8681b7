import { z } from 'zod';
import { ConfigError, readConfigFile } from '../lib/config-file';

/**
 * 项目实施进度安排 as data: the seed's work packages and their items, each with an owner role,
 * dependencies, a due offset from T0 (contract signature) and how it completes — a person's sign-off
 * or an automated run. Checked at load (shape, unknown or circular dependencies, due dates that come
 * before a dependency's) so a bad plan stops the worker instead of a plan run weeks later.
 */

const id = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'expected a lower-case id (a-z, 0-9, -; at most 40 chars)');
const title = z.object({ zh: z.string().min(1), en: z.string().min(1) }).strict();
const dueOffsetDays = z.number().int().min(0).max(730);

/** Roles that own plan items; they are API token roles, so the API and the workflow can check them. */
export const OWNER_ROLES = ['operator', 'approver'] as const;
export type OwnerRole = (typeof OWNER_ROLES)[number];

export const AUTOMATED_RUNS = ['network-policy-check', 'joint-test-check', 'cutover-rehearsal', 'cutover-live', 'reporting-joint-test', 'standby-setup', 'standby-check'] as const;
export type AutomatedRun = (typeof AUTOMATED_RUNS)[number];

const completion = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('signoff') }).strict(),
  z.object({ kind: z.literal('automated'), run: z.enum(AUTOMATED_RUNS) }).strict(),
]);

const item = z
  .object({
    id,
    title,
    ownerRole: z.enum(OWNER_ROLES),
    dependsOn: z.array(id),
    dueOffsetDays,
    deliverable: z.string().min(1),
    completion,
  })
  .strict();

const planSchema = z
  .object({
    name: title,
    remindBeforeDays: z.number().int().min(0).max(60),
    retryAutomatedAfterHours: z.number().positive().max(24 * 30),
    reportEveryDays: z.number().int().min(1).max(31),
    packages: z.array(z.object({ id, title, items: z.array(item).min(1) }).strict()).min(1),
    milestones: z.array(z.object({ id, title, dueOffsetDays, deliverable: z.string().min(1), items: z.array(id).min(1) }).strict()),
  })
  .strict();

export type PlanDefinition = z.infer<typeof planSchema>;
export type PlanItemDefinition = z.infer<typeof item>;
export type LocalizedTitle = z.infer<typeof title>;

export function loadPlanDefinition(file: string): PlanDefinition {
  const plan = readConfigFile(file, planSchema);
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
