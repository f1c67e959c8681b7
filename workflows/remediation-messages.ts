import { defineQuery } from '@temporalio/workflow';
import type { SignedDecision } from '../lib/decision-signing';
import type { RowPath } from '../migration/correction-ledger';
import type { TargetLeaseRecord } from './cutover-messages';

/**
 * 问题数据整改 The remediation run's contract: which approved corrections sheet it applies, what it did with
 * each row (loaded, with the children that followed; or still held and why), and the reconciliation of
 * those keys afterwards.
 */
export interface RemediationInput {
  runId: string;
  /** the corrections sheet (migration/correction-ledger.ts) to apply; it must be approved by someone other than its uploader */
  correctionSet: string;
  requestedBy: string;
  /** the API's signature of the start, naming its initiator */
  start?: SignedDecision<'start'>;
}

export const REMEDIATION_PHASES = ['admit', 'reload', 'reconcile', 'report', 'finished'] as const;
export type RemediationPhase = (typeof REMEDIATION_PHASES)[number];
export const REMEDIATION_STATUSES = ['running', 'completed', 'incomplete', 'refused', 'failed'] as const;
export type RemediationStatus = (typeof REMEDIATION_STATUSES)[number];

/** One row's path through the loop: the shape the correction ledger records (correction_outcome). */
export type { RowPath };

export interface ApplyOutcome {
  /** keys the sheet named (directly or through a code entry), per table; `flagged`: those that loaded flagged, corrected in place, each with the columns its correction may change */
  planned: { table: string; keys: string[]; flagged?: { key: string; columns: string[] }[] }[];
  loaded: number;
  followed: number;
  stillHeld: number;
  /** 已整改 rows that loaded flagged, their corrected columns updated in place (absent in runs from before) */
  updated?: number;
  /** rows that loaded flagged and keep an open issue after the run */
  stillFlagged?: number;
  /** the first rows' paths (all of them are in the runbook database, correction_outcome) */
  paths: RowPath[];
}

export interface KeyReconciliation {
  /** the sheet's keys still in quarantine (0 when every correction took) */
  stillQuarantined: number;
  /** the sheet's flagged rows keeping an open data-quality issue in a corrected column (each also a problem of its table) */
  stillFlagged?: number;
  /** the sheet's keys in the target now */
  inTarget: number;
  /** 对账 per touched table: legacy = loaded + quarantined, nothing loaded twice */
  tables: { table: string; source: number; loaded: number; quarantined: number; problems: string[] }[];
}

export interface RemediationState {
  runId: string;
  correctionSet: string;
  requestedBy: string;
  status: RemediationStatus;
  phase: RemediationPhase;
  /** who uploaded and who approved the sheet, once admitted */
  sheet?: { uploadedBy: string; approvedBy: string; corrections: number; codeMappings: number; reason: string };
  refusal?: string;
  error?: string;
  outcome?: ApplyOutcome;
  reconciliation?: KeyReconciliation;
  report?: { markdown: string; json: string };
  targetLease?: TargetLeaseRecord;
}

export const remediationStateQuery = defineQuery<RemediationState>('state');
