import path from 'node:path';
import { decideGateSignal } from '../../workflows/cutover-messages';
import { z } from 'zod';
import { STANDBY_STATUSES, standbyInput, StandbyInput, standbyState, StandbyState, standbyStateQuery } from '../../workflows/standby-messages';
import { bodySchemaOf, stateSchemaOf } from '../contracts';
import type { FileReport, RunKind } from '../run-kinds';
import { generatedRunId } from '../run-kinds';
import { runIdField } from '../schemas';

/**
 * 备点库 the standby run (workflows/standby.ts): setup (build or re-attach, prove streaming, record the
 * configuration, schedule the checks), check (lag, retained WAL, consistency) and the DR drill (容灾演练,
 * a four-eyes gate before the promote). Reports: REPORTS_DIR/standby/<workflowId>/standby-report.*.
 */
const standbyStartBody = standbyInput.omit({ runId: true, requestedBy: true }).extend({ runId: runIdField('standby-') }).strict();
type StandbyStartBody = z.infer<typeof standbyStartBody>;

const REPORT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const report = (ext: 'md' | 'html' | 'json', title: string, contentType: FileReport<StandbyState>['contentType']): FileReport<StandbyState> => ({
  title,
  contentType,
  file: (s) => (s.reportId && REPORT_ID.test(s.reportId) ? path.join('standby', s.reportId, `standby-report.${ext}`) : undefined),
});

export const standbyKind: RunKind<StandbyState, StandbyStartBody> = {
  kind: 'standby',
  workflowType: 'standby',
  idPrefix: 'standby-',
  collection: 'standby',
  title: '备点库 Standby',
  start: {
    roles: ['operator'],
    bodySchema: bodySchemaOf(standbyStartBody),
    plan(body, actor) {
      const runId = body.runId ?? generatedRunId(body.action);
      const input: StandbyInput = { ...body, runId, requestedBy: actor.name };
      const what = { setup: '备点库配置 setup', check: '备点库巡检 check', drill: '容灾演练 DR drill' }[body.action];
      return { runId, args: [input], summary: `${what} ${runId} · started by ${actor.name}`, phase: body.action };
    },
  },
  stateQuery: standbyStateQuery,
  stateFromResult: (result) => result as StandbyState,
  // The answer requires what it always has; the rest is documented. A completed run's state is its result as the
  // worker of its day returned it, so a property made required later would fail the answer of an older run.
  stateSchema: stateSchemaOf(standbyState.partial({ requestedBy: true, copy: true, progress: true })),
  statuses: STANDBY_STATUSES,
  gates: [{ name: 'promote', title: '容灾演练提升审批 Approve promoting the restored DR copy', deciders: ['approver'] }],
  decisionSignal: decideGateSignal,
  waitingStatus: 'waiting_approval',
  openGates: (state) => state.gates.filter((g) => g.status === 'open').map((g) => g.name),
  progress: (state) => ({ done: state.progress.done, total: state.progress.total, current: state.phase }),
  reports: {
    'standby-report.md': report('md', '备点库报告 Standby report (Markdown)', 'text/markdown; charset=utf-8'),
    'standby-report.html': report('html', '备点库报告 Standby report with the lag trend (HTML)', 'text/html; charset=utf-8'),
    'standby-report.json': report('json', '备点库报告 Standby report (JSON)', 'application/json; charset=utf-8'),
  },
};
