import { VerificationInput, VerificationOutcome, VerificationProgress, verificationProgressQuery, VerificationVerdict } from '../../workflows/verification-messages';
import { generatedRunId, RunKind } from '../run-kinds';
import { ID_SUFFIX_PATTERN, verificationOptionProperties } from '../schemas';
import { verificationReport } from './report-files';

/**
 * 迁移结果验证 a verification run on its own (workflows/verification.ts): counts, checksums, samples and
 * business tests over the worker's legacy/target pair. Its progress while it runs; its verdict and
 * figures once it completed (the report itself is a download).
 */
export type VerificationState = VerificationProgress & { verdict?: VerificationVerdict; result?: Omit<VerificationOutcome, 'markdown'> };

type VerificationStartBody = Omit<VerificationInput, 'runId' | 'stepLabel' | 'requestedBy'> & { runId?: string };

const PHASES = ['plan', 'counts', 'content', 'sampling', 'business-tests', 'report', 'finished'];

export const verificationKind: RunKind<VerificationState, VerificationStartBody> = {
  kind: 'verification',
  workflowType: 'verification',
  idPrefix: 'verification-',
  collection: 'verifications',
  title: '验证 Verification',
  start: {
    roles: ['operator'],
    bodySchema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        runId: { type: 'string', pattern: `^${ID_SUFFIX_PATTERN}$`, description: '运行编号 optional run id; the workflow id is verification-<runId>' },
        tables: { type: 'array', items: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$' }, maxItems: 64, description: '表 tables; default all' },
        ...verificationOptionProperties,
      },
    },
    plan(body, actor) {
      const runId = body.runId ?? generatedRunId('verify');
      const input: VerificationInput = { ...body, runId, requestedBy: actor.name };
      return { runId, args: [input], summary: `迁移结果验证 Verification ${runId} · started by ${actor.name}`, phase: 'verify' };
    },
  },
  stateQuery: verificationProgressQuery,
  stateFromResult: (outcome) => {
    const { markdown: _markdown, ...result } = outcome as VerificationOutcome;
    return { runId: result.runId, phase: 'finished', segments: result.segments, segmentsDone: result.segments, segmentsFailed: result.failedSegments, verdict: result.verdict, result };
  },
  stateSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['runId', 'phase', 'segments', 'segmentsDone', 'segmentsFailed'],
    properties: {
      runId: { type: 'string' },
      phase: { type: 'string', enum: PHASES },
      segments: { type: 'integer' },
      segmentsDone: { type: 'integer' },
      segmentsFailed: { type: 'integer' },
      verdict: { type: 'string', enum: ['passed', 'failed', 'incomplete'], description: '结论 once completed' },
      result: { type: 'object', additionalProperties: true, description: '结果 counts, segments, samples and business tests, once completed' },
    },
  },
  statuses: ['running', 'passed', 'failed', 'incomplete'],
  gates: [],
  openGates: () => [],
  progress: (state) => ({ done: state.segmentsDone, total: state.segments, current: state.phase }),
  reports: verificationReport<VerificationState>((state) => Boolean(state.result)),
};
