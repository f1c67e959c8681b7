import { z } from 'zod';
import { VERIFICATION_VERDICTS, VerificationInput, verificationInput, VerificationOutcome, verificationOutcome, verificationProgress, verificationProgressQuery } from '../../workflows/verification-messages';
import { bodySchemaOf, stateSchemaOf } from '../contracts';
import { generatedRunId, RunKind } from '../run-kinds';
import { runIdField } from '../schemas';
import { verificationReport } from './report-files';

/**
 * 迁移结果验证 a verification run on its own (workflows/verification.ts): counts, checksums, samples and
 * business tests over the worker's legacy/target pair. Its progress while it runs; its verdict and
 * figures once it completed (the report itself is a download).
 */
const verificationState = verificationProgress.extend({
  verdict: z.enum(VERIFICATION_VERDICTS).describe('结论 once completed').optional(),
  result: verificationOutcome.omit({ markdown: true }).describe('结果 counts, segments, samples and business tests, once completed').optional(),
});
export type VerificationState = z.infer<typeof verificationState>;

const verificationStartBody = verificationInput.omit({ runId: true, stepLabel: true, requestedBy: true }).extend({ runId: runIdField('verification-') }).strict();
export type VerificationStartBody = z.infer<typeof verificationStartBody>;

export const verificationKind: RunKind<VerificationState, VerificationStartBody> = {
  kind: 'verification',
  workflowType: 'verification',
  idPrefix: 'verification-',
  collection: 'verifications',
  title: '验证 Verification',
  start: {
    roles: ['operator'],
    bodySchema: bodySchemaOf(verificationStartBody),
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
  stateSchema: stateSchemaOf(verificationState),
  statuses: ['running', 'passed', 'failed', 'incomplete'],
  gates: [],
  openGates: () => [],
  progress: (state) => ({ done: state.segmentsDone, total: state.segments, current: state.phase }),
  reports: verificationReport<VerificationState>((state) => Boolean(state.result)),
};
