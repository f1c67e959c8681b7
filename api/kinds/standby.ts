import path from 'node:path';
import { decideGateSignal } from '../../workflows/cutover-messages';
import { STANDBY_STATUSES, StandbyInput, StandbyState, standbyStateQuery } from '../../workflows/standby-messages';
import type { FileReport, RunKind } from '../run-kinds';
import { generatedRunId } from '../run-kinds';
import { ID_SUFFIX_PATTERN } from '../schemas';

/**
 * 备点库 the standby run (workflows/standby.ts): setup (build or re-attach, prove streaming, record the
 * configuration, schedule the checks), check (lag, retained WAL, consistency) and the DR drill (容灾演练,
 * a four-eyes gate before the promote). Reports: REPORTS_DIR/standby/<workflowId>/standby-report.*.
 */
type StandbyStartBody = Omit<StandbyInput, 'runId' | 'requestedBy'> & { runId?: string };

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
    bodySchema: {
      type: 'object',
      additionalProperties: false,
      required: ['action'],
      properties: {
        action: { type: 'string', enum: ['setup', 'check', 'drill'], description: 'setup 配置 | check 巡检 | drill 容灾演练' },
        runId: { type: 'string', pattern: `^${ID_SUFFIX_PATTERN}$`, description: '运行编号 optional; the workflow id is standby-<runId>' },
        copy: { type: 'string', enum: ['standby', 'dr'], description: 'check: which copy (default standby)' },
        tables: { type: 'array', items: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$' }, maxItems: 64, description: '表 default: the configured scope' },
        checkEveryMinutes: { type: 'integer', minimum: 0, maximum: 1440, description: 'setup: schedule the check every N minutes (0 = none; default from config/standby.json)' },
        drillPort: { type: 'integer', minimum: 1024, maximum: 65535, description: 'drill: port of the fresh instance (default 55440)' },
        keepDrillInstance: { type: 'boolean', description: 'drill: keep the promoted instance afterwards' },
      },
    },
    plan(body, actor) {
      const runId = body.runId ?? generatedRunId(body.action);
      const input: StandbyInput = { ...body, runId, requestedBy: actor.name };
      const what = { setup: '备点库配置 setup', check: '备点库巡检 check', drill: '容灾演练 DR drill' }[body.action];
      return { runId, args: [input], summary: `${what} ${runId} · started by ${actor.name}`, phase: body.action };
    },
  },
  stateQuery: standbyStateQuery,
  stateFromResult: (result) => result as StandbyState,
  stateSchema: {
    type: 'object',
    additionalProperties: true,
    required: ['runId', 'action', 'status', 'phase', 'alerts', 'gates', 'decisions'],
    properties: {
      runId: { type: 'string' },
      action: { type: 'string', enum: ['setup', 'check', 'drill'] },
      status: { type: 'string', enum: [...STANDBY_STATUSES] },
      phase: { type: 'string' },
      alerts: { type: 'array', items: { type: 'object', additionalProperties: true }, description: '告警 each with what to do' },
      gates: { type: 'array', items: { type: 'object', additionalProperties: true } },
      decisions: { type: 'array', items: { type: 'object', additionalProperties: true } },
      health: { type: 'array', items: { type: 'object', additionalProperties: true }, description: '复制状态 lag, slot' },
      check: { type: 'object', additionalProperties: true, description: '一致性 consistency' },
      drill: { type: 'object', additionalProperties: true, description: '容灾演练 RTO/RPO' },
      config: { type: 'object', additionalProperties: true, description: '备份的数据内容范围、备份频率、备份路径' },
    },
  },
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
