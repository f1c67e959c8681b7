import type { LocalizedTitle } from '../plan/definition';
import type { ItemProgress, ItemState, ItemStatus, PlanProgress, PlanState } from './plan-messages';

// The progress shapes are part of the plan's contract (plan-messages.ts); re-exported for the report and the API.
export type { ItemProgress, MilestoneProgress, PackageProgress, PlanProgress } from './plan-messages';

/**
 * Where the project stands, computed from the plan's state and a point in time. Pure functions:
 * the workflow calls them (deterministically), and so do the query, the checklist and the report.
 */
export const DAY_MS = 24 * 60 * 60 * 1000;

/** Due dates count whole days from the contract date, in China time (UTC+8, no daylight saving). */
export function dayToMs(date: string): number {
  return Date.parse(`${date}T00:00:00+08:00`);
}

export function dueAtIso(t0: string, offsetDays: number): string {
  return new Date(dayToMs(t0) + offsetDays * DAY_MS).toISOString();
}

/** The calendar day (YYYY-MM-DD) an instant falls on in China, as people in the project read dates. */
export function chinaDay(iso: string): string {
  return new Date(Date.parse(iso) + 8 * 60 * 60 * 1000).toISOString().slice(0, 10);
}

export function label(t: LocalizedTitle): string {
  return `${t.zh} ${t.en}`;
}

const percent = (done: number, total: number) => (total ? Math.floor((100 * done) / total) : 100);

/** Blocked until every dependency is done; a dependency-free open sign-off item is ready. */
export function refreshStatuses(state: PlanState): void {
  const done = new Set(state.items.filter((i) => i.status === 'done').map((i) => i.id));
  for (const item of state.items) {
    if (item.status === 'blocked' || item.status === 'ready') {
      item.status = item.dependsOn.every((d) => done.has(d)) ? 'ready' : 'blocked';
    }
  }
  for (const m of state.milestones) {
    if (!m.reachedAt && m.items.every((i) => done.has(i))) {
      m.reachedAt = state.items
        .filter((i) => m.items.includes(i.id))
        .map((i) => i.doneAt!)
        .sort()
        .pop();
    }
  }
}

export function waitingFor(item: ItemState, state: PlanState): string | undefined {
  switch (item.status) {
    case 'done':
      return undefined;
    case 'blocked': {
      const open = state.items.filter((i) => item.dependsOn.includes(i.id) && i.status !== 'done');
      return `依赖 dependencies: ${open.map((i) => `${i.id} (${who(i)})`).join(', ')}`;
    }
    case 'ready':
      return item.completion.kind === 'signoff' ? `${item.ownerRole} 签字 sign-off` : `自动运行 automated ${item.completion.run}`;
    case 'running':
      return `运行中 automated run ${item.runs[item.runs.length - 1]?.ref ?? ''}`.trim();
    case 'failed':
      return `自动运行失败 automated run failed; ${item.ownerRole} to fix, next attempt ${item.retryAt ?? 'pending'}`;
  }
}

function who(item: ItemState): string {
  return item.completion.kind === 'signoff' ? `${item.ownerRole} sign-off` : `automated ${item.completion.run}`;
}

export function progress(state: PlanState, nowMs: number): PlanProgress {
  const items: ItemProgress[] = state.items.map((i) => {
    const late = i.status !== 'done' && nowMs >= Date.parse(i.dueAt);
    return {
      id: i.id,
      packageId: i.packageId,
      title: label(i.title),
      ownerRole: i.ownerRole,
      completion: i.completion.kind === 'signoff' ? 'signoff' : `automated:${i.completion.run}`,
      status: i.status,
      dueAt: i.dueAt,
      doneAt: i.doneAt,
      doneBy: i.doneBy,
      waitingFor: waitingFor(i, state),
      daysLate: late ? Math.floor((nowMs - Date.parse(i.dueAt)) / DAY_MS) : undefined,
    };
  });
  const packages = state.definition.packages.map((p) => {
    const mine = items.filter((i) => i.packageId === p.id);
    const done = mine.filter((i) => i.status === 'done').length;
    return { id: p.id, title: label(p.title), done, total: mine.length, percent: percent(done, mine.length) };
  });
  const open = items.filter((i) => i.status !== 'done').sort((a, b) => a.dueAt.localeCompare(b.dueAt));
  const done = items.length - open.length;
  return {
    planId: state.planId,
    name: label(state.definition.name),
    t0: state.t0,
    status: state.status,
    phase: open[0]?.packageId ?? 'completed',
    percent: percent(done, items.length),
    generation: state.generation,
    packages,
    milestones: state.milestones.map((m) => ({
      id: m.id,
      title: label(m.title),
      dueAt: m.dueAt,
      deliverable: m.deliverable,
      status: m.reachedAt ? 'reached' : nowMs >= Date.parse(m.dueAt) ? 'late' : 'pending',
      reachedAt: m.reachedAt,
    })),
    late: open.filter((i) => i.daysLate !== undefined),
    items,
    rebaselines: state.rebaselines,
    recentDecisions: state.decisions.slice(-20),
    asOf: new Date(nowMs).toISOString(),
  };
}

const ICON: Record<ItemStatus, string> = { blocked: '☐', ready: '☐', running: '▶', done: '☑', failed: '✗' };

/** The live checklist shown as the plan workflow's current details in the Temporal Web UI. */
export function renderChecklist(p: PlanProgress): string {
  const lines = [`### 项目计划 Project plan ${p.planId} — T0 ${p.t0} — ${p.percent}% (${p.status})`, ''];
  for (const m of p.milestones) {
    lines.push(`- ${m.status === 'reached' ? '☑' : m.status === 'late' ? '⚠' : '☐'} 里程碑 Milestone: ${m.title} — due ${chinaDay(m.dueAt)}`);
  }
  for (const pkg of p.packages) {
    lines.push('', `**${pkg.title}** ${pkg.done}/${pkg.total}`);
    for (const i of p.items.filter((x) => x.packageId === pkg.id)) {
      const late = i.daysLate !== undefined ? ` ⚠ ${i.daysLate} d late` : '';
      lines.push(`- ${ICON[i.status]} ${i.title} — due ${chinaDay(i.dueAt)}${late}${i.waitingFor ? ` — ${i.waitingFor}` : ''}${i.doneBy ? ` — ${i.doneBy}` : ''}`);
    }
  }
  return lines.join('\n');
}
