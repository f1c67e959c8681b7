import { ReportingInput, ReportingProgress, reportingProgressQuery } from '../../workflows/reporting-messages';
import { generatedRunId, RunKind } from '../run-kinds';
import { ID_SUFFIX_PATTERN } from '../schemas';

/**
 * 数据汇聚及上报 a reporting cycle (workflows/reporting.ts), started by its Schedule or on request
 * (a backfill 补报 is one with a date range): progress per table (rows, batch, watermark, lag) while it
 * runs, the monitor's alerts and report files once it finished.
 */
type ReportingStartBody = Omit<ReportingInput, 'runId' | 'requestedBy'> & { runId?: string };

const TABLE = { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$' };
const DATE = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' };

export const reportingKind: RunKind<ReportingProgress, ReportingStartBody> = {
  kind: 'reporting',
  workflowType: 'reporting',
  idPrefix: 'reporting-',
  collection: 'reportings',
  title: '数据汇聚及上报 Reporting',
  start: {
    roles: ['operator'],
    bodySchema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        runId: { type: 'string', pattern: `^${ID_SUFFIX_PATTERN}$`, description: '运行编号 optional run id; the workflow id is reporting-<runId>' },
        tables: { type: 'array', items: TABLE, maxItems: 200, description: '上报表 reported tables; default all of the spec' },
        backfill: {
          type: 'object',
          additionalProperties: false,
          required: ['item', 'from', 'to'],
          description: '补报 backfill: re-send the rows whose date item lies in [from, to); the watermark does not move',
          properties: { item: TABLE, from: DATE, to: DATE },
        },
      },
    },
    plan(body, actor) {
      const runId = body.runId ?? generatedRunId(body.backfill ? 'backfill' : 'report');
      const input: ReportingInput = { ...body, runId, requestedBy: actor.name };
      return { runId, args: [input], summary: `数据汇聚及上报 Reporting ${runId}${body.backfill ? ' · 补报 backfill' : ''} · started by ${actor.name}`, phase: 'prepare' };
    },
  },
  stateQuery: reportingProgressQuery,
  stateFromResult: (result) => result as ReportingProgress,
  stateSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['runId', 'phase', 'tables'],
    properties: {
      runId: { type: 'string' },
      phase: { type: 'string', enum: ['prepare', 'cycle', 'monitor', 'finished'] },
      tables: {
        type: 'array',
        description: '每表进度 per table: state, rows, held rows, batch, watermark (last verified window), lag',
        items: { type: 'object', additionalProperties: true, required: ['table', 'state', 'rows', 'rejected'], properties: { table: { type: 'string' }, state: { type: 'string' } } },
      },
      verdict: { type: 'string', enum: ['passed', 'held', 'rejected'] },
      alerts: { type: 'array', items: { type: 'string' }, description: '告警 alerts the monitor raised' },
      reportFiles: { type: 'object', additionalProperties: true },
    },
  },
  statuses: ['running', 'passed', 'held', 'rejected'],
  gates: [],
  openGates: () => [],
  progress: (state) => ({
    done: state.tables.filter((t) => !['waiting', 'running'].includes(t.state)).length,
    total: state.tables.length,
    current: state.tables.find((t) => t.state === 'running')?.table ?? state.phase,
  }),
  // Locations built from the run id (the shape the API gave it), never taken from the state as written.
  reports: {
    'status.md': { title: '监测报告 Reporting status (Markdown)', contentType: 'text/markdown; charset=utf-8', file: (s) => (s.reportFiles ? `reporting/reporting-${s.runId}.md` : undefined) },
    'status.html': { title: '监测报告 Reporting status (HTML)', contentType: 'text/html; charset=utf-8', file: (s) => (s.reportFiles ? `reporting/reporting-${s.runId}.html` : undefined) },
    'status.json': { title: '监测报告 Reporting status (JSON)', contentType: 'application/json; charset=utf-8', file: (s) => (s.reportFiles ? `reporting/reporting-${s.runId}.json` : undefined) },
  },
};
