import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import type { LegacyReadOnly } from '../activities/legacy-lock';
import type { MemoryDbFlush, MemoryDbOutcome } from '../activities/memory-db';
import type { SignedDecision } from '../lib/decision-signing';
import { cutoverState, decisionRecord, targetLeaseRecord } from './cutover-messages';

/**
 * 回退 The fallback's contract with the outside world: input, state, and the signed choice a person
 * makes when one of its steps failed (retry the step, or abort the fallback). zod shapes, types inferred; the API's
 * schemas are generated from them (api/kinds/fallback.ts).
 */
export const FALLBACK_STEP_KEYS = ['stop-new', 'legacy-data', 'start-legacy', 'endpoints', 'smoke', 'report'] as const;
export type FallbackStepKey = (typeof FALLBACK_STEP_KEYS)[number];

export const FALLBACK_STEPS: { key: FallbackStepKey; title: string }[] = [
  { key: 'stop-new', title: '1 关停国产化系统 Stop the new system’s services' },
  { key: 'legacy-data', title: '2 旧库数据核查与恢复 Check the legacy data against the backup, restore if modified' },
  { key: 'start-legacy', title: '3 启动旧系统 Start the legacy services' },
  { key: 'endpoints', title: '4 对接系统检查与切回 Check connected systems, switch back to legacy' },
  { key: 'smoke', title: '5 旧系统功能测试 Legacy smoke tests' },
  { key: 'report', title: '6 失败原因分析 Failure-analysis report' },
];

export const fallbackInput = z.object({
  runId: z.string(),
  /** the cutover that fell back, when started from one */
  cutoverWorkflowId: z.string().optional(),
  /** how a fallback started by hand knows its cutover: named by the operator (must exist), or the run id's cutover (may not exist) */
  cutoverLookup: z.enum(['given', 'by-run-id']).optional(),
  requestedBy: z.string(),
  /** the API's signature of the start (a fallback started by hand); a cutover's fallback child needs none */
  start: z.custom<SignedDecision<'start'>>().optional(),
  reason: z.string(),
  /** the cutover's state when it fell back; the report reads what failed, when, and the decisions from its history too */
  cutover: cutoverState.optional(),
});
export type FallbackInput = z.infer<typeof fallbackInput>;

export const FALLBACK_STEP_STATUSES = ['pending', 'running', 'done', 'failed'] as const;

export const fallbackStepState = z.object({
  key: z.enum(FALLBACK_STEP_KEYS),
  title: z.string(),
  status: z.enum(FALLBACK_STEP_STATUSES),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  detail: z.string().optional(),
  error: z.string().optional(),
});
export type FallbackStepState = z.infer<typeof fallbackStepState>;

export const FALLBACK_STATUSES = ['running', 'waiting_operator', 'completed', 'aborted'] as const;

export const fallbackState = z.object({
  runId: z.string().describe('the run fallen back from; its legacy backup is the reference'),
  status: z.enum(FALLBACK_STATUSES),
  reason: z.string(),
  steps: z.array(fallbackStepState),
  decisions: z.array(decisionRecord),
  pendingFailure: z.object({ step: z.enum(FALLBACK_STEP_KEYS), error: z.string(), at: z.string() }).optional(),
  /** 内存数据库 the application's keys deleted once the new system stopped, before the legacy services start */
  memoryDbFlush: z.custom<MemoryDbOutcome<MemoryDbFlush>>().optional(),
  /** 旧库恢复可写 the application's write privileges granted back before the legacy services start */
  legacyWritable: z.custom<LegacyReadOnly>().optional(),
  legacyModified: z.array(z.string()).optional(),
  legacyProof: z.array(z.object({ table: z.string(), rows: z.number().int(), sha256: z.string(), ok: z.boolean() })).optional(),
  switchedBack: z.array(z.object({ id: z.string(), from: z.string(), to: z.string(), changed: z.boolean(), verifiedBy: z.string() })).optional(),
  smoke: z.array(z.object({ name: z.string(), ok: z.boolean(), status: z.number().int().optional(), error: z.string().optional() })).optional(),
  report: z.object({ markdown: z.string(), json: z.string() }).optional(),
  /** 目标库租约 its own lease on the target, or its parent cutover's, shared */
  targetLease: targetLeaseRecord.optional(),
});
export type FallbackState = z.infer<typeof fallbackState>;

export type FallbackChoice = 'retry' | 'abort';
/** Signed by the API; its gate field names the failed step ("fallback:<step>"). */
export const fallbackActionSignal = defineSignal<[SignedDecision<FallbackChoice>]>('fallbackAction');
export const fallbackStateQuery = defineQuery<FallbackState>('state');
