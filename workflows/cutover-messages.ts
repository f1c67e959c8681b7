import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import type { SignedDecision } from '../lib/decision-signing';
import { preflightReport } from '../migration/preflight-report';
import type { LegacyArchive } from '../activities/legacy-archive';
import type { LegacyReadOnly, LegacyShutdown } from '../activities/legacy-lock';
import type { MemoryDbCheck, MemoryDbFlush, MemoryDbOutcome, MemoryDbWarm } from '../activities/memory-db';
import type { BusinessTestResult } from '../verification/business-tests';
import { GATES, STEP_KEYS, STEP_STATUSES, type GateName, type StepKey } from './cutover-steps';
import { verificationOptions, verificationOutcome } from './verification-messages';

/**
 * The cutover's contract with the outside world (API, CLI, tests): its input, the state it reports,
 * and the gate decision it accepts. Kept apart from the workflow so clients import no workflow code.
 * Each shape is a zod schema, its TypeScript type inferred from it; the API's start body and state schema
 * (api/kinds/cutover.ts) are generated from the same schemas. Parts owned elsewhere (an activity's result) are
 * carried as their own types (`z.custom`).
 */
/** A zod enum of a list of values known to be non-empty (a step table). */
export function oneOf<T extends string>(values: readonly T[]) {
  return z.enum(values as readonly [T, ...T[]]);
}

export const RUN_MODES = ['rehearsal', 'live'] as const;
export type RunMode = (typeof RUN_MODES)[number];

/** 迁移参数 engine tuning; defaults suit the 2-core reference machine */
export const migrationOptions = z.strictObject({
  rowsPerChunk: z.number().int().min(1000).max(10_000_000).optional(),
  concurrency: z.number().int().min(1).max(32).describe('chunks of one table copied at once').optional(),
  tablesInParallel: z.number().int().min(1).max(16).describe('tables loaded side by side where the load order allows').optional(),
  heartbeatSeconds: z.number().int().min(5).max(3600).optional(),
});

/** The people who can decide a gate at all; the workflow still applies four-eyes. */
export const GATE_ROLES = ['approver', 'admin'] as const;

/** 审批关口 Who may decide a gate, how many distinct approvals open it, and when it escalates. */
export const gateDefinition = z.object({
  name: z.enum(GATES),
  title: z.string(),
  roles: z.array(z.string()),
  approvals: z.number().int(),
  escalateAfterMinutes: z.number(),
});
export type GateDefinition = z.infer<typeof gateDefinition>;

/** Per-gate overrides of the defaults in GATE_DEFINITIONS (more approvals, other roles, other escalation time). */
const gateOverride = z.strictObject({
  approvals: z.number().int().min(1).max(5).optional(),
  roles: z.array(z.enum(GATE_ROLES)).min(1).optional(),
  escalateAfterMinutes: z.number().min(0.01).max(10080).optional(),
});

/** 维护窗口 the maintenance window (a weekend), ISO times */
export const maintenanceWindow = z.strictObject({ start: z.string().meta({ format: 'date-time' }), end: z.string().meta({ format: 'date-time' }) });

export const cutoverInput = z.object({
  runId: z.string(),
  mode: z.enum(RUN_MODES).describe('彩排 rehearsal or 正式 live'),
  migration: migrationOptions.describe('迁移参数 engine tuning').optional(),
  /** user name of the operator who started the run; may not approve its own go/no-go gate (four-eyes) */
  requestedBy: z.string(),
  /** the API's signature of the start, naming requestedBy: a run started around the API refuses to run (child runs of a plan excepted) */
  start: z.custom<SignedDecision<'start'>>().optional(),
  /** 迁移结果验证 options for the verify step (workflows/verification.ts) */
  verification: verificationOptions.strict().describe('迁移结果验证 verify-step options').optional(),
  /** 彩排 planned minutes per step, to compare with the actual durations and project the finish */
  plannedMinutes: z.partialRecord(oneOf(STEP_KEYS), z.number().min(0).max(10000)).describe('彩排 planned minutes per step').optional(),
  /** the maintenance window (a weekend), ISO times; the projection says whether the run fits it */
  maintenanceWindow: maintenanceWindow.describe('维护窗口 the maintenance window (ISO times)').optional(),
  /** per-gate overrides of the defaults in GATE_DEFINITIONS (more approvals, other roles, other escalation time) */
  gates: z.partialRecord(z.enum(GATES), gateOverride).describe('审批关口 gate overrides: more approvals, other roles, escalation time').optional(),
});
export type CutoverInput = z.infer<typeof cutoverInput>;

/** 目标库租约 what a run's state says of its lease on the target database. */
export const targetLeaseRecord = z.object({
  targetKey: z.string(),
  how: z.enum(['taken', 'already held', 'shared with parent', 'recovered', 'target unreachable']),
  /** the run that held it and was found ended without releasing it (terminated, timed out) */
  recoveredFrom: z.object({ workflowId: z.string(), runId: z.string(), execution: z.string() }).optional(),
  released: z.string().optional(),
});
export type TargetLeaseRecord = z.infer<typeof targetLeaseRecord>;

