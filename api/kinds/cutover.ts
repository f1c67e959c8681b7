import { z } from 'zod';
import {
  CutoverInput,
  cutoverInput,
  CutoverState,
  cutoverState,
  cutoverStateQuery,
  decideGateSignal,
  GATE_DEFINITIONS,
  GATES,
  operatorActionSignal,
  RUN_STATUSES,
  STEP_KEYS,
} from '../../workflows/cutover-messages';
import { renderCutoverChecklist } from '../../workflows/cutover-report';
import { generatedRunId, RunKind } from '../run-kinds';
import { bodySchemaOf, stateSchemaOf } from '../contracts';
import { runIdField } from '../schemas';
import { evidencePack, failureAnalysis, verificationReport } from './report-files';

/** CSV cells are quoted always, and a leading = + - @ is defused so a spreadsheet does not run it as a formula. */
function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return `"${(/^[=+\-@]/.test(s) ? "'" + s : s).replace(/"/g, '""')}"`;
}

/** 割接 the go-live cutover (workflows/cutover.ts) as the API serves it: its start body, from the workflow's input shape. */
const cutoverStartBody = cutoverInput.pick({ mode: true, migration: true, verification: true, plannedMinutes: true, maintenanceWindow: true, gates: true }).extend({ runId: runIdField('cutover-') }).strict();
export type CutoverStartBody = z.infer<typeof cutoverStartBody>;

export const cutoverKind: RunKind<CutoverState, CutoverStartBody> = {
  kind: 'cutover',
  workflowType: 'cutover',
  idPrefix: 'cutover-',
  collection: 'cutovers',
  title: '割接 Cutover',
  start: {
    roles: ['operator'],
    bodySchema: bodySchemaOf(cutoverStartBody),
    plan(body, actor) {
      const runId = body.runId ?? generatedRunId(body.mode);
      const { migration, verification, plannedMinutes, maintenanceWindow, gates } = body;
      const input: CutoverInput = { runId, mode: body.mode, requestedBy: actor.name, migration, verification, plannedMinutes, maintenanceWindow, gates };
      return {
        runId,
        args: [input],
        memo: { mode: body.mode },
        summary: `割接 Cutover ${runId} · ${body.mode === 'live' ? '正式 live' : '彩排 rehearsal'} · started by ${actor.name}`,
        phase: 'plan',
      };
    },
  },
  stateQuery: cutoverStateQuery,
  stateFromResult: (result) => result as CutoverState,
  stateSchema: stateSchemaOf(cutoverState),
  statuses: RUN_STATUSES,
  gates: GATES.map((name) => ({ name, title: GATE_DEFINITIONS[name].title, deciders: GATE_DEFINITIONS[name].roles.filter((r): r is 'approver' => r === 'approver') })),
  decisionSignal: decideGateSignal,
  openGates: (state) => state.gates.filter((g) => g.status === 'open').map((g) => g.name),
  signedStart: true,
  holdsTarget: true,
  approvalsNeeded: (state, gate) => state.gates.find((g) => g.name === gate)?.approvals ?? 1,
  waitingStatus: 'waiting_approval',
  stepChoices: {
    // "fallback": the fallback child failed; retry starts it again, continue ends the run with its evidence pack
    steps: [...STEP_KEYS, 'fallback'],
    choices: ['retry', 'skip', 'continue', 'fallback'],
    reasonRequired: ['skip', 'continue'],
    signal: operatorActionSignal,
    gate: (step) => `step:${step}`,
    waiting: (state) => state.pendingFailure && { step: state.pendingFailure.step, choices: state.pendingFailure.choices },
  },
  progress: (state) => ({
    // A skipped step is behind the run as much as a done one (the checklist still shows which it was).
    done: state.steps.filter((s) => s.status === 'done' || s.status === 'skipped').length,
    total: state.steps.length,
    current: state.steps.find((s) => s.status === 'running')?.title,
  }),
  reports: {
    'summary.md': {
      title: '割接报告 Cutover summary (checklist, tables, decisions)',
      contentType: 'text/markdown; charset=utf-8',
      render: (state, workflowId) => {
        const decisions = state.decisions.map(
          (d) => `| ${d.at} | ${d.gate} | ${d.decision} | ${d.actor} | ${d.accepted ? 'counted 已计入' : `refused 拒绝: ${d.refusal ?? ''}`} |`,
        );
        return [
          renderCutoverChecklist(state, workflowId),
          '',
          '#### 审批记录 Decisions',
          ...(decisions.length ? ['| at | gate | decision | by | outcome |', '|---|---|---|---|---|', ...decisions] : ['(none 无)']),
          '',
        ].join('\n');
      },
    },
    'tables.csv': {
      title: '迁移结果 Per-table migration outcome',
      contentType: 'text/csv; charset=utf-8',
      render: (state) =>
        [
          ['table', 'rows_read', 'rows_loaded', 'rows_quarantined', 'counts_reconciled', 'duration_ms'],
          ...state.tables.map((t) => [t.table, t.rowsRead, t.rowsLoaded, t.rowsQuarantined, t.countsReconciled ?? '', t.durationMs]),
        ]
          .map((r) => r.map(csvCell).join(','))
          .join('\r\n') + '\r\n',
    },
    ...evidencePack<CutoverState>(),
    ...verificationReport<CutoverState>((state) => Boolean(state.verification)),
    ...failureAnalysis<CutoverState>((state) => state.fallback?.report?.markdown),
  },
};
