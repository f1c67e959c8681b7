import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SignedDecision } from '../lib/decision-signing';
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
  migration?: { rowsPerChunk?: number; concurrency?: number; heartbeatSeconds?: number };
  /** user name of the operator who started the run; may not approve its own go/no-go gate (four-eyes) */
  requestedBy: string;
  /** 迁移结果验证 options for the verify step (workflows/verification.ts) */
  verification?: Pick<VerificationInput, 'segmentRows' | 'concurrency' | 'sample' | 'businessTests'>;
}

export const STEP_KEYS = ['plan', 'backup', 'migrate', 'verify', 'go-no-go'] as const;
export type StepKey = (typeof STEP_KEYS)[number];
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'rejected' | 'cancelled';

export interface StepState {
  key: StepKey;
  title: string;
  status: StepStatus;
  startedAt?: string;
  finishedAt?: string;
  detail?: string;
}

export const GATES = ['go-no-go'] as const;
export type GateName = (typeof GATES)[number];

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

export interface GateState {
  name: GateName;
  title: string;
  /** cancelled: the run was cancelled while the gate waited (or before it opened) */
  status: 'waiting' | 'open' | 'approved' | 'rejected' | 'cancelled';
  decidedBy?: string;
  decidedAt?: string;
  reason?: string;
}

export const RUN_STATUSES = ['running', 'waiting_approval', 'completed', 'rejected', 'failed', 'cancelled'] as const;
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
  backup?: { dir: string; files: number; rows: number };
  /** the verify step's outcome, without the Markdown (served by the verification run itself) */
  verification?: Omit<VerificationOutcome, 'markdown'> & { workflowId: string };
  failure?: string;
}

/** A gate decision, signed by the API; the workflow has the worker check the signature before it counts. */
export const decideGateSignal = defineSignal<[SignedDecision]>('decideGate');
export const cutoverStateQuery = defineQuery<CutoverState>('state');
