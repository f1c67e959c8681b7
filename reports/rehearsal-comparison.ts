import type { Client } from '@temporalio/client';
import type { CutoverState } from '../workflows/cutover-messages';

/**
 * 彩排对比 Rehearsal comparison: several finished rehearsal cutovers side by side — per step the planned
 * minutes, each run's actual minutes and the difference — and what they project for the cutover
 * weekend: the plan, the mean and the slowest run of every step, each against the maintenance window.
 * Read from the runs' results in Temporal (a cutover returns its final state), listed by the
 * RunbookKind search attribute; nothing is kept anywhere else.
 */
export interface RehearsalComparison {
  kind: 'rehearsal-comparison';
  runs: {
    workflowId: string;
    runId: string;
    status: string;
    startedAt?: string;
    finishedAt?: string;
    actualMinutes: number;
    window?: { start: string; end: string };
    /** the run's own projection when it ended: did it fit its window */
    fitsWindow?: boolean;
  }[];
  steps: {
    key: string;
    title: string;
    /** from the most recent run that planned the step */
    plannedMinutes?: number;
    /** per run, in the order of runs; null where the run never finished the step */
    actualMinutes: (number | null)[];
    /** actual − planned per run */
    deltaMinutes: (number | null)[];
  }[];
  projection: {
    windowMinutes?: number;
    plannedMinutes: number;
    meanMinutes: number;
    slowestMinutes: number;
    fitsWindow?: { planned: boolean; mean: boolean; slowest: boolean };
  };
}

const minutes = (ms: number) => Math.round((ms / 60_000) * 100) / 100;

/** Runs in the order given (oldest first reads best); windowMinutes overrides the runs' own window. */
export function compareRehearsals(runs: { workflowId: string; state: CutoverState }[], windowMinutes?: number): RehearsalComparison {
  const keys = runs[0]?.state.steps.map((s) => ({ key: s.key, title: s.title })) ?? [];
  const steps = keys.map(({ key, title }) => {
    const own = runs.map((r) => r.state.steps.find((s) => s.key === key));
    const plannedMinutes = [...own].reverse().find((s) => s?.plannedMinutes !== undefined)?.plannedMinutes;
    const actualMinutes = own.map((s) => (s && (s.status === 'done' || s.status === 'skipped') && s.actualMs !== undefined ? minutes(s.actualMs) : null));
    const deltaMinutes = actualMinutes.map((a) => (a === null || plannedMinutes === undefined ? null : Math.round((a - plannedMinutes) * 100) / 100));
    return { key, title, plannedMinutes, actualMinutes, deltaMinutes };
  });
  const sum = (f: (s: (typeof steps)[number]) => number) => Math.round(steps.reduce((n, s) => n + f(s), 0) * 100) / 100;
  const seen = (s: (typeof steps)[number]) => s.actualMinutes.filter((a): a is number => a !== null);
  const lastWindow = [...runs].reverse().find((r) => r.state.maintenanceWindow)?.state.maintenanceWindow;
  const window = windowMinutes ?? (lastWindow ? minutes(Date.parse(lastWindow.end) - Date.parse(lastWindow.start)) : undefined);
  const plannedMinutes = sum((s) => s.plannedMinutes ?? 0);
  // A step no run finished counts with its plan, so a partial rehearsal does not make the weekend look short.
  const meanMinutes = sum((s) => (seen(s).length ? seen(s).reduce((a, b) => a + b, 0) / seen(s).length : (s.plannedMinutes ?? 0)));
  const slowestMinutes = sum((s) => (seen(s).length ? Math.max(...seen(s)) : (s.plannedMinutes ?? 0)));
  return {
    kind: 'rehearsal-comparison',
    runs: runs.map(({ workflowId, state }) => {
      const times = state.steps.flatMap((s) => [s.startedAt, s.finishedAt]).filter((t): t is string => Boolean(t)).sort();
      return {
        workflowId,
        runId: state.runId,
        status: state.status,
        startedAt: times[0],
        finishedAt: times[times.length - 1],
        actualMinutes: minutes(state.steps.reduce((n, s) => n + (s.actualMs ?? 0), 0)),
        window: state.maintenanceWindow,
        fitsWindow: state.projection?.fitsWindow,
      };
    }),
    steps,
    projection: {
      windowMinutes: window,
      plannedMinutes,
      meanMinutes,
      slowestMinutes,
      fitsWindow: window === undefined ? undefined : { planned: plannedMinutes <= window, mean: meanMinutes <= window, slowest: slowestMinutes <= window },
    },
  };
}

