import { FALLBACK_STEPS, fallbackActionSignal, FallbackInput, FallbackState, fallbackStateQuery } from '../../workflows/fallback-messages';
import type { RunKind } from '../run-kinds';
import { freeText, ID_SUFFIX_PATTERN, stepsSchema } from '../schemas';
import { failureAnalysis } from './report-files';

/**
 * 回退 the six-step fallback (workflows/fallback.ts): started by a cutover that failed or was rejected
 * (workflow id fallback-<the cutover's runId>), or by hand for a run whose legacy backup exists.
 */
const FALLBACK_STATUSES = ['running', 'waiting_operator', 'completed', 'aborted'] as const;

const stateSchema = {
  type: 'object' as const,
  additionalProperties: true,
  required: ['runId', 'status', 'reason', 'steps', 'decisions'],
  properties: {
    runId: { type: 'string', description: 'the run fallen back from; its legacy backup is the reference' },
    status: { type: 'string', enum: [...FALLBACK_STATUSES] },
    reason: { type: 'string' },
    steps: stepsSchema(FALLBACK_STEPS.map((s) => s.key), ['pending', 'running', 'done', 'failed']),
    decisions: { type: 'array', items: { type: 'object', additionalProperties: true } },
    pendingFailure: { type: 'object', additionalProperties: true, properties: { step: { type: 'string' }, error: { type: 'string' }, at: { type: 'string' } } },
  },
};

export const fallbackKind: RunKind<FallbackState, { runId: string; reason: string; cutoverId?: string }> = {
  kind: 'fallback',
  workflowType: 'fallback',
  idPrefix: 'fallback-',
  collection: 'fallbacks',
  title: '回退 Fallback',
  start: {
    roles: ['operator'],
    bodySchema: {
      type: 'object',
      additionalProperties: false,
      required: ['runId', 'reason'],
      properties: {
        runId: { type: 'string', pattern: `^${ID_SUFFIX_PATTERN}$`, description: '运行编号 the run to fall back from (its legacy backup is used); the workflow id is fallback-<runId>' },
        reason: freeText('回退原因 why; kept in the failure-analysis report and the workflow history', 2000, 3),
        cutoverId: {
          type: 'string',
          pattern: `^cutover-${ID_SUFFIX_PATTERN}$`,
          description: '割接编号 the workflow id of the cutover that failed, for the failure analysis; when left out, the cutover of the same run id (cutover-<runId>) is looked for',
        },
      },
    },
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
  stateSchema,
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
