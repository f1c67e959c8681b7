import { defineQuery } from '@temporalio/workflow';
import type { SignedDecision } from '../lib/decision-signing';
import { z } from 'zod';
import { rowPath, type RowPath } from '../migration/row-path';
import { targetLeaseRecord } from './cutover-messages';

/**
 * 问题数据整改 The remediation run's contract: which approved corrections sheet it applies, what it did with
 * each row (loaded, with the children that followed; or still held and why), and the reconciliation of
 * those keys afterwards. zod shapes, types inferred; the API's schemas are generated from them (api/kinds/remediation.ts).
 */
export const remediationInput = z.object({
  runId: z.string(),
  /** the corrections sheet (migration/correction-ledger.ts) to apply; it must be approved by someone other than its uploader */
  correctionSet: z.string(),
  requestedBy: z.string(),
  /** the API's signature of the start, naming its initiator */
  start: z.custom<SignedDecision<'start'>>().optional(),
});
export type RemediationInput = z.infer<typeof remediationInput>;

export const REMEDIATION_PHASES = ['admit', 'reload', 'reconcile', 'report', 'finished'] as const;
export type RemediationPhase = (typeof REMEDIATION_PHASES)[number];
export const REMEDIATION_STATUSES = ['running', 'completed', 'incomplete', 'refused', 'failed'] as const;
export type RemediationStatus = (typeof REMEDIATION_STATUSES)[number];

/** One row's path through the loop: the shape the correction ledger records (correction_outcome). */
export type { RowPath };

export const applyOutcome = z.object({
  /** keys the sheet named (directly or through a code entry), per table; `flagged`: those that loaded flagged, corrected in place, each with the columns its correction may change */
  planned: z.array(z.object({ table: z.string(), keys: z.array(z.string()), flagged: z.array(z.object({ key: z.string(), columns: z.array(z.string()) })).optional() })),
  loaded: z.number().int(),
  followed: z.number().int(),
  stillHeld: z.number().int(),
  /** 已整改 rows that loaded flagged, their corrected columns updated in place (absent in runs from before) */
  updated: z.number().int().optional(),
  /** rows that loaded flagged and keep an open issue after the run */
  stillFlagged: z.number().int().optional(),
  /** the first rows' paths (all of them are in the runbook database, correction_outcome) */
  paths: z.array(rowPath),
});
export type ApplyOutcome = z.infer<typeof applyOutcome>;

export const keyReconciliation = z.object({
  /** the sheet's keys still in quarantine (0 when every correction took) */
  stillQuarantined: z.number().int(),
  /** the sheet's flagged rows keeping an open data-quality issue in a corrected column (each also a problem of its table) */
  stillFlagged: z.number().int().optional(),
  /** the sheet's keys in the target now */
  inTarget: z.number().int(),
  /** 对账 per touched table: legacy = loaded + quarantined, nothing loaded twice */
  tables: z.array(z.object({ table: z.string(), source: z.number().int(), loaded: z.number().int(), quarantined: z.number().int(), problems: z.array(z.string()) })),
});
export type KeyReconciliation = z.infer<typeof keyReconciliation>;

export const remediationState = z.object({
  runId: z.string(),
  correctionSet: z.string(),
  requestedBy: z.string(),
  status: z.enum(REMEDIATION_STATUSES),
  phase: z.enum(REMEDIATION_PHASES),
  /** who uploaded and who approved the sheet, once admitted */
  sheet: z
    .object({ uploadedBy: z.string(), approvedBy: z.string(), corrections: z.number().int(), codeMappings: z.number().int(), reason: z.string() })
    .describe('整改单 who uploaded and who approved it')
    .optional(),
  refusal: z.string().describe('拒绝 why the run applied nothing (unsigned start, target held, sheet not approved by a second person)').optional(),
  error: z.string().optional(),
  outcome: applyOutcome.describe('重载 rows loaded, children followed, rows still held, and their paths').optional(),
  reconciliation: keyReconciliation.describe('对账 the sheet keys left in quarantine; legacy = loaded + quarantined per touched table').optional(),
  report: z.object({ markdown: z.string(), json: z.string() }).optional(),
  targetLease: targetLeaseRecord.optional(),
});
export type RemediationState = z.infer<typeof remediationState>;

export const remediationStateQuery = defineQuery<RemediationState>('state');