const cell = (v: unknown) => (v === null || v === undefined ? '—' : String(v).replace(/\|/g, '\\|'));
const fits = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? '可按时完成 fits' : '超出窗口 OVERRUNS');

export function renderRehearsalComparison(c: RehearsalComparison): string {
  const head = ['步骤 Step', '计划 Planned', ...c.runs.flatMap((r) => [`${r.runId} 实际 actual`, 'Δ'])];
  const lines = [
    '# 彩排对比 Rehearsal comparison',
    '',
    '| 彩排 Rehearsal | 状态 Status | 开始 Started | 实际 Actual (min) | 窗口 Window | 当次预计 Own projection |',
    '|---|---|---|---:|---|---|',
    ...c.runs.map((r) => `| ${cell(r.runId)} | ${r.status} | ${cell(r.startedAt)} | ${r.actualMinutes} | ${r.window ? `${r.window.start} – ${r.window.end}` : '—'} | ${fits(r.fitsWindow)} |`),
    '',
    '## 各步骤 Per step (minutes)',
    '',
    `| ${head.join(' | ')} |`,
    `|---|${head.slice(1).map(() => '---:').join('|')}|`,
    ...c.steps.map((s) => `| ${cell(s.title)} | ${cell(s.plannedMinutes)} | ${s.actualMinutes.flatMap((a, i) => [cell(a), cell(s.deltaMinutes[i])]).join(' | ')} |`),
    '',
    '## 割接周末预计 Projection for the cutover weekend',
    '',
    `Maintenance window 维护窗口: ${c.projection.windowMinutes === undefined ? 'not given 未提供' : `${c.projection.windowMinutes} min`}`,
    '',
    '| 依据 Basis | 分钟 Minutes | 窗口 Window |',
    '|---|---:|---|',
    `| 计划 Plan | ${c.projection.plannedMinutes} | ${fits(c.projection.fitsWindow?.planned)} |`,
    `| 彩排平均 Mean of the rehearsals | ${c.projection.meanMinutes} | ${fits(c.projection.fitsWindow?.mean)} |`,
    `| 最慢 Slowest rehearsal of each step | ${c.projection.slowestMinutes} | ${fits(c.projection.fitsWindow?.slowest)} |`,
    '',
  ];
  return lines.join('\n');
}

/**
 * Finished rehearsal cutovers on a task queue, oldest first: the ones named, or the most recent `limit`.
 * A named run that is unknown, unfinished or not a rehearsal is an error naming it.
 */
export async function loadRehearsals(
  temporal: Client,
  opts: { taskQueue: string; workflowIds?: string[]; limit: number },
): Promise<{ runs: { workflowId: string; state: CutoverState }[]; refused: { workflowId: string; why: string }[] }> {
  const ids: string[] = [];
  if (opts.workflowIds?.length) ids.push(...opts.workflowIds);
  else {
    const query = `TaskQueue = "${opts.taskQueue.replace(/["\\]/g, '')}" AND RunbookKind = "cutover" AND ExecutionStatus = "Completed"`;
    // Newest first; live runs among them are skipped below, so look a little further than asked.
    for await (const info of temporal.workflow.list({ query, pageSize: 100 })) {
      ids.push(info.workflowId);
      if (ids.length >= opts.limit * 5) break;
    }
  }
  const runs: { workflowId: string; state: CutoverState; startedAt: string }[] = [];
  const refused: { workflowId: string; why: string }[] = [];
  for (const workflowId of ids) {
    const handle = temporal.workflow.getHandle(workflowId);
    const d = await handle.describe().catch(() => undefined);
    if (!d || d.type !== 'cutover' || d.taskQueue !== opts.taskQueue) refused.push({ workflowId, why: 'no cutover run with this id' });
    else if (d.status.name !== 'COMPLETED') refused.push({ workflowId, why: `the run is ${d.status.name.toLowerCase()}, not finished` });
    else {
      const state = (await handle.result()) as CutoverState;
      if (state.mode !== 'rehearsal') refused.push({ workflowId, why: 'a live cutover, not a rehearsal' });
      else runs.push({ workflowId, state, startedAt: d.startTime.toISOString() });
    }
  }
  runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  // Listing (no names given) passes over live runs silently: only named runs can be refused.
  return { runs: runs.slice(-opts.limit).map(({ workflowId, state }) => ({ workflowId, state })), refused: opts.workflowIds?.length ? refused : [] };
}
