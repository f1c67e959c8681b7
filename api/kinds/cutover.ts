import {
  CutoverInput,
  CutoverState,
  cutoverStateQuery,
  decideGateSignal,
  GATE_DEFINITIONS,
  GATES,
  operatorActionSignal,
  RUN_STATUSES,
  STEP_KEYS,
  STEP_STATUSES,
} from '../../workflows/cutover-messages';
import { renderCutoverChecklist } from '../../workflows/cutover-report';
import { generatedRunId, RunKind } from '../run-kinds';
import { ID_SUFFIX_PATTERN, stepsSchema, verificationOptionProperties } from '../schemas';
import { evidencePack, failureAnalysis, verificationReport } from './report-files';

/** 割接 the go-live cutover (workflows/cutover.ts) as the API serves it. */
const stateSchema = {
  type: 'object' as const,
  // The state grows with the steps (fallback, projection, pending failure, evidence …): documented fields
  // below, the rest passed through rather than silently dropped by the serializer.
  additionalProperties: true,
  required: ['runId', 'mode', 'requestedBy', 'status', 'phase', 'steps', 'gates', 'decisions', 'tables'],
  properties: {
    runId: { type: 'string' },
    mode: { type: 'string', enum: ['rehearsal', 'live'] },
    requestedBy: { type: 'string' },
    status: { type: 'string', enum: [...RUN_STATUSES] },
    phase: { type: 'string', enum: [...STEP_KEYS, 'finished'] },
    steps: stepsSchema(STEP_KEYS, STEP_STATUSES),
    gates: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          name: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'string', enum: ['waiting', 'open', 'approved', 'rejected', 'cancelled'] },
          decidedBy: { type: 'string' },
          decidedAt: { type: 'string' },
          reason: { type: 'string' },
          note: { type: 'string', description: 'what the approvers must know, e.g. 主体缺失 entities missing at go/no-go' },
        },
      },
    },
    decisions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          gate: { type: 'string' },
          decision: { type: 'string' },
          actor: { type: 'string' },
          role: { type: 'string' },
          reason: { type: 'string' },
          at: { type: 'string' },
          accepted: { type: 'boolean' },
          refusal: { type: 'string' },
        },
      },
    },
    tables: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          table: { type: 'string' },
          rowsRead: { type: 'integer' },
          rowsLoaded: { type: 'integer' },
          rowsQuarantined: { type: 'integer' },
          quarantinedByRule: { type: 'object', additionalProperties: { type: 'integer' } },
          flaggedByRule: { type: 'object', description: '问题数据 rows loaded flagged per rule (a data-quality issue each)', additionalProperties: { type: 'integer' } },
          durationMs: { type: 'integer' },
          countsReconciled: { type: 'boolean' },
        },
      },
    },
    backup: { type: 'object', properties: { dir: { type: 'string' }, files: { type: 'integer' }, rows: { type: 'integer' } } },
    preflight: {
      type: 'object',
      description: '预检 the mapping against the live legacy and target catalogs: errors stop the run, warnings do not',
      additionalProperties: true,
      properties: Object.fromEntries(
        ['errors', 'warnings'].map((k) => [
          k,
          { type: 'array', items: { type: 'object', properties: { where: { type: 'string' }, problem: { type: 'string' }, action: { type: 'string' }, severity: { type: 'string' } } } },
        ]),
      ),
    },
    pendingFailure: {
      type: 'object',
      description: 'a step that failed after its retries and waits for the operator: its root cause, not the wrapper',
      properties: { step: { type: 'string' }, error: { type: 'string' }, at: { type: 'string' }, choices: { type: 'array', items: { type: 'string' } } },
    },
    failure: { type: 'string' },
  },
};

/** CSV cells are quoted always, and a leading = + - @ is defused so a spreadsheet does not run it as a formula. */
function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return `"${(/^[=+\-@]/.test(s) ? "'" + s : s).replace(/"/g, '""')}"`;
}

type CutoverStartBody = Pick<CutoverInput, 'mode' | 'migration' | 'verification' | 'plannedMinutes' | 'maintenanceWindow' | 'gates'> & { runId?: string };

export const cutoverKind: RunKind<CutoverState, CutoverStartBody> = {
  kind: 'cutover',
  workflowType: 'cutover',
  idPrefix: 'cutover-',
  collection: 'cutovers',
  title: '割接 Cutover',
  start: {
    roles: ['operator'],
    bodySchema: {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: {
        mode: { type: 'string', enum: ['rehearsal', 'live'], description: '彩排 rehearsal or 正式 live' },
        runId: { type: 'string', pattern: `^${ID_SUFFIX_PATTERN}$`, description: '运行编号 optional run id; the workflow id is cutover-<runId>' },
        migration: {
          type: 'object',
          additionalProperties: false,
          description: '迁移参数 engine tuning',
          properties: {
            rowsPerChunk: { type: 'integer', minimum: 1000, maximum: 10000000 },
            concurrency: { type: 'integer', minimum: 1, maximum: 32, description: 'chunks of one table copied at once' },
            tablesInParallel: { type: 'integer', minimum: 1, maximum: 16, description: 'tables loaded side by side where the load order allows' },
            heartbeatSeconds: { type: 'integer', minimum: 5, maximum: 3600 },
          },
        },
        verification: {
          type: 'object',
          additionalProperties: false,
          description: '迁移结果验证 verify-step options',
          properties: verificationOptionProperties,
        },
        plannedMinutes: {
          type: 'object',
          description: '彩排 planned minutes per step',
          additionalProperties: false,
          properties: Object.fromEntries(STEP_KEYS.map((k) => [k, { type: 'number', minimum: 0, maximum: 10000 }])),
        },
        maintenanceWindow: {
          type: 'object',
          additionalProperties: false,
          required: ['start', 'end'],
          description: '维护窗口 the maintenance window (ISO times)',
          properties: { start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' } },
        },
        gates: {
          type: 'object',
          additionalProperties: false,
          description: '审批关口 gate overrides: more approvals, other roles, escalation time',
          properties: Object.fromEntries(
            GATES.map((g) => [
              g,
              {
                type: 'object',
                additionalProperties: false,
                properties: {
                  approvals: { type: 'integer', minimum: 1, maximum: 5 },
                  // Only roles that can decide at all; the workflow still applies four-eyes.
                  roles: { type: 'array', minItems: 1, items: { type: 'string', enum: ['approver', 'admin'] } },
                  escalateAfterMinutes: { type: 'number', minimum: 0.01, maximum: 10080 },
                },
              },
            ]),
          ),
        },
      },
    },
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
  stateSchema,
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
