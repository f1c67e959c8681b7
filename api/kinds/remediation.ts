import path from 'node:path';
import { REMEDIATION_PHASES, REMEDIATION_STATUSES, RemediationInput, RemediationState, remediationStateQuery } from '../../workflows/remediation-messages';
import remediationRoutes, { CORRECTION_SET_PATTERN } from '../routes/remediation';
import { generatedRunId, RunKind } from '../run-kinds';
import { ID_SUFFIX_PATTERN } from '../schemas';

/**
 * 问题数据整改 a remediation run (workflows/remediation.ts): applies one corrections sheet, uploaded and
 * approved through /remediation/corrections (api/routes/remediation.ts, its own routes), to the target under its lease.
 */
export { CORRECTION_SET_PATTERN };

export const remediationKind: RunKind<RemediationState, { runId?: string; correctionSet: string }> = {
  kind: 'remediation',
  workflowType: 'remediation',
  idPrefix: 'remediation-',
  collection: 'remediations',
  title: '整改 Remediation',
  start: {
    roles: ['operator'],
    bodySchema: {
      type: 'object',
      additionalProperties: false,
      required: ['correctionSet'],
      properties: {
        runId: { type: 'string', pattern: `^${ID_SUFFIX_PATTERN}$`, description: '运行编号 optional run id; the workflow id is remediation-<runId>' },
        correctionSet: { type: 'string', pattern: `^${CORRECTION_SET_PATTERN}$`, description: '整改单 the approved corrections sheet to apply (POST /remediation/corrections)' },
      },
    },
    plan(body, actor) {
      const runId = body.runId ?? generatedRunId('remediate');
      const input: RemediationInput = { runId, correctionSet: body.correctionSet, requestedBy: actor.name };
      return { runId, args: [input], memo: { correctionSet: body.correctionSet }, summary: `问题数据整改 Remediation ${runId} · sheet ${body.correctionSet} · started by ${actor.name}`, phase: 'admit' };
    },
  },
  stateQuery: remediationStateQuery,
  stateFromResult: (result) => result as RemediationState,
  stateSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['runId', 'correctionSet', 'requestedBy', 'status', 'phase'],
    properties: {
      runId: { type: 'string' },
      correctionSet: { type: 'string' },
      requestedBy: { type: 'string' },
      status: { type: 'string', enum: [...REMEDIATION_STATUSES] },
      phase: { type: 'string', enum: [...REMEDIATION_PHASES] },
      sheet: { type: 'object', additionalProperties: true, description: '整改单 who uploaded and who approved it' },
      refusal: { type: 'string', description: '拒绝 why the run applied nothing (unsigned start, target held, sheet not approved by a second person)' },
      error: { type: 'string' },
      outcome: { type: 'object', additionalProperties: true, description: '重载 rows loaded, children followed, rows still held, and their paths' },
      reconciliation: { type: 'object', additionalProperties: true, description: '对账 the sheet keys left in quarantine; legacy = loaded + quarantined per touched table' },
      report: { type: 'object', additionalProperties: true },
      targetLease: { type: 'object', additionalProperties: true },
    },
  },
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
