import fs from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';
import { markdownToHtml } from '../lib/html';
import type { StandbyState } from '../workflows/standby-messages';
import { describeSegment } from '../verification/content';

/**
 * 备点库报告 One report per standby run (Markdown, HTML with the lag trend plotted, JSON), and the trend
 * itself: every check's figures land in the runbook database (standby_check_log, one row per run, written
 * once), so the trend survives the workflows that produced it.
 */
export interface TrendPoint {
  at: string;
  workflowId: string;
  copy: string;
  lagBytes: number | null;
  lagSeconds: number | null;
  retainedWalBytes: number | null;
  streaming: boolean;
  consistent: boolean | null;
  differingSegments: number | null;
}

async function ensureTrendTable(runbook: Client): Promise<void> {
  await runbook.query(`CREATE TABLE IF NOT EXISTS standby_check_log (
    workflow_id text PRIMARY KEY, copy text NOT NULL, at timestamptz NOT NULL, lag_bytes bigint, lag_seconds double precision,
    retained_wal_bytes bigint, streaming boolean NOT NULL, consistent boolean, differing_segments integer)`);
}

export async function recordTrend(runbook: Client, p: TrendPoint): Promise<void> {
  await ensureTrendTable(runbook);
  await runbook.query(
    `INSERT INTO standby_check_log VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (workflow_id) DO NOTHING`,
    [p.workflowId, p.copy, p.at, p.lagBytes, p.lagSeconds, p.retainedWalBytes, p.streaming, p.consistent, p.differingSegments],
  );
}

export async function readTrend(runbook: Client, copy: string, limit = 96): Promise<TrendPoint[]> {
  await ensureTrendTable(runbook);
  const { rows } = await runbook.query(
    `SELECT * FROM (SELECT workflow_id, copy, at, lag_bytes::float8 AS lag_bytes, lag_seconds, retained_wal_bytes::float8 AS retained, streaming, consistent, differing_segments
       FROM standby_check_log WHERE copy = $1 ORDER BY at DESC LIMIT $2) t ORDER BY at`,
    [copy, limit],
  );
  return rows.map((r) => ({
    at: (r.at as Date).toISOString(),
    workflowId: r.workflow_id,
    copy: r.copy,
    lagBytes: r.lag_bytes,
    lagSeconds: r.lag_seconds,
    retainedWalBytes: r.retained,
    streaming: r.streaming,
    consistent: r.consistent,
    differingSegments: r.differing_segments,
  }));
}