// The step table (keys, numbering, titles, choices, icons) is data of its own: workflows/cutover-steps.ts.
export { GATES, STEP_KEYS, STEP_STATUSES } from './cutover-steps';
export type { GateName, StepKey, StepStatus } from './cutover-steps';

/** A step as a run's state shows it (the cutover's StepState; the runbook kit's steps, workflows/kit/runbook.ts), without its key. */
const stepFields = z.object({
  status: z.enum(STEP_STATUSES),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  detail: z.string().optional(),
  /** 彩排 rehearsal bookkeeping: planned minutes (input) and the actual duration */
  plannedMinutes: z.number().optional(),
  actualMs: z.number().optional(),
  /** the last error, when the step failed after its retries */
  error: z.string().optional(),
  /** skip / continue after manual fix: the operator's recorded reason */
  operatorNote: z.string().optional(),
});
export type StepRecord<K extends string = string> = z.infer<typeof stepFields> & { key: K };

/** A run's list of steps with their titles, keyed by its own step table. */
export function stepStates<K extends string>(keys: readonly K[]) {
  return z.array(stepFields.extend({ key: oneOf(keys), title: z.string() }));
}
const cutoverSteps = stepStates(STEP_KEYS);
export type StepState = z.infer<typeof cutoverSteps>[number];

export const GATE_DEFINITIONS: Record<GateName, GateDefinition> = {
  wipe: { name: 'wipe', title: '清除测试数据审批 Approve wiping the target', roles: ['approver', 'admin'], approvals: 1, escalateAfterMinutes: 30 },
  'go-no-go': { name: 'go-no-go', title: '上线决策 Go/no-go approval', roles: ['approver', 'admin'], approvals: 1, escalateAfterMinutes: 60 },
  switch: { name: 'switch', title: '切换审批 Approve switching the connected systems', roles: ['approver', 'admin'], approvals: 1, escalateAfterMinutes: 30 },
};

/** What the operator may choose when a step failed after its retries. */
export const OPERATOR_CHOICES = ['retry', 'skip', 'continue', 'fallback'] as const;
export type OperatorChoice = (typeof OPERATOR_CHOICES)[number];

/** What the workflow keeps of every decision it received, accepted or not (the signature is dropped). */
export const decisionRecord = z.object({
  gate: z.string(),
  decision: z.enum(['approve', 'reject']),
  actor: z.string(),
  role: z.string().optional(),
  reason: z.string().optional(),
  at: z.string(),
  accepted: z.boolean(),
  /** why a decision was not accepted (unsigned or forged, wrong gate state, four-eyes rule …) */
  refusal: z.string().optional(),
});
export type DecisionRecord = z.infer<typeof decisionRecord>;

export const GATE_STATUSES = ['waiting', 'open', 'approved', 'rejected', 'cancelled'] as const;

export const gateState = gateDefinition.extend({
  /** cancelled: the run was cancelled while the gate waited (or before it opened) */
  status: z.enum(GATE_STATUSES),
  /** accepted approvals so far (distinct people) */
  approvedBy: z.array(z.object({ actor: z.string(), role: z.string().optional(), at: z.string(), reason: z.string().optional() })),
  openedAt: z.string().optional(),
  escalations: z.number().int(),
  /** the approver whose decision closed the gate */
  decidedBy: z.string().optional(),
  decidedAt: z.string().optional(),
  reason: z.string().optional(),
  /** what the approvers must know before deciding, e.g. at go/no-go the entities that would be missing (主体缺失) */
  note: z.string().describe('what the approvers must know, e.g. 主体缺失 entities missing at go/no-go').optional(),
});
export type GateState = z.infer<typeof gateState>;

