import path from 'node:path';
import { z } from 'zod';
import { REMEDIATION_PHASES, REMEDIATION_STATUSES, RemediationInput, RemediationState, remediationState, remediationStateQuery } from '../../workflows/remediation-messages';
import { bodySchemaOf, stateSchemaOf } from '../contracts';
import remediationRoutes, { CORRECTION_SET_PATTERN } from '../routes/remediation';
import { generatedRunId, RunKind } from '../run-kinds';
import { runIdField } from '../schemas';

/**
 * 问题数据整改 a remediation run (workflows/remediation.ts): applies one corrections sheet, uploaded and
 * approved through /remediation/corrections (api/routes/remediation.ts, its own routes), to the target under its lease.
 */
export { CORRECTION_SET_PATTERN };

const remediationStartBody = z.strictObject({
  runId: runIdField('remediation-'),
  correctionSet: z.string().regex(new RegExp(`^${CORRECTION_SET_PATTERN}$`)).describe('整改单 the approved corrections sheet to apply (POST /remediation/corrections)'),
});
export type RemediationStartBody = z.infer<typeof remediationStartBody>;

export const remediationKind: RunKind<RemediationState, RemediationStartBody> = {
  kind: 'remediation',
  workflowType: 'remediation',
  idPrefix: 'remediation-',
  collection: 'remediations',
  title: '整改 Remediation',
  start: {
    roles: ['operator'],
    bodySchema: bodySchemaOf(remediationStartBody),
    plan(body, actor) {
      const runId = body.runId ?? generatedRunId('remediate');
      const input: RemediationInput = { runId, correctionSet: body.correctionSet, requestedBy: actor.name };
      return { runId, args: [input], memo: { correctionSet: body.correctionSet }, summary: `问题数据整改 Remediation ${runId} · sheet ${body.correctionSet} · started by ${actor.name}`, phase: 'admit' };
    },
  },
  stateQuery: remediationStateQuery,
  stateFromResult: (result) => result as RemediationState,
  stateSchema: stateSchemaOf(remediationState),
  statuses: REMEDIATION_STATUSES,
  gates: [],
  openGates: () => [],
  signedStart: true,
  holdsTarget: true,
  progress: (state) => ({ done: REMEDIATION_PHASES.indexOf(state.phase), total: REMEDIATION_PHASES.length - 1, current: state.phase }),
  reports: {
    'remediation.md': { title: '整改报告 Remediation report (Markdown)', contentType: 'text/markdown; charset=utf-8', file: (s) => (s.report ? path.join(s.runId, 'remediation.md') : undefined) },
    'remediation.json': { title: '整改报告 Remediation report (JSON)', contentType: 'application/json; charset=utf-8', file: (s) => (s.report ? path.join(s.runId, 'remediation.json') : undefined) },
  },
  ownRoutes: remediationRoutes,
};
