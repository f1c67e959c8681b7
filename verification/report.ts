import fs from 'node:fs';
import path from 'node:path';
import type { BusinessTestResult } from './business-tests';
import type { RowDifference, SegmentResult } from './content';
import { describeSegment } from './content';
import type { TableCountCheck } from './counts';
import type { SampleResult } from './sampling';

/**
 * 验证报告 The verification report a gate approver reads in two minutes: verdict first, then counts,
 * checksums, samples, business tests, then the differences in detail. JSON for machines, Markdown for people.
 */
export type Verdict = 'passed' | 'failed' | 'incomplete';

export interface ContentSummary {
  table: string;
  segments: number;
  failedSegments: number;
  sourceRows: number;
  quarantinedRows: number;
  targetRows: number;
  differenceTotals: Record<string, number>;
}

export interface VerificationReport {
  runId: string;
  verdict: Verdict;
  /** one line per reason the verdict is not "passed" */
  reasons: string[];
  startedAt: string;
  finishedAt: string;
  legacy: string;
  target: string;
  canonicalForm: string;
  counts: TableCountCheck[];
  content: ContentSummary[];
  /** failed segments only; a passing segment is in the summary */
  failedSegments: SegmentResult[];
  sample?: SampleResult;
  business?: BusinessTestResult | { skipped: string };
  rowsVerified: number;
  contentMs: number;
}

export const CANONICAL_FORM =
  'one PostgreSQL COPY text line per row in mapping column order; NULL = \\N ≠ \'\'; numeric as stored (scale kept), ISO dates/timestamps, timestamptz in UTC, t/f; whitespace significant; keys in code-point order (COLLATE "C")';

export function summariseContent(segments: SegmentResult[]): ContentSummary[] {
  const byTable = new Map<string, ContentSummary>();
  for (const s of segments) {
    const c = byTable.get(s.table) ?? { table: s.table, segments: 0, failedSegments: 0, sourceRows: 0, quarantinedRows: 0, targetRows: 0, differenceTotals: {} };
    c.segments++;
    if (!s.ok) c.failedSegments++;
    c.sourceRows += s.sourceRows;
    c.quarantinedRows += s.quarantinedRows;
    c.targetRows += s.targetRows;
    for (const [k, n] of Object.entries(s.differenceTotals)) c.differenceTotals[k] = (c.differenceTotals[k] ?? 0) + (n ?? 0);
    byTable.set(s.table, c);
  }
  return [...byTable.values()];
}

/** The verdict and its reasons, from the parts; business tests not configured leave it incomplete, never passed. */
export function decideVerdict(r: Pick<VerificationReport, 'counts' | 'content' | 'sample' | 'business'>): { verdict: Verdict; reasons: string[] } {
  const reasons: string[] = [];
  for (const c of r.counts) if (!c.ok) reasons.push(`记录数 counts: ${c.table}: ${c.problems.join('; ')}`);
  for (const c of r.content) {
    if (c.failedSegments) reasons.push(`全量校验 checksums: ${c.table}: ${c.failedSegments} of ${c.segments} segments differ (${Object.entries(c.differenceTotals).map(([k, n]) => `${n} ${k}`).join(', ')})`);
  }
  if (r.sample && !r.sample.ok) reasons.push(`抽样 sampling: ${r.sample.entities.filter((e) => !e.ok).map((e) => e.pripid).join(', ')} differ`);
  if (r.business && 'cases' in r.business && !r.business.ok) reasons.push(`业务测试 business tests: ${r.business.cases.filter((c) => !c.ok).map((c) => `${c.operation} on ${c.pripid}`).join(', ')} failed`);
  if (reasons.length) return { verdict: 'failed', reasons };
  const missing: string[] = [];
  if (!r.sample) missing.push('抽样 sampling not run');
  if (!r.business || 'skipped' in r.business) missing.push(`业务测试 business tests not run${r.business && 'skipped' in r.business ? ` (${r.business.skipped})` : ''}`);
  return missing.length ? { verdict: 'incomplete', reasons: missing } : { verdict: 'passed', reasons: [] };
}

const VERDICT = { passed: '✅ 通过 PASSED', failed: '❌ 不通过 FAILED', incomplete: '⚠️ 未完成 INCOMPLETE' };
const cell = (v: unknown) => String(v ?? '∅').replace(/\|/g, '\\|').replace(/\n/g, ' ');

function renderDifference(d: RowDifference): string {
  const fields = d.fields?.map((f) => `\`${f.column}\`: ${cell(JSON.stringify(f.source))} → ${cell(JSON.stringify(f.target))}`).join('; ');
  // 无键表 a keyless table's row has no key: its content is shown instead
  const key = d.row ? Object.entries(d.row).map(([c, v]) => `${c}=${v === null ? '∅' : JSON.stringify(v)}`).join(', ') : d.key;
  return `| ${d.table} | \`${cell(key)}\` | ${d.kind} | ${fields ?? cell(d.note)} |`;
}