const mb = (b: number | null | undefined) => (b === null || b === undefined ? '—' : `${(b / 1048576).toFixed(2)} MB`);
const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderStandbyMarkdown(state: StandbyState, workflowId: string, trend: TrendPoint[]): string {
  const out: string[] = [];
  const title = { setup: '备点库配置 Standby setup', check: '备点库巡检 Standby check', drill: '容灾演练 Disaster-recovery drill' }[state.action];
  out.push(`# ${title} — ${state.runId}`, '', `workflow \`${workflowId}\` · started by ${state.requestedBy} · status **${state.status}**`, '');
  if (state.config) {
    const c = state.config;
    out.push('## 配置 Configuration', '', '| | |', '|---|---|');
    out.push(`| 备份的数据内容范围 scope | ${esc(c.scope.description)} (${c.scope.tables.join(', ')}) |`);
    out.push(`| 备份频率 frequency | ${esc(c.frequency.replication)}; consistency check every ${c.frequency.checkEveryMinutes} min |`);
    out.push(`| 备份路径 paths | primary ${c.paths.primary}; standby ${c.paths.standby} — ${esc(c.paths.standbyLocation)}; DR ${c.paths.dr} — ${esc(c.paths.drLocation)} |`);
    out.push(`| 阈值 thresholds | lag ${mb(c.thresholds.lagBytes)} / ${c.thresholds.lagSeconds} s, retained WAL ${mb(c.thresholds.retainedWalBytes)} |`, `| dialect | ${c.dialect} |`, '');
  }
  if (state.setupActions?.length) out.push('## 执行动作 What setup did', '', ...state.setupActions.map((a) => `- ${a}`), '');
  if (state.proof) {
    out.push('## 同步证明 Streaming proof', '', `primary position ${state.proof.primaryLsn}`, '', '| copy | streaming | replayed | reached | waited |', '|---|---|---|---|---:|');
    for (const p of state.proof.copies) out.push(`| ${p.copy} | ${p.streaming ? 'yes' : '**no**'} | ${p.replayLsn ?? '—'} | ${p.reached ? 'yes' : '**no**'} | ${p.waitedMs} ms |`);
    out.push('');
  }
  if (state.health?.length) {
    out.push('## 复制状态 Replication health', '', '| at | streaming | primary | replayed | lag | lag s | slot | retained WAL |', '|---|---|---|---|---:|---:|---|---:|');
    for (const h of state.health) {
      out.push(`| ${h.at} | ${h.streaming ? 'yes' : '**no**'} | ${h.primaryLsn} | ${h.replayLsn ?? '—'} | ${mb(h.lagBytes)} | ${h.lagSeconds ?? '—'} | ${h.slot.name}${h.slot.active ? '' : ' (inactive)'} | ${mb(h.slot.retainedWalBytes)} |`);
    }
    out.push('');
  }
  out.push('## 告警 Alerts', '');
  if (!state.alerts.length) out.push('none 无', '');
  for (const a of state.alerts) out.push(`- **${a.kind}** (${a.copy}): ${a.subject}`, `  - 处置 what to do: ${a.action}`);
  if (state.alerts.length) out.push('');
  const check = state.check ?? state.drill?.verify;
  if (check) {
    out.push(`## 一致性 Consistency at primary position ${check.point}`, '');
    out.push(
      `standby ${check.catchUp.promoted ? 'was promoted (compared as it stands)' : check.catchUp.reached ? `replayed past it after ${check.catchUp.waitedMs} ms` : `**did not replay past it** (last ${check.catchUp.replayLsn ?? '—'})`}; ` +
        `${check.segments} segments, ${check.rowsCompared} rows compared in ${(check.contentMs / 1000).toFixed(1)} s; ${check.clearedOnRecheck} segments differed at first and agreed after catch-up (rows in flight); ` +
        `**${check.consistent ? '一致 consistent' : `不一致 ${check.differingSegments} segments differ`}**`,
      '',
      '| table | primary rows | standby rows | segments | differing | cleared on re-check |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const t of check.tables) out.push(`| ${t.table} | ${t.primaryRows} | ${t.standbyRows} | ${t.segments} | ${t.differingSegments} | ${t.clearedOnRecheck} |`);
    out.push('');
    for (const m of check.mismatches) {
      out.push(`### ${m.table} segment ${m.segmentId} ${describeSegment(m)}`, '', '| key | kind | detail |', '|---|---|---|');
      for (const d of m.differences) {
        const detail = d.fields?.map((f) => `${f.column}: ${JSON.stringify(f.source)} → ${JSON.stringify(f.target)}`).join('; ') ?? d.note ?? '';
        out.push(`| ${esc(d.key)} | ${d.kind === 'missing_in_target' ? 'missing on standby' : d.kind === 'extra_in_target' ? 'only on standby' : 'changed'} | ${esc(detail)} |`);
      }
      out.push('');
    }
  }
  if (state.drill) {
    const d = state.drill;
    out.push('## 容灾演练 Drill: RTO / RPO', '', '| | |', '|---|---|');
    out.push(`| fresh instance | ${d.instance} on port ${d.port}${d.kept ? ' (kept)' : ' (removed after the drill)'} |`);
    out.push(`| restore point 恢复点 | ${d.restorePoint ?? '—'} (primary at ${d.primaryLsn ?? '—'}) |`);
    out.push(`| RPO 数据丢失窗口 | ${d.rpoBytes ?? '—'} bytes, ${d.rpoSeconds ?? '—'} s |`);
    out.push(`| RTO 恢复时间 | ${d.rtoSeconds ?? '—'} s technical (restore + promote + first write); ${d.rtoWallSeconds ?? '—'} s with the ${d.decisionWaitSeconds ?? '—'} s the four-eyes decision took |`, '');
    out.push('### 执行动作 Actions', '', ...d.actions.map((a) => `- ${a}`), '');
  }
  if (state.decisions.length) {
    out.push('## 审批 Decisions', '', '| gate | decision | by | at | accepted |', '|---|---|---|---|---|');
    for (const d of state.decisions) out.push(`| ${d.gate} | ${d.decision} | ${d.actor} | ${d.at} | ${d.accepted ? 'yes' : `no: ${esc(d.refusal ?? '')}`} |`);
    out.push('');
  }
  if (trend.length) {
    out.push('## 延迟趋势 Lag trend (last checks)', '', '| at | streaming | lag | lag s | retained WAL | consistent |', '|---|---|---:|---:|---:|---|');
    for (const t of trend) out.push(`| ${t.at} | ${t.streaming ? 'yes' : '**no**'} | ${mb(t.lagBytes)} | ${t.lagSeconds ?? '—'} | ${mb(t.retainedWalBytes)} | ${t.consistent === null ? '—' : t.consistent ? 'yes' : `**no** (${t.differingSegments})`} |`);
    out.push('');
  }
  return out.join('\n');
}

/** The lag trend as an SVG line (lag bytes, and retained WAL dashed), for the HTML report. */
export function trendSvg(trend: TrendPoint[]): string {
  if (trend.length < 2) return '';
  const W = 640;
  const H = 180;
  const max = Math.max(1, ...trend.map((t) => Math.max(t.lagBytes ?? 0, t.retainedWalBytes ?? 0)));
  const x = (i: number) => 40 + (i * (W - 50)) / (trend.length - 1);
  const y = (v: number | null) => H - 20 - ((v ?? 0) * (H - 40)) / max;
  const line = (f: (t: TrendPoint) => number | null) => trend.map((t, i) => `${x(i).toFixed(1)},${y(f(t)).toFixed(1)}`).join(' ');
  return `<h2>延迟趋势 Lag trend</h2><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="lag trend">
<rect x="0" y="0" width="${W}" height="${H}" fill="#fff" stroke="#ccc"/>
<text x="4" y="14" font-size="11">max ${mb(max)}</text><text x="4" y="${H - 4}" font-size="11">${trend[0].at} … ${trend[trend.length - 1].at}</text>
<polyline fill="none" stroke="#c00" stroke-width="2" points="${line((t) => t.lagBytes)}"><title>lag bytes</title></polyline>
<polyline fill="none" stroke="#06c" stroke-dasharray="4 3" points="${line((t) => t.retainedWalBytes)}"><title>retained WAL</title></polyline>
${trend.map((t, i) => (t.streaming ? '' : `<circle cx="${x(i).toFixed(1)}" cy="${y(t.lagBytes).toFixed(1)}" r="4" fill="#000"><title>not streaming ${t.at}</title></circle>`)).join('')}
</svg><p>red: replication lag (bytes); blue dashed: WAL retained by the slot; black dots: not streaming.</p>`;
}

export function writeStandbyReport(dir: string, state: StandbyState, workflowId: string, trend: TrendPoint[]): { markdown: string; json: string; html: string; text: string } {
  fs.mkdirSync(dir, { recursive: true });
  const text = renderStandbyMarkdown(state, workflowId, trend);
  const files = { markdown: path.join(dir, 'standby-report.md'), json: path.join(dir, 'standby-report.json'), html: path.join(dir, 'standby-report.html') };
  fs.writeFileSync(files.markdown, text);
  fs.writeFileSync(files.json, JSON.stringify({ workflowId, ...state, report: undefined, trend }, null, 2));
  fs.writeFileSync(files.html, markdownToHtml(text, `备点库 ${state.runId}`).replace('</body>', `${trendSvg(trend)}</body>`));
  return { ...files, text };
}
