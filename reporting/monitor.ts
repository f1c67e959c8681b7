import { escapeHtml, htmlPage, markdownToHtml } from '../lib/html';
import { withClient } from '../lib/db';
import type { ReportContext } from './batch';

/**
 * 监测 The reporting monitor: per reported table the last verified window, the lag behind the
 * registry, the rows waiting (changed keys above the watermark), the rows held back with their reasons,
 * batches held or rejected; alerts for a table behind its agreed frequency or a batch not passing; the
 * lag over time. JSON for machines, Markdown and HTML (with an SVG lag plot) for people.
 */
export interface TableStatus {
  table: string;
  title: string;
  lastWindowTo: string | null;
  lastBatch: string | null;
  lagSeconds: number | null;
  maxLagMinutes: number;
  rowsWaiting: number | null;
  provinceRows: number;
  rejected: { count: number; reasons: { key: string; reason: string }[] };
  held: { batchId: string; state: string; reasons: string[]; differingKeys: { key: string; where: string }[] }[];
  lagHistory: { at: string; lagSeconds: number; rows: number }[];
}

export interface ReportStatus {
  at: string;
  tables: TableStatus[];
  alerts: string[];
}

export async function reportStatus(ctx: ReportContext): Promise<ReportStatus> {
  const at = new Date();
  const tables: TableStatus[] = await withClient(ctx.provinceUrl, async (p) => {
    const out: TableStatus[] = [];
    for (const t of ctx.spec.tables) {
      const wm = (await p.query<{ xid: string; window_to: Date; last_batch: string | null }>('SELECT xid, window_to, last_batch FROM report_watermark WHERE table_name = $1', [t.name])).rows[0];
      const rows = (await p.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t.name}" WHERE _report_op <> 'D'`)).rows[0].n;
      const rej = await p.query<{ key: string; reason: string; n: number }>('SELECT key, reason, count(*) OVER ()::int AS n FROM report_rejected WHERE table_name = $1 ORDER BY key LIMIT 20', [t.name]);
      const held = await p.query<{ batch_id: string; state: string; reasons: string[]; differing_keys: { key: string; where: string }[] }>(
        `SELECT batch_id, state, reasons, differing_keys FROM report_batch WHERE table_name = $1 AND state IN ('held', 'rejected') ORDER BY sequence`,
        [t.name],
      );
      const lag = await p.query<{ at: Date; lag_seconds: number; rows: number }>('SELECT at, lag_seconds, rows FROM report_lag WHERE table_name = $1 ORDER BY at DESC LIMIT 200', [t.name]);
      out.push({
        table: t.name,
        title: t.title,
        lastWindowTo: wm ? new Date(wm.window_to).toISOString() : null,
        lastBatch: wm?.last_batch ?? null,
        lagSeconds: wm ? Math.max(0, (at.getTime() - new Date(wm.window_to).getTime()) / 1000) : null,
        maxLagMinutes: t.maxLagMinutes,
        rowsWaiting: null,
        provinceRows: rows,
        rejected: { count: rej.rows[0]?.n ?? 0, reasons: rej.rows.map((r) => ({ key: r.key, reason: r.reason })) },
        held: held.rows.map((h) => ({ batchId: h.batch_id, state: h.state, reasons: h.reasons, differingKeys: h.differing_keys.slice(0, 20) })),
        lagHistory: lag.rows.reverse().map((r) => ({ at: new Date(r.at).toISOString(), lagSeconds: r.lag_seconds, rows: r.rows })),
      });
      (out[out.length - 1] as TableStatus & { _xid?: string })._xid = wm?.xid;
    }
    return out;
  });
  // Rows waiting: keys changed in the registry above each watermark (the whole table before the first cycle).
  await withClient(ctx.registryUrl, async (r) => {
    for (const s of tables as (TableStatus & { _xid?: string })[]) {
      const t = ctx.spec.tables.find((x) => x.name === s.table)!;
      const q = s._xid
        ? await r.query<{ n: number }>('SELECT count(DISTINCT key)::int AS n FROM report_change_log WHERE table_name = $1 AND xid >= $2::xid8', [t.source.table, s._xid])
        : await r.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t.source.table}"`);
      s.rowsWaiting = q.rows[0].n;
      delete s._xid;
    }
  });
  const alerts: string[] = [];
  for (const s of tables) {
    if (s.lagSeconds === null) alerts.push(`${s.table}: 未汇聚 never reported yet`);
    else if (s.lagSeconds > s.maxLagMinutes * 60) alerts.push(`${s.table}: 滞后 behind by ${Math.round(s.lagSeconds / 60)} min (agreed ${s.maxLagMinutes} min)`);
    for (const h of s.held) alerts.push(`${s.table}: batch ${h.batchId} ${h.state === 'held' ? '验证未通过 held' : '被拒收 rejected'}: ${h.reasons.join('; ')}`);
  }
  return { at: at.toISOString(), tables, alerts };
}

