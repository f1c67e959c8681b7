import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SignedDecision } from '../lib/decision-signing';
import type { PreflightReport } from '../migration/preflight';
import type { LegacyArchive } from '../activities/legacy-archive';
import type { LegacyReadOnly, LegacyShutdown } from '../activities/legacy-lock';
import type { MemoryDbCheck, MemoryDbFlush, MemoryDbOutcome, MemoryDbWarm } from '../activities/memory-db';
import type { BusinessTestResult } from '../verification/business-tests';
import type { GateName, StepKey, StepRecord } from './cutover-steps';
import type { VerificationInput, VerificationOutcome } from './verification-messages';

/**
 * The cutover's contract with the outside world (API, CLI, tests): its input, the state it reports,
 * and the gate decision it accepts. Kept apart from the workflow so clients import no workflow code.
 */
export type RunMode = 'rehearsal' | 'live';

export interface CutoverInput {
  runId: string;
  mode: RunMode;
  /** engine tuning; defaults suit the 2-core reference machine */
  migration?: { rowsPerChunk?: number; concurrency?: number; tablesInParallel?: number; heartbeatSeconds?: number };
  /** user name of the operator who started the run; may not approve its own go/no-go gate (four-eyes) */
  requestedBy: string;
  /** the API's signature of the start, naming requestedBy: a run started around the API refuses to run (child runs of a plan excepted) */
  start?: SignedDecision<'start'>;
  /** 迁移结果验证 options for the verify step (workflows/verification.ts) */
  verification?: Pick<VerificationInput, 'segmentRows' | 'concurrency' | 'sample' | 'businessTests'>;
  /** 彩排 planned minutes per step, to compare with the actual durations and project the finish */
  plannedMinutes?: Partial<Record<StepKey, number>>;
  /** the maintenance window (a weekend), ISO times; the projection says whether the run fits it */
  maintenanceWindow?: { start: string; end: string };
  /** per-gate overrides of the defaults in GATE_DEFINITIONS (more approvals, other roles, other escalation time) */
  gates?: Partial<Record<GateName, Partial<Omit<GateDefinition, 'name' | 'title'>>>>;
}

/** 目标库租约 what a run's state says of its lease on the target database. */
export interface TargetLeaseRecord {
  targetKey: string;
  how: 'taken' | 'already held' | 'shared with parent' | 'recovered' | 'target unreachable';
  /** the run that held it and was found ended without releasing it (terminated, timed out) */
  recoveredFrom?: { workflowId: string; runId: string; execution: string };
  released?: string;
}

// The step table (keys, numbering, titles, choices, icons) is data of its own: workflows/cutover-steps.ts.
export { GATES, STEP_KEYS, STEP_STATUSES } from './cutover-steps';
export type { GateName, StepKey, StepStatus } from './cutover-steps';

export interface StepState extends StepRecord<StepKey> {
  title: string;
}

/** 审批关口 Who may decide a gate, how many distinct approvals open it, and when it escalates. */
export interface GateDefinition {
  name: GateName;
  title: string;
  roles: string[];
  approvals: number;
  escalateAfterMinutes: number;
}

export const GATE_DEFINITIONS: Record<GateName, GateDefinition> = {
  wipe: { name: 'wipe', title: '清除测试数据审批 Approve wiping the target', roles: ['approver', 'admin'], approvals: 1, escalateAfterMinutes: 30 },
  'go-no-go': { name: 'go-no-go', title: '上线决策 Go/no-go approval', roles: ['approver', 'admin'], approvals: 1, escalateAfterMinutes: 60 },
  switch: { name: 'switch', title: '切换审批 Approve switching the connected systems', roles: ['approver', 'admin'], approvals: 1, escalateAfterMinutes: 30 },
};

/** What the operator may choose when a step failed after its retries. */
export type OperatorChoice = 'retry' | 'skip' | 'continue' | 'fallback';

/** What the workflow keeps of every decision it received, accepted or not (the signature is dropped). */
export interface DecisionRecord {
  gate: string;
  decision: 'approve' | 'reject';
  actor: string;
  role?: string;
  reason?: string;
  at: string;
  accepted: boolean;
  /** why a decision was not accepted (unsigned or forged, wrong gate state, four-eyes rule …) */
  refusal?: string;
}

