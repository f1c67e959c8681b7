import type { CutoverState } from './cutover-messages';
import { STEP_ICONS } from './cutover-steps';

/**
 * The cutover's checklist in Markdown: the workflow shows it as its current details in the Temporal
 * Web UI, and the API serves it as the run's summary report. Pure, so both the workflow sandbox and
 * the API can import it.
 */
export function renderCutoverChecklist(state: CutoverState, workflowId: string): string {
  const lines = [
    `### 割接 Cutover ${state.runId} (${state.mode === 'live' ? '正式 live' : '彩排 rehearsal'}) — ${state.status}`,
    '',
    ...state.steps.map((s) => `- ${STEP_ICONS[s.status]} ${s.title}${s.detail ? ` — ${s.detail}` : ''}${s.status === 'failed' && s.error ? ` — ✗ ${s.error}` : ''}`),
  ];
  const open = state.gates.filter((g) => g.status === 'open');
  if (open.length) {
    lines.push(
      '',
      `**待审批 Pending approval:** ${open.map((g) => `${g.title} — ${g.approvedBy.length}/${g.approvals} approvals by ${g.roles.join('/')}${g.escalations ? `, escalated ×${g.escalations}` : ''}`).join('; ')} (started by ${state.requestedBy}; another approver must decide)`,
    );
  }
  if (state.pendingFailure) {
    lines.push('', `**等待操作员 Waiting for the operator:** step ${state.pendingFailure.step} failed — ${state.pendingFailure.error}. Choices: ${state.pendingFailure.choices.join(', ')}`);
  }
  if (state.projection) {
    lines.push('', `ETA 预计完成 ${state.projection.projectedFinish}${state.projection.windowEnd ? ` · window ends ${state.projection.windowEnd} · ${state.projection.fitsWindow ? 'fits' : 'OVERRUNS'}` : ''}`);
  }
  if (state.fallback) lines.push('', `回退 Fallback ${state.fallback.workflowId}: ${state.fallback.status}`);
  if (state.tables.length) {
    lines.push('', '| table | read | loaded | quarantined |', '|---|---:|---:|---:|');
    for (const t of state.tables) lines.push(`| ${t.table} | ${t.rowsRead} | ${t.rowsLoaded} | ${t.rowsQuarantined} |`);
  }
  if (state.failure) lines.push('', `**失败 Failure:** ${state.failure}`);
  lines.push('', `_workflow ${workflowId}_`);
  return lines.join('\n');
}