const fmtLag = (s: number | null) => (s === null ? '—' : s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

export function statusMarkdown(st: ReportStatus): string {
  const lines = [
    `# 数据汇聚及上报监测 Reporting monitor`,
    '',
    `As of ${st.at}. ${st.alerts.length ? `**${st.alerts.length} alerts 告警**` : 'No alerts 无告警.'}`,
    '',
    '| table 表 | last window 最近窗口 | lag 滞后 | waiting 待报 | province rows 省库行数 | rejected 拒收行 | held batches 挂起批次 |',
    '|---|---|---|---|---|---|---|',
    ...st.tables.map((t) => `| ${t.table} ${t.title} | ${t.lastWindowTo ?? '—'} | ${fmtLag(t.lagSeconds)} | ${t.rowsWaiting ?? '—'} | ${t.provinceRows} | ${t.rejected.count} | ${t.held.map((h) => `${h.batchId} (${h.state})`).join(', ') || '—'} |`),
  ];
  if (st.alerts.length) lines.push('', '## 告警 Alerts', '', ...st.alerts.map((a) => `- ${a}`));
  const rejected = st.tables.filter((t) => t.rejected.count);
  if (rejected.length) {
    lines.push('', '## 拒收行 Rows held back, with reasons', '');
    for (const t of rejected) lines.push(...t.rejected.reasons.map((r) => `- ${t.table} \`${r.key}\`: ${r.reason}`));
  }
  const held = st.tables.flatMap((t) => t.held);
  if (held.length) {
    lines.push('', '## 差异 Differing keys of held batches', '');
    for (const h of held) lines.push(...h.differingKeys.map((d) => `- ${h.batchId} \`${d.key}\`: ${d.where}`));
  }
  return lines.join('\n') + '\n';
}

/** A small SVG of lag over time per table, so a table falling behind shows as a rising line. */
export function lagPlotSvg(st: ReportStatus): string {
  const series = st.tables.filter((t) => t.lagHistory.length);
  const points = series.flatMap((t) => t.lagHistory);
  if (!points.length) return '<p>no cycles yet</p>';
  const t0 = Math.min(...points.map((p) => Date.parse(p.at)));
  const t1 = Math.max(...points.map((p) => Date.parse(p.at)), t0 + 1);
  const maxLag = Math.max(...points.map((p) => p.lagSeconds), 1);
  const w = 600;
  const h = 160;
  const colors = ['#c33', '#36c', '#393', '#c93', '#939', '#399'];
  const lines = series.map((t, i) => {
    const d = t.lagHistory.map((p) => `${(((Date.parse(p.at) - t0) / (t1 - t0)) * w).toFixed(1)},${(h - (p.lagSeconds / maxLag) * h).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="${colors[i % colors.length]}" points="${d}"><title>${escapeHtml(t.table)}</title></polyline>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h + 20}" role="img" aria-label="lag over time"><rect width="${w}" height="${h}" fill="#fafafa" stroke="#999"/>${lines.join('')}<text x="2" y="${h + 15}" font-size="11">滞后 lag over time (max ${fmtLag(maxLag)})</text></svg>`;
}

export function statusHtml(st: ReportStatus): string {
  const body = markdownToHtml(statusMarkdown(st), '数据汇聚及上报监测 Reporting monitor');
  return body.includes('</body>') ? body.replace('</body>', `<h2>滞后曲线 Lag over time</h2>${lagPlotSvg(st)}</body>`) : htmlPage('数据汇聚及上报监测 Reporting monitor', body + lagPlotSvg(st));
}
