import fs from 'node:fs';
import path from 'node:path';
import { activityInfo, ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { digestHistory, HistoryDigest } from '../reports/run-history';
import { renderEvidence, renderFailureAnalysis } from '../reports/run-report';
import { readStatementAudit, renderStatementAudit, withTarget } from '../lib/statement-audit';
import { recordDataQualityTrend } from '../migration/correction-ledger';
import { withClient } from '../lib/db';
import { dataQualityCsv, DataQualityReport, dataQualityReport, dataQualityRows, dataQualityTotals, renderDataQuality } from '../migration/data-quality';
import type { CutoverState } from '../workflows/cutover-messages';
import type { FallbackState } from '../workflows/fallback-messages';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';

/** Writes a run's documents under REPORTS_DIR/<runId>/; rewriting the same file on a retry is harmless. */
export function reportActivities(deps: ActivityDeps) {
  function write(runId: string, base: string, markdown: string, json: unknown): { markdown: string; json: string } {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId)) throw ApplicationFailure.nonRetryable(`run id "${runId}" cannot name a report folder`, 'BadRunId');
    const dir = path.join(deps.settings.REPORTS_DIR, runId);
    fs.mkdirSync(dir, { recursive: true });
    const md = path.join(dir, `${base}.md`);
    const js = path.join(dir, `${base}.json`);
    fs.writeFileSync(md, markdown);
    fs.writeFileSync(js, JSON.stringify(json, null, 2));
    deps.logger.info({ runId, markdown: md }, `${base} written`);
    return { markdown: md, json: js };
  }
  return beating({
    /** 证据包 evidence pack of a cutover run */
    async writeEvidencePack(input: { state: CutoverState }): Promise<{ markdown: string; json: string }> {
      const { markdown, json } = renderEvidence(input.state);
      // 问题数据清单: what was loaded flagged and what is held, read from the target; a target that cannot be read is said, not fatal
      let dataQuality: DataQualityReport | { unavailable: string };
      try {
        dataQuality = await withTarget(deps.settings, async (target) => {
          const report = await dataQualityReport(target, deps.mapping);
          // 趋势 this run's counts beside the rehearsals before it; a runbook database that cannot be read leaves the trend out
          try {
            report.trend = await withClient(deps.settings.RUNBOOK_DATABASE_URL, (c) => recordDataQualityTrend(c, { runId: input.state.runId, ...dataQualityTotals(report) }));
          } catch (err) {
            deps.logger.warn({ err: (err as Error).message }, 'data-quality trend not recorded');
          }
          // the sheet business staff work through (CSV with a BOM for Excel) and the same rows as JSON, beside the evidence
          const rows = await dataQualityRows(target);
          write(input.state.runId, 'data-quality', renderDataQuality(report), rows);
          fs.writeFileSync(path.join(deps.settings.REPORTS_DIR, input.state.runId, 'data-quality.csv'), dataQualityCsv(rows));
          return report;
        });
      } catch (err) {
        dataQuality = { unavailable: (err as Error).message };
      }
      const dqText = 'unavailable' in dataQuality ? `## 问题数据清单 Data-quality report\n\n_not available 无法读取: ${dataQuality.unavailable}_` : renderDataQuality(dataQuality);
      // 语句审计: what this run (and its children) sent to the target, checked against the configured dialect.
      const audit = await readStatementAudit(deps.settings.RUNBOOK_DATABASE_URL, activityInfo().workflowExecution!.workflowId, deps.settings.TARGET_DIALECT);
      return write(input.state.runId, 'evidence', `${markdown}\n\n${dqText}\n\n${renderStatementAudit(audit)}\n`, { ...json, dataQuality, statementAudit: audit });
    },
    /**
     * 回退步骤6 失败原因分析, written from the event histories of the cutover that fell back (when there is
     * one) and of this fallback itself: they hold every failed attempt and every signal, also those the
     * workflows' state no longer shows. Reading history has no side effect, so a retry simply reads again.
     */
    async writeFailureReport(input: {
      fallback: FallbackState;
      cutover?: CutoverState;
      cutoverWorkflowId?: string;
      cutoverLookup?: 'given' | 'by-run-id';
      fallbackRunId: string;
    }): Promise<{ markdown: string; json: string }> {
      const client = Context.current().client;
      const digest = async (workflowId: string): Promise<HistoryDigest> =>
        digestHistory(workflowId, await client.workflow.getHandle(workflowId).fetchHistory());
      const own = activityInfo().workflowExecution!.workflowId;
      let cutoverHistory: HistoryDigest[] = [];
      if (input.cutoverWorkflowId) {
        try {
          cutoverHistory = [await digest(input.cutoverWorkflowId)];
        } catch (err) {
          // fetchHistory passes the server's gRPC NOT_FOUND (code 5) through as it is.
          if (!(err instanceof WorkflowNotFoundError) && (err as { code?: number }).code !== 5) throw err;
          // Started by hand for a run whose cutover is gone or never ran here: the analysis says so.
          if (input.cutoverLookup !== 'by-run-id') throw ApplicationFailure.nonRetryable(`the cutover ${input.cutoverWorkflowId} named for this fallback does not exist`, 'NoSuchCutover');
          deps.logger.warn({ cutoverWorkflowId: input.cutoverWorkflowId }, 'no cutover of this run id to analyse');
        }
      }
      const histories = [...cutoverHistory, await digest(own)];
      const { markdown, json } = renderFailureAnalysis(input.fallback, input.cutover, histories);
      // A run may fall back more than once (automatically, then by hand): each report keeps its own file.
      return write(input.fallback.runId, `failure-analysis-${input.fallbackRunId.replace(/[^A-Za-z0-9-]/g, '').slice(0, 8)}`, markdown, json);
    },
  });
}
