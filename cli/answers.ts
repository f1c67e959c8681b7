import type { CancelAnswer, GateDecisionAnswer, PendingApprovals, PlanItemAnswer, RunList, RunSummary, StartedAnswer, StepChoiceAnswer } from '../api/contracts';
import type { CutoverStartBody } from '../api/kinds/cutover';
import type { FallbackStartBody } from '../api/kinds/fallback';
import type { PlanStartBody } from '../api/kinds/plan';
import type { VerificationStartBody } from '../api/kinds/verification';
import type { PlanSignOffBody } from '../api/routes/plan';
import type { TokenList } from '../api/routes/admin-tokens';
import type { CorrectionSetList, CorrectionSetView } from '../api/routes/remediation';
import type { RunView } from '../api/routes/runs/state';
import type { TokenRecord } from '../lib/runbook-db';
import type { DataQualityRow } from '../migration/data-quality';
import type { StepState } from '../workflows/cutover-messages';

/**
 * 接口应答 The API's answers as the CLI reads them (type only: nothing here runs). Where the API defines an answer
 * once (api/contracts.ts, the zod schemas its routes document) or has a type for it, it is that; the others are the
 * fields of the route's documented response the CLI prints.
 */
export type { CorrectionSetList, CorrectionSetView, PendingApprovals, RunList, RunSummary, TokenList, TokenRecord };

/** 请求 What the CLI sends, inferred from the zod shapes the routes validate with: each kind's start body, a plan item's sign-off. */
export type { CutoverStartBody, FallbackStartBody, PlanSignOffBody, PlanStartBody, VerificationStartBody };

/** 201 of POST /<collection> (api/routes/runs/start.ts) */
export type Started = StartedAnswer;

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


/** 202 of POST …/gates/:gate/decision (api/routes/runs/gates.ts) */
export type GateDecisionSent = GateDecisionAnswer;

/** 202 of POST …/steps/:step/action (api/routes/runs/steps.ts) */
export type StepChoiceSent = StepChoiceAnswer;

/** 202 of POST …/cancel (api/routes/runs/cancel.ts) */
export type CancelRequested = CancelAnswer;

/** 202 of POST /plans/:workflowId/items/:itemId/signoff (api/routes/plan.ts) */
export type ItemSignedOff = PlanItemAnswer;

/** 201 of POST /remediation/corrections: the stored sheet and the held rows it reloads (api/routes/remediation.ts) */
export type CorrectionSetStored = CorrectionSetView & { rows: number };


/** GET /remediation/held (JSON) */
export interface HeldRows {
  rows: DataQualityRow[];
}


/** 201 of POST /admin/tokens: the record and, this once, the secret */
export type IssuedToken = TokenRecord & { token: string };
