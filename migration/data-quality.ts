import { dialectOf, render, run } from '../lib/dialect';
import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import { castKey } from './key-order';
import type { Mapping, TableMapping } from './mapping';
import { entityTables, isComposite, isKeyless, keyColumn } from './mapping';
import { keyMatchesSql } from './composite-key';
import { issueStatusKept } from './target-schema';

/**
 * 问题数据清单 The data-quality report, read from the target's own records: the rows loaded flagged
 * (migration_data_quality) and the rows held in quarantine (migration_quarantine), per table, rule and
 * district, with examples — and how many entities would be missing from the new system if it went live now
 * (rows of the entityDetail's entity tables held in quarantine).
 */
export interface DataQualityGroup {
  table: string;
  rule: string;
  /** the row's district (the table's column mapped through the `division` code table), or null when the table has none */
  district: string | null;
  rows: number;
  /** up to three: key and the legacy value (issues) or the reason (quarantine) */
  examples: string[];
}

export interface DataQualityReport {
  /** rows loaded flagged, one data-quality issue per rule broken, still open (an issue the remediation loop corrected counts under `corrected`) */
  flagged: DataQualityGroup[];
  /** rows held in quarantine, waiting for correction or for their parent */
  quarantined: DataQualityGroup[];
  /** entity rows (the mapping's entityDetail tables, by default market_entity) held in quarantine: businesses missing from the new system if it went live now */
  entitiesMissing: number;
  /** 已整改 rows the remediation loop corrected (held rows it loaded, flagged rows it updated in place — `updated` of `rows`), and the waiting children that followed them, per table */
  corrected?: { table: string; rows: number; followed: number; updated?: number }[];
  /** 趋势 the same counts for the last rehearsals, oldest first (from the runbook database; absent when it could not be read) */
  trend?: { runId: string; at: string; flagged: number; quarantined: number; entitiesMissing: number; corrected: number }[];
}

/** The counts a run's line in the trend keeps. */
export function dataQualityTotals(report: DataQualityReport): { flagged: number; quarantined: number; entitiesMissing: number; corrected: number } {
  const sum = (gs: { rows: number }[]) => gs.reduce((n, g) => n + g.rows, 0);
  return { flagged: sum(report.flagged), quarantined: sum(report.quarantined), entitiesMissing: report.entitiesMissing, corrected: sum(report.corrected ?? []) };
}

/** The column that says a row's district: the table's column mapped through the `division` code table (行政区划代码). */
function districtColumn(table: TableMapping): string | undefined {
  return table.columns.find((c) => c.codeTable === 'division')?.target;
}

/** Through the target's dialect (lib/dialect.ts): openGauss gets the portable catalog query, not to_regclass. */
async function exists(target: Client, name: string): Promise<boolean> {
  const [r] = await run<{ ok: boolean }>(target, render(dialectOf(target), 'relationExists', {}, [name]));
  return r?.ok === true;
}

