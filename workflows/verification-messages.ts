import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';

/**
 * The verification workflow's contract with the API and the cutover; no workflow code imported by clients.
 * Each shape is a zod schema: its TypeScript type is inferred here, and the API's start body and state schema
 * (api/kinds/verification.ts) are generated from it.
 */

/** 迁移结果验证 options, the same for a cutover's verify step and a verification run of its own. */
export const verificationOptions = z.object({
  /** rows per key-range segment (one activity each) */
  segmentRows: z.number().int().min(100).max(10_000_000).optional(),
  /** segments verified at once */
  concurrency: z.number().int().min(1).max(32).optional(),
  /** 抽样: entities per entity type and the seed that makes the draw reproducible */
  sample: z.strictObject({ perType: z.number().int().min(0).max(1000).optional(), seed: z.string().min(1).max(100).optional() }).describe('抽样 sampling').optional(),
  /** 业务测试: how many sampled entities get a change and a cancellation; 0 = none */
  businessTests: z.strictObject({ entities: z.number().int().min(0).max(100).optional() }).describe('业务测试 business tests (变更, 注销)').optional(),
});

export const verificationInput = verificationOptions.extend({
  runId: z.string(),
  /** tables to verify; default all mapped tables */
  tables: z.array(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/)).max(64).describe('表 tables; default all').optional(),
  /** "Step 4/5" when run inside the cutover, for activity summaries */
  stepLabel: z.string().optional(),
  requestedBy: z.string().optional(),
});
export type VerificationInput = z.infer<typeof verificationInput>;

export const VERIFICATION_VERDICTS = ['passed', 'failed', 'incomplete'] as const;
export type VerificationVerdict = (typeof VERIFICATION_VERDICTS)[number];

export const verificationOutcome = z.object({
  runId: z.string(),
  verdict: z.enum(VERIFICATION_VERDICTS),
  reasons: z.array(z.string()),
  counts: z.array(z.object({ table: z.string(), source: z.number().int(), loaded: z.number().int(), quarantined: z.number().int(), ok: z.boolean() })),
  segments: z.number().int(),
  failedSegments: z.number().int(),
  rowsVerified: z.number().int(),
  sampled: z.number().int(),
  sampleFailures: z.number().int(),
  /** 按照主体类型随机定量抽取: the sampled entities that compared equal, one entity type after another (round-robin), for the cutover's business tests */
  sampleForBusinessTests: z.array(z.string()).optional(),
  businessCases: z.number().int(),
  businessFailures: z.number().int(),
  reportFiles: z.object({ json: z.string(), markdown: z.string() }),
  /** the Markdown report itself (capped), so the API can serve it without the worker's disk */
  markdown: z.string(),
});
export type VerificationOutcome = z.infer<typeof verificationOutcome>;

export const VERIFICATION_PHASES = ['plan', 'counts', 'content', 'sampling', 'business-tests', 'report', 'finished'] as const;

export const verificationProgress = z.object({
  runId: z.string(),
  phase: z.enum(VERIFICATION_PHASES),
  segments: z.number().int(),
  segmentsDone: z.number().int(),
  segmentsFailed: z.number().int(),
});
export type VerificationProgress = z.infer<typeof verificationProgress>;

export const verificationProgressQuery = defineQuery<VerificationProgress>('progress');
