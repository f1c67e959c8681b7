import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { LegacyReadOnly } from '../activities/legacy-lock';
import type { MemoryDbFlush, MemoryDbOutcome } from '../activities/memory-db';
import type { SignedDecision } from '../lib/decision-signing';
import type { CutoverState, DecisionRecord, TargetLeaseRecord } from './cutover-messages';

/**
 * 回退 The fallback's contract with the outside world: input, state, and the signed choice a person
 * makes when one of its steps failed (retry the step, or abort the fallback).
 */
export type FallbackStepKey = 'stop-new' | 'legacy-data' | 'start-legacy' | 'endpoints' | 'smoke' | 'report';

export const FALLBACK_STEPS: { key: FallbackStepKey; title: string }[] = [
  { key: 'stop-new', title: '1 关停国产化系统 Stop the new system’s services' },
  { key: 'legacy-data', title: '2 旧库数据核查与恢复 Check the legacy data against the backup, restore if modified' },
  { key: 'start-legacy', title: '3 启动旧系统 Start the legacy services' },
  { key: 'endpoints', title: '4 对接系统检查与切回 Check connected systems, switch back to legacy' },
  { key: 'smoke', title: '5 旧系统功能测试 Legacy smoke tests' },
  { key: 'report', title: '6 失败原因分析 Failure-analysis report' },
];

export interface FallbackInput {
  runId: string;
  /** the cutover that fell back, when started from one */
  cutoverWorkflowId?: string;
  /** how a fallback started by hand knows its cutover: named by the operator (must exist), or the run id's cutover (may not exist) */
  cutoverLookup?: 'given' | 'by-run-id';
  requestedBy: string;
  /** the API's signature of the start (a fallback started by hand); a cutover's fallback child needs none */
  start?: SignedDecision<'start'>;
  reason: string;
  /** the cutover's state when it fell back; the report reads what failed, when, and the decisions from its history too */
  cutover?: CutoverState;
}

export interface FallbackStepState {
  key: FallbackStepKey;
  title: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  startedAt?: string;
  finishedAt?: string;
  detail?: string;
  error?: string;
}

export interface FallbackState {
  runId: string;
  status: 'running' | 'waiting_operator' | 'completed' | 'aborted';
  reason: string;
  steps: FallbackStepState[];
  decisions: DecisionRecord[];
  pendingFailure?: { step: FallbackStepKey; error: string; at: string };
  /** 内存数据库 the application's keys deleted once the new system stopped, before the legacy services start */
  memoryDbFlush?: MemoryDbOutcome<MemoryDbFlush>;
  /** 旧库恢复可写 the application's write privileges granted back before the legacy services start */
  legacyWritable?: LegacyReadOnly;
  legacyModified?: string[];
  legacyProof?: { table: string; rows: number; sha256: string; ok: boolean }[];
  switchedBack?: { id: string; from: string; to: string; changed: boolean; verifiedBy: string }[];
  smoke?: { name: string; ok: boolean; status?: number; error?: string }[];
  report?: { markdown: string; json: string };
  /** 目标库租约 its own lease on the target, or its parent cutover's, shared */
  targetLease?: TargetLeaseRecord;
}

export type FallbackChoice = 'retry' | 'abort';
/** Signed by the API; its gate field names the failed step ("fallback:<step>"). */
export const fallbackActionSignal = defineSignal<[SignedDecision<FallbackChoice>]>('fallbackAction');
export const fallbackStateQuery = defineQuery<FallbackState>('state');
