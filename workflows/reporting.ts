import { proxyActivities, RetryPolicy, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { RunbookKind, RunbookPhase, RunbookStatus } from './search-attributes';
import { ReportingInput, ReportingProgress, reportingProgressQuery, ReportingVerdict } from './reporting-messages';
import { inLanes } from './kit/lanes';

/**
 * 数据汇聚及上报 One reporting cycle (a Schedule starts one per interval; the API one on request):
 * preflight and setup, then every reported table through prepare → deliver → verify → advance (one
 * activity per table, resumable from the ledger), then the monitor and its alerts. The process is
 * here; the machinery is in reporting/.
 */
const RETRY: RetryPolicy = { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: ['ConfigError', 'BatchOpen'] };
const LANES = 2;

export async function reporting(input: ReportingInput): Promise<ReportingProgress> {
  const act = (summary: string, heartbeat = false) =>
    proxyActivities<Activities>({ startToCloseTimeout: '2 hours', ...(heartbeat ? { heartbeatTimeout: '20 seconds' } : {}), retry: RETRY, summary });
  const progress: ReportingProgress = { runId: input.runId, phase: 'prepare', tables: [] };
  setHandler(reportingProgressQuery, () => progress);
  const show = () =>
    setCurrentDetails(
      [
        `### 数据汇聚及上报 Reporting ${input.runId}: ${progress.phase}`,
        '',
        '| 表 table | 状态 state | 行 rows | 拒收 held rows | 批次 batch |',
        '|---|---|---|---|---|',
        ...progress.tables.map((t) => `| ${t.table} | ${t.state} | ${t.rows} | ${t.rejected} | ${t.batchId ?? '—'} |`),
        ...(progress.alerts?.length ? ['', '**告警 alerts**', ...progress.alerts.map((a) => `- ${a}`)] : []),
      ].join('\n'),
    );
  upsertSearchAttributes([
    { key: RunbookKind, value: 'reporting' },
    { key: RunbookPhase, value: 'prepare' },
    { key: RunbookStatus, value: 'running' },
  ]);
  show();

  const { tables } = await act('上报准备 preflight: spec, change capture, provincial ledger').reportingPrepare({ tables: input.tables });
  progress.tables = tables.map((table) => ({ table, state: 'waiting', rows: 0, rejected: 0 }));
  progress.phase = 'cycle';
  upsertSearchAttributes([{ key: RunbookPhase, value: 'cycle' }]);
  show();
  await inLanes(progress.tables, LANES, async (t) => {
    t.state = 'running';
    show();
    const r = await act(`汇聚上报 ${t.table}: extract → province → national → verify`, true).reportingTableCycle({ table: t.table, backfill: input.backfill });
    Object.assign(t, { state: r.state, batchId: r.batchId, rows: r.rows, rejected: r.rejected });
    show();
  });

  progress.phase = 'monitor';
  show();
  const mon = await act('监测 monitor: lag, waiting rows, alerts').reportingMonitor({ runId: input.runId });
  for (const t of progress.tables) {
    const m = mon.tables.find((x) => x.table === t.table);
    t.watermark = m?.lastWindowTo ?? null;
    t.lagSeconds = m?.lagSeconds ?? null;
  }
  progress.alerts = mon.alerts;
  progress.reportFiles = mon.files;
  const { workflowId } = workflowInfo();
  for (const [i, subject] of mon.alerts.entries()) {
    await act('告警 alert').reportingAlert({ key: `${workflowId}:alert:${i}`, workflowId, subject: `数据汇聚及上报告警 reporting alert: ${subject}` });
  }
  const verdict: ReportingVerdict = progress.tables.some((t) => t.state === 'rejected') ? 'rejected' : progress.tables.some((t) => t.state === 'held') ? 'held' : 'passed';
  progress.verdict = verdict;
  progress.phase = 'finished';
  upsertSearchAttributes([
    { key: RunbookPhase, value: 'finished' },
    { key: RunbookStatus, value: verdict },
  ]);
  show();
  return progress;
}
