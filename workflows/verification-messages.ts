import { defineQuery } from '@temporalio/workflow';

/** The verification workflow's contract with the API and the cutover; no workflow code imported by clients. */
export interface VerificationInput {
  runId: string;
  /** tables to verify; default all mapped tables */
  tables?: string[];
  /** rows per key-range segment (one activity each) */
  segmentRows?: number;
  /** segments verified at once */
  concurrency?: number;
  /** 抽样: entities per entity type and the seed that makes the draw reproducible */
  sample?: { perType?: number; seed?: string };
  /** 业务测试: how many sampled entities get a change and a cancellation; 0 = none */
  businessTests?: { entities?: number };
  /** "Step 4/5" when run inside the cutover, for activity summaries */
  stepLabel?: string;
  requestedBy?: string;
}

export type VerificationVerdict = 'passed' | 'failed' | 'incomplete';

export interface VerificationOutcome {
  runId: string;
  verdict: VerificationVerdict;
  reasons: string[];
  counts: { table: string; source: number; loaded: number; quarantined: number; ok: boolean }[];
  segments: number;
  failedSegments: number;
  rowsVerified: number;
  sampled: number;
  sampleFailures: number;
  /** 按照主体类型随机定量抽取: the sampled entities that compared equal, one entity type after another (round-robin), for the cutover's business tests */
  sampleForBusinessTests?: string[];
  businessCases: number;
  businessFailures: number;
  reportFiles: { json: string; markdown: string };
  /** the Markdown report itself (capped), so the API can serve it without the worker's disk */
  markdown: string;
}

export interface VerificationProgress {
  runId: string;
  phase: 'plan' | 'counts' | 'content' | 'sampling' | 'business-tests' | 'report' | 'finished';
  segments: number;
  segmentsDone: number;
  segmentsFailed: number;
}

export const verificationProgressQuery = defineQuery<VerificationProgress>('progress');
