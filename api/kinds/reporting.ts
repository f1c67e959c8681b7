import { z } from 'zod';
import { REPORTING_VERDICTS, reportingInput, ReportingInput, reportingProgress, ReportingProgress, reportingProgressQuery } from '../../workflows/reporting-messages';
import { bodySchemaOf, stateSchemaOf } from '../contracts';
import { generatedRunId, RunKind } from '../run-kinds';
import { runIdField } from '../schemas';

/**
 * 数据汇聚及上报 a reporting cycle (workflows/reporting.ts), started by its Schedule or on request
 * (a backfill 补报 is one with a date range): progress per table (rows, batch, watermark, lag) while it
 * runs, the monitor's alerts and report files once it finished.
 */
const reportingStartBody = reportingInput.omit({ runId: true, requestedBy: true }).extend({ runId: runIdField('reporting-') }).strict();
type ReportingStartBody = z.infer<typeof reportingStartBody>;

export const reportingKind: RunKind<ReportingProgress, ReportingStartBody> = {
  kind: 'reporting',
  workflowType: 'reporting',
  idPrefix: 'reporting-',
  collection: 'reportings',
  title: '数据汇聚及上报 Reporting',
  start: {
    roles: ['operator'],
    bodySchema: bodySchemaOf(reportingStartBody),
    plan(body, actor) {
      const runId = body.runId ?? generatedRunId(body.backfill ? 'backfill' : 'report');
      const input: ReportingInput = { ...body, runId, requestedBy: actor.name };
      return { runId, args: [input], summary: `数据汇聚及上报 Reporting ${runId}${body.backfill ? ' · 补报 backfill' : ''} · started by ${actor.name}`, phase: 'prepare' };
    },
  },
  stateQuery: reportingProgressQuery,
  stateFromResult: (result) => result as ReportingProgress,
  stateSchema: stateSchemaOf(reportingProgress),
  statuses: ['running', ...REPORTING_VERDICTS],
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