export const RUN_STATUSES = ['running', 'waiting_approval', 'waiting_operator', 'completed', 'rejected', 'failed', 'fell_back', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const tableOutcome = z.object({
  table: z.string(),
  chunks: z.number().int(),
  /** chunks the target refused on the fast path, reloaded in bisected batches */
  carefulChunks: z.number().int(),
  rowsRead: z.number().int(),
  rowsLoaded: z.number().int(),
  rowsQuarantined: z.number().int(),
  quarantinedByRule: z.record(z.string(), z.number().int()),
  /** 问题数据 rows loaded flagged (anomaly-policy.ts), per rule; each is a data-quality issue in the target's migration_data_quality */
  flaggedByRule: z.record(z.string(), z.number().int()).describe('问题数据 rows loaded flagged per rule (a data-quality issue each)').optional(),
  durationMs: z.number().int(),
  countsReconciled: z.boolean().optional(),
});
export type TableOutcome = z.infer<typeof tableOutcome>;

const tableChecksum = z.object({ table: z.string(), rows: z.number().int(), md5: z.string() });

export const cutoverState = z.object({
  runId: z.string(),
  mode: z.enum(RUN_MODES),
  requestedBy: z.string(),
  status: z.enum(RUN_STATUSES),
  phase: oneOf<StepKey | 'finished'>([...STEP_KEYS, 'finished']),
  steps: cutoverSteps,
  gates: z.array(gateState),
  decisions: z.array(decisionRecord),
  tables: z.array(tableOutcome),
  /** 预检 the mapping against the live legacy and target catalogs: errors stop the run before anything moves */
  preflight: preflightReport.describe('预检 the mapping against the live legacy and target catalogs: errors stop the run, warnings do not').optional(),
  /** readPoint: the run's legacy read point (Oracle SCN) the backup, the migration and the verification read at */
  backup: z.object({ dir: z.string(), files: z.number().int(), rows: z.number().int(), readPoint: z.string().nullable().optional() }).optional(),
  /** 关停旧系统 the legacy services stopped and the proof that nothing writes to the legacy database */
  legacyShutdown: z.custom<LegacyShutdown>().optional(),
  /** 只可查询 the legacy database made read-only for the application after the backup, with the refused write */
  legacyReadOnly: z.custom<LegacyReadOnly>().optional(),
  /** 查询库 the backup restored read-only for staff to query, proven against the manifest */
  legacyArchive: z.custom<LegacyArchive>().optional(),
  /** 内存数据库 the in-memory database: its check, the flushes (after the migration, after the rollback) and the warm-up */
  memoryDb: z
    .object({
      check: z.custom<MemoryDbOutcome<MemoryDbCheck>>().optional(),
      flushes: z.array(z.object({ after: z.enum(['migration', 'rollback']), result: z.custom<MemoryDbOutcome<MemoryDbFlush>>() })),
      warm: z.custom<MemoryDbOutcome<MemoryDbWarm>>().optional(),
    })
    .optional(),
  /** the verify step's outcome, without the Markdown (served by the verification run itself) */
  verification: verificationOutcome.omit({ markdown: true }).extend({ workflowId: z.string() }).optional(),
  failure: z.string().optional(),
  /** 目标库租约 the lease on the target this run holds (workflows/kit/target-lease.ts), and its release at the end */
  targetLease: targetLeaseRecord.optional(),
  /** a step that failed after its retries and waits for the operator's choice */
  pendingFailure: z
    .object({ step: oneOf<StepKey | 'fallback'>([...STEP_KEYS, 'fallback']), error: z.string(), at: z.string(), choices: z.array(z.enum(OPERATOR_CHOICES)) })
    .describe('a step that failed after its retries and waits for the operator: its root cause, not the wrapper')
    .optional(),
  operatorActions: z.array(decisionRecord),
  wiped: z.array(z.object({ table: z.string(), rows: z.number().int() })).optional(),
  snapshot: z.string().optional(),
  /** 业务测试 the change (变更) and cancellation (注销) made on the snapshotted target, undone by the rollback */
  businessTests: z.custom<BusinessTestResult | { skipped: string }>().optional(),
  /** 回滚验证 the target's checksums before the business tests and after the rollback */
  rollbackProof: z.object({ equal: z.boolean(), before: z.array(tableChecksum), after: z.array(tableChecksum) }).optional(),
  addressChecks: z.array(z.object({ id: z.string(), url: z.string(), ok: z.boolean(), status: z.number().int().optional(), error: z.string().optional() })).optional(),
  switched: z.array(z.object({ id: z.string(), driver: z.string(), from: z.string(), to: z.string(), changed: z.boolean(), verifiedBy: z.string() })).optional(),
  /** 彩排 the maintenance window the run was planned for (input), and the projected finish against it, updated after every step */
  maintenanceWindow: z.object({ start: z.string(), end: z.string() }).optional(),
  projection: z
    .object({ at: z.string(), projectedFinish: z.string(), windowEnd: z.string().optional(), fitsWindow: z.boolean().optional(), plannedRemainingMinutes: z.number() })
    .optional(),
  fallback: z.object({ workflowId: z.string(), status: z.string(), report: z.object({ markdown: z.string(), json: z.string() }).optional() }).optional(),
  evidence: z.object({ markdown: z.string(), json: z.string() }).optional(),
});
export type CutoverState = z.infer<typeof cutoverState>;

/** A gate decision, signed by the API; the workflow has the worker check the signature before it counts. */
export const decideGateSignal = defineSignal<[SignedDecision]>('decideGate');
/** The operator's choice for a failed step, signed by the API like gate decisions; its gate field is "step:<key>". */
export const operatorActionSignal = defineSignal<[SignedDecision<OperatorChoice>]>('operatorAction');
export const cutoverStateQuery = defineQuery<CutoverState>('state');