export function renderMarkdown(r: VerificationReport): string {
  const L: string[] = [];
  L.push(`# 迁移结果验证报告 Verification report — ${r.runId}`, '', `## 结论 Verdict: ${VERDICT[r.verdict]}`, '');
  for (const reason of r.reasons) L.push(`- ${reason}`);
  L.push('', `Legacy 旧库: \`${r.legacy}\` · Target 新库: \`${r.target}\` · ${r.startedAt} → ${r.finishedAt}`, '');
  L.push('## 记录数核对 Record counts', '', '| table 表 | source 源 | loaded 已迁移 | quarantined 隔离 | ok |', '|---|---:|---:|---:|---|');
  for (const c of r.counts) L.push(`| ${c.table} | ${c.source} | ${c.loaded} | ${c.quarantined} | ${c.ok ? '✅' : '❌ ' + cell(c.problems.join('; '))} |`);
  const rps = r.contentMs ? Math.round(r.rowsVerified / (r.contentMs / 1000)) : 0;
  L.push('', `## 全量内容校验 Full-content checksums (${r.rowsVerified} rows, ${rps} rows/s)`, '', `Canonical form 规范形式: ${r.canonicalForm}.`, '');
  L.push('| table 表 | segments 分段 | differing 不一致 | source rows | quarantined 隔离 | target rows | differences 差异 |', '|---|---:|---:|---:|---:|---:|---|');
  for (const c of r.content) {
    const totals = Object.entries(c.differenceTotals).map(([k, n]) => `${n} ${k}`).join(', ');
    L.push(`| ${c.table} | ${c.segments} | ${c.failedSegments} | ${c.sourceRows} | ${c.quarantinedRows} | ${c.targetRows} | ${totals || '—'} |`);
  }
  if (r.sample) {
    L.push('', `## 分层抽样 Stratified sampling (seed ${r.sample.seed}, ${r.sample.perType} per entity type 每类)`, '', '| table 表 | enttype 企业类型 | population 总数 | sampled 抽样 | differing 不一致 |', '|---|---|---:|---:|---:|');
    for (const s of r.sample.strata) L.push(`| ${s.table ?? 'market_entity'} | ${s.enttype} | ${s.population} | ${s.sampled} | ${s.failed} |`);
    L.push('', `Sampled 抽样主体: ${r.sample.entities.map((e) => `${e.pripid}${e.ok ? '' : ' ❌'}`).join(', ')}`);
  } else L.push('', '## 分层抽样 Stratified sampling', '', 'not run 未执行');
  L.push('', '## 业务测试 Business tests (变更 change, 注销 cancellation)', '');
  if (!r.business) L.push('not run 未执行');
  else if ('skipped' in r.business) L.push(`skipped 未执行: ${r.business.skipped}`);
  else {
    L.push(`Business interface 业务接口: ${r.business.baseUrl}; test data rolled back 测试数据已回滚: ${r.business.rolledBack ? 'yes 是' : 'NO 否'}`, '', '| entity 主体 | operation 操作 | HTTP | persisted 已落库 | ok | detail |', '|---|---|---:|---|---|---|');
    for (const c of r.business.cases) L.push(`| ${c.pripid} | ${c.title} | ${c.httpStatus ?? '—'} | ${c.persisted ? 'yes' : 'no'} | ${c.ok ? '✅' : '❌'} | ${cell(c.detail)} |`);
  }
  const diffs = [...r.failedSegments.flatMap((s) => s.differences), ...(r.sample?.entities.flatMap((e) => e.differences) ?? [])];
  L.push('', '## 差异明细 Differences in detail', '');
  if (!diffs.length) L.push('none 无');
  else {
    for (const s of r.failedSegments) L.push(`- ${s.table} segment ${s.segmentId} ${describeSegment(s)}: source ${s.sourceRows} rows sha256 ${s.sourceSha256.slice(0, 16)}…, target ${s.targetRows} rows sha256 ${s.targetSha256.slice(0, 16)}…`);
    L.push('', '| table 表 | key 主键 | kind 类型 | fields 字段 (source 源 → target 新库) |', '|---|---|---|---|');
    for (const d of diffs) L.push(renderDifference(d));
    L.push('', `(at most ${50} differences per segment are listed; totals above)`);
  }
  return L.join('\n') + '\n';
}

/** Writes report.json and report.md under dir (write then rename, so no reader sees half a report). */
export function writeReport(dir: string, report: VerificationReport): { json: string; markdown: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'verification-report.json');
  const markdown = path.join(dir, 'verification-report.md');
  for (const [file, text] of [[json, JSON.stringify(report, null, 2)], [markdown, renderMarkdown(report)]]) {
    fs.writeFileSync(`${file}.partial`, text);
    fs.renameSync(`${file}.partial`, file);
  }
  return { json, markdown };
}
