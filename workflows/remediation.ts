import { ActivityFailure, allHandlersFinished, condition, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { START_MAX_AGE_MINUTES, startRefusal } from './kit/admission';
import { releaseTargetLease, takeTargetLease } from './kit/target-lease';
import { RemediationInput, RemediationPhase, RemediationState, remediationStateQuery } from './remediation-messages';
import { RunbookKind, RunbookPhase, RunbookStatus } from './search-attributes';

const admin = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '30 seconds', maximumAttempts: 20 },
  summary: '整改单准入 Admit the corrections sheet (signatures, four-eyes)',
});
const work = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  // a worker that dies mid-reload is noticed within the heartbeat window; the retry reloads what is still held
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10 },
  summary: '问题数据整改 Reload corrected rows, reconcile, report',
});

/**
 * 问题数据整改 Remediation: applies one approved corrections sheet to the target.
 *   1. 签名启动 the start must be the API's (signed, naming its initiator);
 *   2. 目标库租约 take the target lease (one cutover, fallback or remediation per target at a time);
 *   3. 准入 the sheet is admitted only with its signed upload and a signed approval by someone else;
 *   4. 重载 its held rows reload with their corrections, the children waiting for them follow;
 *   5. 对账 those keys are reconciled: none left in quarantine, legacy = loaded + quarantined per table;
 *   6. 报告 the report names each row's path; the lease is released whatever happened.
 */
export async function remediation(input: RemediationInput): Promise<RemediationState> {
  const state: RemediationState = { runId: input.runId, correctionSet: input.correctionSet, requestedBy: input.requestedBy, status: 'running', phase: 'admit' };
  setHandler(remediationStateQuery, () => state);
  const publish = (phase?: RemediationPhase) => {
    if (phase) state.phase = phase;
    upsertSearchAttributes([
      { key: RunbookKind, value: 'remediation' },
      { key: RunbookPhase, value: state.phase },
      { key: RunbookStatus, value: state.status },
    ]);
    const o = state.outcome;
    setCurrentDetails(
      [
        `### 问题数据整改 Remediation ${state.runId} — ${state.status} (${state.phase})`,
        `整改单 sheet ${state.correctionSet}${state.sheet ? ` · uploaded by ${state.sheet.uploadedBy}, approved by ${state.sheet.approvedBy}` : ''}`,
        o ? `重载 ${o.loaded} corrected rows loaded, ${o.followed} children followed, ${o.stillHeld} still held` : '',
        state.reconciliation ? `对账 ${state.reconciliation.stillQuarantined} of the sheet's keys still in quarantine` : '',
        state.refusal ? `**拒绝 refused:** ${state.refusal}` : state.error ? `**失败 failed:** ${state.error}` : '',
      ].join('\n'),
    );
  };
  const refuse = async (refusal: string, action?: 'start refused by the run: target held by another run') => {
    await admin.auditRefusedStart({ workflowId: workflowInfo().workflowId, runId: workflowInfo().runId, requestedBy: String(input.requestedBy), refusal, action });
    Object.assign(state, { status: 'refused', refusal });
    publish('finished');
    await condition(allHandlersFinished);
    return state;
  };

  const unsigned = await startRefusal(input.start, input.requestedBy, (d) => admin.verifyDecision({ decision: d, workflowId: workflowInfo().workflowId, maxAgeMinutes: START_MAX_AGE_MINUTES }));
  if (unsigned) return refuse(unsigned);
  const lease = await takeTargetLease('remediation', input.requestedBy);
  if (!lease.ok) return refuse(lease.refusal, 'start refused by the run: target held by another run');
  state.targetLease = lease.record;
  publish();

  try {
    const admitted = await admin.admitCorrectionSet({ setId: input.correctionSet });
    if (!admitted.ok) {
      Object.assign(state, { status: 'refused', refusal: admitted.refusal });
      return state;
    }
    state.sheet = admitted.sheet;
    publish('reload');
    state.outcome = await work.applyCorrectionSet({ setId: input.correctionSet, workflowId: workflowInfo().workflowId });
    publish('reconcile');
    state.reconciliation = await work.reconcileCorrections({ planned: state.outcome.planned, workflowId: workflowInfo().workflowId });
    const reconciled = state.reconciliation.tables.every((t) => !t.problems.length);
    state.status = state.outcome.stillHeld === 0 && state.reconciliation.stillQuarantined === 0 && reconciled ? 'completed' : 'incomplete';
    publish('report');
    state.report = await work.writeRemediationReport({ state });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    Object.assign(state, { status: 'failed', error: err.cause?.message ?? err.message });
  } finally {
    if (lease.own) state.targetLease!.released = await releaseTargetLease(state.status);
    publish('finished');
  }
  await condition(allHandlersFinished);
  return state;
}
