import path from 'node:path';
import fs from 'node:fs';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ConfigError } from '../lib/config-file';
import { withClient } from '../lib/db';
import { ensureReportSchema, prepareBatch, ReportContext, runTableCycle } from '../reporting/batch';
import { installCapture } from '../reporting/capture';
import { largestFirst } from '../reporting/order';
import { reportStatus, statusHtml, statusMarkdown } from '../reporting/monitor';
import { loadReportSpec, ReportSpec } from '../reporting/spec';
import type { ActivityDeps } from './deps';
import { notifyActivities } from './notify';

/**
 * 数据汇聚及上报 activities: each is idempotent, because the ledger in the provincial database says
 * what is done (reporting/batch.ts). Connection strings stay here; the workflow sees table names only.
 */
export function reportingActivities(deps: ActivityDeps) {
  let cached: { file: string; spec: ReportSpec } | undefined;
  const context = (): ReportContext => {
    const file = deps.settings.REPORT_SPEC_FILE;
    if (cached?.file !== file) {
      try {
        cached = { file, spec: loadReportSpec(file) };
      } catch (err) {
        // A bad spec is the operator's to fix: retrying cannot help.
        if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'ConfigError');
        throw err;
      }
    }
    return {
      spec: cached.spec,
      registryUrl: deps.settings.TARGET_DATABASE_URL,
      provinceUrl: deps.settings.REPORT_PROVINCE_DATABASE_URL,
      outboxDir: deps.settings.REPORT_OUTBOX_DIR,
      receiverUrl: deps.settings.REPORT_RECEIVER_URL || undefined,
    };
  };
  return {
    /** preflight + setup: the spec loads, capture triggers on the registry, the province schema and ledger exist */
    async reportingPrepare(input: { tables?: string[] }): Promise<{ tables: string[] }> {
      const ctx = context();
      const names = ctx.spec.tables.map((t) => t.name);
      const unknown = (input.tables ?? []).filter((t) => !names.includes(t));
      if (unknown.length) throw ApplicationFailure.nonRetryable(`not reported tables of ${ctx.spec.file}: ${unknown.join(', ')}`, 'ConfigError');
      try {
        const order = await withClient(ctx.registryUrl, async (c) => {
          await installCapture(c, ctx.spec);
          return largestFirst(c, ctx.spec, input.tables?.length ? input.tables : names);
        });
        await ensureReportSchema(ctx);
        return { tables: order };
      } catch (err) {
        // A database that does not exist (3D000) or a source table the spec names that is not there (42P01) is configuration.
        const code = (err as { code?: string }).code;
        if (code === '3D000' || code === '42P01') throw ApplicationFailure.nonRetryable(`reporting preflight: ${(err as Error).message}`, 'ConfigError');
        throw err;
      }
    },
    /** one table: prepare (or resume) → deliver → verify → advance; a backfill prepares its own batch first */
    async reportingTableCycle(input: { table: string; backfill?: { item: string; from: string; to: string } }) {
      const ctx = context();
      if (input.backfill) {
        const p = await prepareBatch(ctx, input.table, input.backfill);
        if (p.open && Context.current().info.attempt === 1) {
          throw ApplicationFailure.nonRetryable(`${input.table}: batch ${p.open.batchId} is ${p.open.state}; a backfill waits until it is verified`, 'BatchOpen');
        }
      }
      // A heartbeat while the table runs: a worker killed mid-batch is noticed in seconds, not at the timeout.
      const beat = setInterval(() => Context.current().heartbeat({ table: input.table }), 5_000);
      let r: Awaited<ReturnType<typeof runTableCycle>>;
      try {
        r = await runTableCycle(ctx, input.table);
      } finally {
        clearInterval(beat);
      }
      return { table: r.table, batchId: r.batchId, state: r.state, rows: r.rows, rejected: r.rejected, differingKeys: r.verification?.differingKeys.slice(0, 20) ?? [] };
    },
    /** 监测: status JSON / Markdown / HTML under REPORTS_DIR/reporting, and the alerts */
    async reportingMonitor(input: { runId: string }) {
      const ctx = context();
      const st = await reportStatus(ctx);
      const dir = path.join(deps.settings.REPORTS_DIR, 'reporting');
      fs.mkdirSync(dir, { recursive: true });
      const base = `reporting-${input.runId}`;
      fs.writeFileSync(path.join(dir, `${base}.json`), JSON.stringify(st, null, 2));
      fs.writeFileSync(path.join(dir, `${base}.md`), statusMarkdown(st));
      fs.writeFileSync(path.join(dir, `${base}.html`), statusHtml(st));
      return {
        alerts: st.alerts,
        tables: st.tables.map((t) => ({ table: t.table, lastWindowTo: t.lastWindowTo, lagSeconds: t.lagSeconds, rowsWaiting: t.rowsWaiting, rejected: t.rejected.count })),
        files: { json: `reporting/${base}.json`, markdown: `reporting/${base}.md`, html: `reporting/${base}.html` },
      };
    },
    /** 告警 an alert through the notification path (webhook or log); its key makes a retried delivery a duplicate */
    async reportingAlert(input: { key: string; workflowId: string; subject: string }) {
      return notifyActivities(deps).notifyPlan({ key: input.key, kind: 'escalation', workflowId: input.workflowId, planId: 'reporting', subject: input.subject, ownerRole: 'operator' });
    },
  };
}
