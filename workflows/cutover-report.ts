import type { CutoverState, StepState } from './cutover-messages';

/**
 * The cutover's checklist in Markdown: the workflow shows it as its current details in the Temporal
 * Web UI, and the API serves it as the run's summary report. Pure, so both the workflow sandbox and
 * the API can import it.
 */
const ICON: Record<StepState['status'], string> = { pending: '☐', running: '▶', done: '☑', failed: '✗', rejected: '✗', cancelled: '⊘' };

export function renderCutoverChecklist(state: CutoverState, workflowId: string): string {
  const lines = [
    `### 割接 Cutover ${state.runId} (${state.mode === 'live' ? '正式 live' : '彩排 rehearsal'}) — ${state.status}`,
    '',
    ...state.steps.map((s) => `- ${ICON[s.status]} ${s.title}${s.detail ? ` — ${s.detail}` : ''}`),
  ];
  const open = state.gates.filter((g) => g.status === 'open');
  if (open.length) {
    lines.push('', `**待审批 Pending approval:** ${open.map((g) => g.title).join(', ')} (started by ${state.requestedBy}; another approver must decide)`);
  }
  if (state.tables.length) {
    lines.push('', '| table | read | loaded | quarantined |', '|---|---:|---:|---:|');
    for (const t of state.tables) lines.push(`| ${t.table} | ${t.rowsRead} | ${t.rowsLoaded} | ${t.rowsQuarantined} |`);
  }
  if (state.failure) lines.push('', `**失败 Failure:** ${state.failure}`);
  lines.push('', `_workflow ${workflowId}_`);
  return lines.join('\n');
}