export interface GateState extends GateDefinition {
  /** cancelled: the run was cancelled while the gate waited (or before it opened) */
  status: 'waiting' | 'open' | 'approved' | 'rejected' | 'cancelled';
  /** accepted approvals so far (distinct people) */
  approvedBy: { actor: string; role?: string; at: string; reason?: string }[];
  openedAt?: string;
  escalations: number;
  /** the approver whose decision closed the gate */
  decidedBy?: string;
  decidedAt?: string;
  reason?: string;
  /** what the approvers must know before deciding, e.g. at go/no-go the entities that would be missing (主体缺失) */
  note?: string;
}

export const RUN_STATUSES = ['running', 'waiting_approval', 'waiting_operator', 'completed', 'rejected', 'failed', 'fell_back', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface TableOutcome {
  table: string;
  chunks: number;
  /** chunks the target refused on the fast path, reloaded in bisected batches */
  carefulChunks: number;
  rowsRead: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  quarantinedByRule: Record<string, number>;
  /** 问题数据 rows loaded flagged (anomaly-policy.ts), per rule; each is a data-quality issue in the target's migration_data_quality */
  flaggedByRule?: Record<string, number>;
  durationMs: number;
  countsReconciled?: boolean;
}

export interface CutoverState {
  runId: string;
  mode: RunMode;
  requestedBy: string;
  status: RunStatus;
  phase: StepKey | 'finished';
  steps: StepState[];
  gates: GateState[];
  decisions: DecisionRecord[];
  tables: TableOutcome[];
  /** 预检 the mapping against the live legacy and target catalogs: errors stop the run before anything moves */
  preflight?: PreflightReport;
  /** readPoint: the run's legacy read point (Oracle SCN) the backup, the migration and the verification read at */
  backup?: { dir: string; files: number; rows: number; readPoint?: string | null };
  /** 关停旧系统 the legacy services stopped and the proof that nothing writes to the legacy database */
  legacyShutdown?: LegacyShutdown;
  /** 只可查询 the legacy database made read-only for the application after the backup, with the refused write */
  legacyReadOnly?: LegacyReadOnly;
  /** 查询库 the backup restored read-only for staff to query, proven against the manifest */
  legacyArchive?: LegacyArchive;
  /** 内存数据库 the in-memory database: its check, the flushes (after the migration, after the rollback) and the warm-up */
  memoryDb?: {
    check?: MemoryDbOutcome<MemoryDbCheck>;
    flushes: { after: 'migration' | 'rollback'; result: MemoryDbOutcome<MemoryDbFlush> }[];
    warm?: MemoryDbOutcome<MemoryDbWarm>;
  };
  /** the verify step's outcome, without the Markdown (served by the verification run itself) */
  verification?: Omit<VerificationOutcome, 'markdown'> & { workflowId: string };
  failure?: string;
  /** 目标库租约 the lease on the target this run holds (workflows/kit/target-lease.ts), and its release at the end */
  targetLease?: TargetLeaseRecord;
  /** a step that failed after its retries and waits for the operator's choice */
  pendingFailure?: { step: StepKey | 'fallback'; error: string; at: string; choices: OperatorChoice[] };
  operatorActions: DecisionRecord[];
  wiped?: { table: string; rows: number }[];
  snapshot?: string;
  /** 业务测试 the change (变更) and cancellation (注销) made on the snapshotted target, undone by the rollback */
  businessTests?: BusinessTestResult | { skipped: string };
  /** 回滚验证 the target's checksums before the business tests and after the rollback */
  rollbackProof?: { equal: boolean; before: { table: string; rows: number; md5: string }[]; after: { table: string; rows: number; md5: string }[] };
  addressChecks?: { id: string; url: string; ok: boolean; status?: number; error?: string }[];
  switched?: { id: string; driver: string; from: string; to: string; changed: boolean; verifiedBy: string }[];
  /** 彩排 the maintenance window the run was planned for (input), and the projected finish against it, updated after every step */
  maintenanceWindow?: { start: string; end: string };
  projection?: { at: string; projectedFinish: string; windowEnd?: string; fitsWindow?: boolean; plannedRemainingMinutes: number };
  fallback?: { workflowId: string; status: string; report?: { markdown: string; json: string } };
  evidence?: { markdown: string; json: string };
}

/** A gate decision, signed by the API; the workflow has the worker check the signature before it counts. */
export const decideGateSignal = defineSignal<[SignedDecision]>('decideGate');
/** The operator's choice for a failed step, signed by the API like gate decisions; its gate field is "step:<key>". */
export const operatorActionSignal = defineSignal<[SignedDecision<OperatorChoice>]>('operatorAction');
export const cutoverStateQuery = defineQuery<CutoverState>('state');
