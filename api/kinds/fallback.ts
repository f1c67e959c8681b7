import { z } from 'zod';
import { FALLBACK_STATUSES, FALLBACK_STEPS, fallbackActionSignal, FallbackInput, FallbackState, fallbackState, fallbackStateQuery } from '../../workflows/fallback-messages';
import { bodySchemaOf, stateSchemaOf } from '../contracts';
import type { RunKind } from '../run-kinds';
import { freeTextField, ID_SUFFIX_PATTERN } from '../schemas';
import { failureAnalysis } from './report-files';

/**
 * 回退 the six-step fallback (workflows/fallback.ts): started by a cutover that failed or was rejected
 * (workflow id fallback-<the cutover's runId>), or by hand for a run whose legacy backup exists.
 */
const fallbackStartBody = z.strictObject({
  runId: z.string().regex(new RegExp(`^${ID_SUFFIX_PATTERN}$`)).describe('运行编号 the run to fall back from (its legacy backup is used); the workflow id is fallback-<runId>'),
  reason: freeTextField('回退原因 why; kept in the failure-analysis report and the workflow history', 2000, 3),
  cutoverId: z
    .string()
    .regex(new RegExp(`^cutover-${ID_SUFFIX_PATTERN}$`))
    .describe('割接编号 the workflow id of the cutover that failed, for the failure analysis; when left out, the cutover of the same run id (cutover-<runId>) is looked for')
    .optional(),
});
export type FallbackStartBody = z.infer<typeof fallbackStartBody>;

export const fallbackKind: RunKind<FallbackState, FallbackStartBody> = {
  kind: 'fallback',
  workflowType: 'fallback',
  idPrefix: 'fallback-',
  collection: 'fallbacks',
  title: '回退 Fallback',
  start: {
    roles: ['operator'],
    bodySchema: bodySchemaOf(fallbackStartBody),
    plan(body, actor) {
      const input: FallbackInput = {
        runId: body.runId,
        requestedBy: actor.name,
        reason: `手动回退 started by hand by ${actor.name}: ${body.reason}`,
        cutoverWorkflowId: body.cutoverId ?? `cutover-${body.runId}`,
        cutoverLookup: body.cutoverId ? 'given' : 'by-run-id',
      };
      return { runId: body.runId, args: [input], summary: `回退 Fallback of ${body.runId} · started by hand by ${actor.name}`, phase: FALLBACK_STEPS[0].key };
    },
  },
  stateQuery: fallbackStateQuery,
  stateFromResult: (result) => result as FallbackState,
  stateSchema: stateSchemaOf(fallbackState),
  statuses: FALLBACK_STATUSES,
  // No gates: a fallback is never waited on for approval; a failed step waits for the operator.
  gates: [],
  openGates: () => [],
  signedStart: true,
  holdsTarget: true,
  stepChoices: {
    steps: FALLBACK_STEPS.map((s) => s.key),
    choices: ['retry', 'abort'],
    reasonRequired: [],
    signal: fallbackActionSignal,
    gate: (step) => `fallback:${step}`,
    waiting: (state) => state.pendingFailure && { step: state.pendingFailure.step, choices: ['retry', 'abort'] },
  },
  progress: (state) => ({
    done: state.steps.filter((s) => s.status === 'done').length,
    total: state.steps.length,
    current: state.steps.find((s) => s.status === 'running' || s.status === 'failed')?.title,
  }),
  reports: failureAnalysis<FallbackState>((state) => state.report?.markdown),
};
