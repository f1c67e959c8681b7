import type { CorrectionSetView } from '../api/routes/remediation';
import type { PendingApprovals } from '../api/routes/runs/approvals';
import type { RunSummary } from '../api/routes/runs/context';
import type { RunView } from '../api/routes/runs/state';
import type { TokenRecord } from '../lib/runbook-db';
import type { DataQualityRow } from '../migration/data-quality';
import type { StepState } from '../workflows/cutover-messages';

/**
 * 接口应答 The API's answers as the CLI reads them (type only: nothing here runs). Where the API has a type for an
 * answer it is that type; the others are the fields of the route's documented response the CLI prints.
 */
export type { CorrectionSetView, PendingApprovals, RunSummary, TokenRecord };

/** 201 of POST /<collection> (api/routes/runs/start.ts) */
export interface Started {
  workflowId: string;
  runId: string;
  ui: string;
  href: string;
}

/**
 * GET /<collection>/:workflowId of any kind (api/routes/runs/state.ts), as `status` prints it: every kind publishes a
 * status or a phase (a verification a verdict at the end); cutover and fallback have steps and a pending failure.
 */
export type RunStatus = RunView<{
  status?: string;
  verdict?: string;
  phase?: string;
  requestedBy?: string;
  steps?: Pick<StepState, 'status' | 'title' | 'detail' | 'error'>[];
  pendingFailure?: { step: string; choices: readonly string[] };
  failure?: string;
}>;

/** GET /runs (api/routes/runs/list.ts) */
export interface RunList {
  runs: RunSummary[];
  nextPageToken?: string;
}

/** 202 of POST …/gates/:gate/decision (api/routes/runs/gates.ts) */
export interface GateDecisionSent {
  workflowId: string;
  gate: string;
  decision: string;
  decidedBy: string;
  status: string;
  requestId: string;
  ui: string;
}

/** 202 of POST …/steps/:step/action (api/routes/runs/steps.ts) */
export interface StepChoiceSent {
  workflowId: string;
  step: string;
  action: string;
  status: string;
  ui: string;
}

/** 202 of POST …/cancel (api/routes/runs/cancel.ts) */
export interface CancelRequested {
  workflowId: string;
  status: string;
  ui: string;
}

/** 202 of POST /plans/:workflowId/items/:itemId/signoff (api/routes/plan.ts) */
export interface ItemSignedOff {
  workflowId: string;
  itemId: string;
  status: string;
  ui: string;
}

/** 201 of POST /remediation/corrections: the stored sheet and the held rows it reloads (api/routes/remediation.ts) */
export type CorrectionSetStored = CorrectionSetView & { rows: number };

/** GET /remediation/corrections */
export interface CorrectionSetList {
  sheets: CorrectionSetView[];
}

/** GET /remediation/held (JSON) */
export interface HeldRows {
  rows: DataQualityRow[];
}

/** GET /admin/tokens */
export interface TokenList {
  tokens: TokenRecord[];
}

/** 201 of POST /admin/tokens: the record and, this once, the secret */
export type IssuedToken = TokenRecord & { token: string };