export async function dataQualityReport(target: Client, mapping: Mapping): Promise<DataQualityReport> {
  const flagged: DataQualityGroup[] = [];
  const quarantined: DataQualityGroup[] = [];
  let entitiesMissing = 0;
  const entities = entityTables(mapping);
  const hasIssues = await exists(target, 'migration_data_quality');
  const hasQuarantine = await exists(target, 'migration_quarantine');
  // 已整改 an issue the loop corrected is no longer open (a target from before the status was kept: every issue is)
  const open = hasIssues && (await issueStatusKept(target)) ? ' AND q.corrected_by IS NULL' : '';
  for (const table of mapping.tables) {
    const district = districtColumn(table);
    // 无键表 a keyless table's issues have no key to find their row by: no district
    const key = isKeyless(table) ? undefined : keyColumn(table);
    if (hasIssues) {
      // the district as loaded: the target row of the issue's key
      const joined = district && key && (await exists(target, table.target.table));
      const { rows } = await target.query<{ rule: string; district: string | null; n: number; examples: string[] }>(
        `SELECT q.rule, ${joined ? `t.${quoteIdent(district)}::text` : 'NULL::text'} AS district, count(*)::int AS n,
                (array_agg(coalesce(q.source_key, '?') || ' ' || q.column_name || '=' || coalesce(q.raw_value, 'NULL') ORDER BY q.source_key))[1:3] AS examples
           FROM migration_data_quality q
           ${joined ? `LEFT JOIN ${quoteIdent(table.target.table)} t ON ${isComposite(table) ? keyMatchesSql(table, 't', 'q.source_key') : `t.${quoteIdent(key.target)} = ${castKey('q.source_key', 'text', key.type)}`}` : ''}
          WHERE q.table_name = $1${open} GROUP BY 1, 2 ORDER BY 1, 2`,
        [table.name],
      );
      for (const r of rows) flagged.push({ table: table.name, rule: r.rule, district: r.district, rows: r.n, examples: r.examples });
    }
    if (hasQuarantine) {
      // the district as the legacy wrote it (the row never reached the target); waiting_for:<parent>:<key> counts per parent
      const districtSource = district ? table.columns.find((c) => c.target === district)!.source : undefined;
      const { rows } = await target.query<{ rule: string; district: string | null; n: number; keys: number; examples: string[] }>(
        `SELECT CASE WHEN rule LIKE 'waiting_for:%' THEN substring(rule from '^waiting_for:[^:]*') ELSE rule END AS rule,
                ${districtSource ? 'raw_row->>$2' : 'NULL::text'} AS district, count(*)::int AS n, count(DISTINCT source_key)::int AS keys,
                (array_agg(coalesce(source_key, '?') || ': ' || detail ORDER BY source_key))[1:3] AS examples
           FROM migration_quarantine WHERE table_name = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
        districtSource ? [table.name, districtSource] : [table.name],
      );
      for (const r of rows) quarantined.push({ table: table.name, rule: r.rule, district: r.district, rows: r.n, examples: r.examples });
      if (entities.has(table.name)) {
        entitiesMissing += (await target.query<{ n: number }>('SELECT count(DISTINCT source_key)::int AS n FROM migration_quarantine WHERE table_name = $1', [table.name])).rows[0].n;
      }
    }
  }
  // 已整改 corrected vs still open: what the remediation loop brought in (activities/remediation.ts records it with the load)
  const corrected: { table: string; rows: number; followed: number; updated?: number }[] = [];
  if (await exists(target, 'migration_remediation')) {
    const { rows: kept } = await target.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'migration_remediation' AND column_name = 'action'`);
    const { rows } = await target.query<{ table_name: string; rows: number; followed: number; updated: number }>(
      `SELECT table_name, count(DISTINCT CASE WHEN followed IS NULL THEN source_key END)::int AS rows, count(DISTINCT CASE WHEN followed IS NOT NULL THEN source_key END)::int AS followed,
              ${kept.length ? `count(DISTINCT CASE WHEN action = 'updated' THEN source_key END)::int` : '0'} AS updated
         FROM migration_remediation GROUP BY 1 ORDER BY 1`,
    );
    for (const r of rows) corrected.push({ table: r.table_name, rows: r.rows, followed: r.followed, ...(r.updated ? { updated: r.updated } : {}) });
  }
  return { flagged, quarantined, entitiesMissing, corrected };
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderDataQuality(report: DataQualityReport): string {
  const sum = (gs: DataQualityGroup[]) => gs.reduce((n, g) => n + g.rows, 0);
  const table = (gs: DataQualityGroup[]) =>
    gs.length === 0
      ? '_none 无_'
      : ['| table 表 | rule 规则 | district 区划 | rows 条数 | examples 示例 |', '|---|---|---|---|---|', ...gs.map((g) => `| ${g.table} | ${g.rule} | ${g.district ?? '—'} | ${g.rows} | ${cell(g.examples.join('; '))} |`)].join('\n');
  return [
    '## 问题数据清单 Data-quality report',
    '',
    `**主体缺失 Entities missing from the new system if it went live now: ${report.entitiesMissing}**`,
    '',
    `### 已加载并标记 Loaded flagged (${sum(report.flagged)} open issues 问题, 待整改)`,
    table(report.flagged),
    '',
    `### 隔离待整改 Held in quarantine (${sum(report.quarantined)} rows still open 待整改)`,
    table(report.quarantined),
    '',
    `### 已整改 Corrected through the remediation loop (${(report.corrected ?? []).reduce((n, c) => n + c.rows, 0)} rows)`,
    report.corrected?.length
      ? ['| table 表 | corrected 已整改 | of them flagged rows corrected in place 标记数据已整改 | children followed 跟随加载 |', '|---|---|---|---|', ...report.corrected.map((c) => `| ${c.table} | ${c.rows} | ${c.updated ?? 0} | ${c.followed} |`)].join('\n')
      : '_none 无_',
    ...(report.trend?.length
      ? [
          '',
          `### 趋势 Trend across rehearsals (${report.trend.map((t) => `${t.runId}: ${t.flagged + t.quarantined}`).join(' → ')} issues and held rows)`,
          '| run 运行 | at 时间 | flagged 标记 | held 隔离 | entities missing 主体缺失 | corrected 已整改 |',
          '|---|---|---|---|---|---|',
          ...report.trend.map((t) => `| ${t.runId} | ${t.at.slice(0, 16).replace('T', ' ')} | ${t.flagged} | ${t.quarantined} | ${t.entitiesMissing} | ${t.corrected} |`),
        ]
      : []),
  ].join('\n');
}

/** One held row or one data-quality issue, as business staff work through them (问题数据清单 sheet). */
export interface DataQualityRow {
  kind: 'quarantined' | 'flagged';
  table: string;
  rule: string;
  key: string | null;
  column: string | null;
  rawValue: string | null;
  detail: string;
  chunk: string;
  /** the legacy row as read (held rows) */
  rawRow: Record<string, string | null> | null;
}

/** Which rows of the sheet: a table, a rule (or its kind: `invalid_capital` matches `invalid_capital:regcap`), held or flagged. */
export interface DataQualityFilter {
  table?: string;
  rule?: string;
  kind?: DataQualityRow['kind'];
}

/** Every held row and every open issue (one the loop corrected is done: 已整改), in table, rule and key order (at most `limit` of each, the first ones). */
export async function dataQualityRows(target: Client, limit = 100_000, filter: DataQualityFilter = {}): Promise<DataQualityRow[]> {
  const out: DataQualityRow[] = [];
  // $2 table, $3 rule or rule kind: NULL matches all
  const where = `WHERE ($2::text IS NULL OR table_name = $2) AND ($3::text IS NULL OR rule = $3 OR rule LIKE $3 || ':%')`;
  const params = [limit, filter.table ?? null, filter.rule ?? null];
  if (filter.kind !== 'flagged' && (await exists(target, 'migration_quarantine'))) {
    const { rows } = await target.query<{ table_name: string; rule: string; source_key: string | null; detail: string; chunk_id: string; raw_row: Record<string, string | null> }>(
      `SELECT table_name, rule, source_key, detail, chunk_id, raw_row FROM migration_quarantine ${where} ORDER BY table_name, rule, source_key LIMIT $1`,
      params,
    );
    for (const r of rows) out.push({ kind: 'quarantined', table: r.table_name, rule: r.rule, key: r.source_key, column: null, rawValue: null, detail: r.detail, chunk: r.chunk_id, rawRow: r.raw_row });
  }
  if (filter.kind !== 'quarantined' && (await exists(target, 'migration_data_quality'))) {
    const open = (await issueStatusKept(target)) ? ' AND corrected_by IS NULL' : '';
    const { rows } = await target.query<{ table_name: string; rule: string; source_key: string | null; column_name: string; raw_value: string | null; detail: string; chunk_id: string }>(
      `SELECT table_name, rule, source_key, column_name, raw_value, detail, chunk_id FROM migration_data_quality ${where}${open} ORDER BY table_name, rule, source_key LIMIT $1`,
      params,
    );
    for (const r of rows) out.push({ kind: 'flagged', table: r.table_name, rule: r.rule, key: r.source_key, column: r.column_name, rawValue: r.raw_value, detail: r.detail, chunk: r.chunk_id, rawRow: null });
  }
  return out;
}

/** A CSV field: always quoted, quotes doubled; a leading = + - @ kept as text (no formula in Excel). */
function csvField(v: string | null): string {
  const s = v ?? '';
  return `"${(/^[=+\-@]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;
}

/** The sheet as CSV with a UTF-8 BOM and CRLF, so Excel opens the Chinese text as it is. */
export function dataQualityCsv(rows: DataQualityRow[]): string {
  const head = ['kind 类型', 'table 表', 'rule 规则', 'key 主键', 'column 字段', 'raw_value 原值', 'detail 说明', 'chunk 分块', 'raw_row 原始记录'];
  const lines = rows.map((r) => [r.kind, r.table, r.rule, r.key, r.column, r.rawValue, r.detail, r.chunk, r.rawRow ? JSON.stringify(r.rawRow) : null].map(csvField).join(','));
  return '\ufeff' + [head.map(csvField).join(','), ...lines].join('\r\n') + '\r\n';
}
