import type { Client, PoolClient } from 'pg';
import { didYouMean } from '../lib/config-file';
import { quoteIdent, quoteQualified } from '../lib/db';
import { CLEANERS, RuleFailure } from './cleansing';
import { policyFor } from './anomaly-policy';
import type { LegacyCodeTable } from './code-tables';
import type { ColumnMapping, ColumnType, Mapping, TableMapping } from './mapping';
import { keyColumn, keyColumns } from './mapping';
import type { PreflightProblem, SourceAdapter } from './source';
import { targetTableDdl } from './target-schema';

/**
 * 预检 Preflight: the mapping checked against the live catalogs before anything runs — every legacy
 * table and column (a misspelt `entnmae` is named here, with the column meant, not after fifteen
 * minutes of retried chunks), whether each legacy type can become the mapped type, which legacy codes
 * no code table knows, and whether a target table that already exists has the mapped columns and
 * types. Every problem at once; warnings (codes that will be quarantined, a key without an index)
 * do not stop a run, errors do.
 */
import type { PreflightReport } from './preflight-report';
export type { PreflightReport };

type Db = Pick<Client | PoolClient, 'query'>;

/** How PostgreSQL groups types (pg_type.typcategory): S string, N numeric, D date/time, B boolean. */
type Category = 'S' | 'N' | 'D' | 'B' | string;

/**
 * Which legacy type categories can become each mapped type. Text can become anything (a value that does
 * not fit is quarantined row by row, with its rule); a date cannot become a number, nor a number a date.
 */
const ACCEPTS: Record<ColumnType, Category[]> = {
  text: ['S', 'N', 'D', 'B', 'U', 'E', 'I', 'V'],
  numeric: ['S', 'N'],
  integer: ['S', 'N'],
  bigint: ['S', 'N'],
  date: ['S', 'D'],
  timestamp: ['S', 'D'],
  timestamptz: ['S', 'D'],
  boolean: ['S', 'N', 'B'],
};

/** What the target's catalog calls each mapped type (format_type). */
const TARGET_TYPE_NAMES: Record<ColumnType, RegExp> = {
  text: /^(text|character varying(\(\d+\))?|varchar)$/,
  numeric: /^numeric(\(\d+(,\d+)?\))?$/,
  integer: /^integer$/,
  bigint: /^bigint$/,
  date: /^date$/,
  timestamp: /^timestamp(\(\d\))? without time zone$/,
  timestamptz: /^timestamp(\(\d\))? with time zone$/,
  boolean: /^boolean$/,
};

interface CatalogColumn {
  name: string;
  type: string;
  category: Category;
  notNull: boolean;
  hasDefault: boolean;
  indexedFirst: boolean;
}

/** A relation's columns as the catalog has them, or null when the name resolves to nothing. */
async function catalogColumns(db: Db, relation: string): Promise<{ columns: CatalogColumn[]; readable: boolean } | null> {
  const { rows: rel } = await db.query<{ oid: number | null; readable: boolean | null }>(
    `SELECT to_regclass($1)::oid AS oid, CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE has_table_privilege(to_regclass($1), 'SELECT') END AS readable`,
    [relation],
  );
  if (!rel[0]?.oid) return null;
  const { rows } = await db.query<CatalogColumn>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory AS category, a.attnotnull AS "notNull",
            a.atthasdef AS "hasDefault",
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum) AS "indexedFirst"
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [rel[0].oid],
  );
  return { columns: rows, readable: rel[0].readable === true };
}

async function visibleTables(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND pg_table_is_visible(c.oid) AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
  );
  return rows.map((r) => r.name);
}

const near = (word: string, known: string[]) => {
  const n = didYouMean(word, known);
  return n ? ` — did you mean "${n}"? 是否应为 "${n}"` : '';
};

/**
 * The legacy side, when it is PostgreSQL: every table and column of the mapping in the live catalog,
 * readable, of a type the mapped type can take; every code a code table must convert, known to it.
 */
export async function checkPostgresLegacy(db: Db, mapping: Mapping): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  let tables: string[] | undefined;
  for (const [ti, table] of mapping.tables.entries()) {
    const at = `tables[${ti}] (${table.name})`;
    const found = await catalogColumns(db, table.source.table);
    if (!found) {
      tables ??= await visibleTables(db);
      problems.push({
        where: `${at}.source.table`,
        problem: `legacy table "${table.source.table}" does not exist 旧库中不存在该表${near(table.source.table, tables)}`,
        action: 'correct the table name in the mapping, or the legacy connection (database, schema)',
      });
      continue;
    }
    if (!found.readable) {
      problems.push({ where: `${at}.source.table`, problem: `the legacy user may not read "${table.source.table}" 无查询权限`, action: `GRANT SELECT ON ${table.source.table} TO the runbook's legacy user` });
    }
    const byName = new Map(found.columns.map((c) => [c.name, c]));
    const names = found.columns.map((c) => c.name);
    const seen = new Set<string>();
    for (const [ci, col] of table.columns.entries()) {
      if (seen.has(col.source)) continue; // one legacy column feeding two target columns (uniscid, uniscid_valid)
      seen.add(col.source);
      const legacy = byName.get(col.source);
      const where = `${at}.columns[${ci}].source`;
      if (!legacy) {
        problems.push({
          where,
          problem: `column "${col.source}" does not exist in legacy table ${table.source.table} 旧库表中不存在该列${near(col.source, names)}`,
          action: 'correct the column name in the mapping',
        });
        continue;
      }
      if (!ACCEPTS[col.type].includes(legacy.category)) {
        problems.push({
          where: `${at}.columns[${ci}].type`,
          problem: `legacy ${table.source.table}.${col.source} is ${legacy.type}, which cannot become ${col.type} (target ${table.target.table}.${col.target}) 类型不兼容`,
          action: `map it to a type ${legacy.type} can become, or add a cleansing rule`,
        });
      }
    }
    const key = table.source.keyless ? undefined : byName.get(table.source.key);
    if (key && !key.indexedFirst) {
      problems.push({
        where: `${at}.source.key`,
        severity: 'warning',
        problem: `legacy key ${table.source.table}.${table.source.key} leads no index: planning and every chunk sort the table 键列无索引`,
        action: 'the copy still works; an index on the key makes it faster',
      });
    }
    if (found.readable) problems.push(...(await unknownCodes(db, mapping, table, at, byName)));
  }
  return problems;
}

/** Distinct values looked at per code column; a column with more is not a code column and is said so. */
const MAX_DISTINCT_CODES = 10_000;

/**
 * Legacy codes that no code table converts, counted: the migration quarantines those rows or loads them
 * flagged as unmapped_code:<table>, by the column's policy. A warning (registries do hold such
 * codes), listed with counts so the code table can be completed before the weekend.
 */
async function unknownCodes(db: Db, mapping: Mapping, table: TableMapping, at: string, columns: Map<string, CatalogColumn>): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  for (const [ci, col] of table.columns.entries()) {
    if (!col.codeTable || !columns.has(col.source)) continue;
    const codes = mapping.codeTables.get(col.codeTable)!.values;
    const { rows } = await db.query<{ v: string; n: string }>(
      `SELECT ${quoteIdent(col.source)}::text AS v, count(*) AS n FROM ${quoteQualified(table.source.table)} WHERE ${quoteIdent(col.source)} IS NOT NULL GROUP BY 1 LIMIT ${MAX_DISTINCT_CODES + 1}`,
    );
    if (rows.length > MAX_DISTINCT_CODES) {
      problems.push({ where: `${at}.columns[${ci}].codeTable`, problem: `${table.source.table}.${col.source} holds more than ${MAX_DISTINCT_CODES} distinct values: not a code column?`, action: 'check the column mapped through code table ' + col.codeTable });
      continue;
    }
    const unknown = rows.filter((r) => !codeConverts(col, codes, r.v)).sort((a, b) => Number(b.n) - Number(a.n));
    if (!unknown.length) continue;
    const total = unknown.reduce((s, r) => s + Number(r.n), 0);
    // what the run will do with them: the column's policy for unmapped_code (anomaly-policy.ts)
    const policy = policyFor('unmapped_code', col, { keyColumn: table.source.keyless ? '' : keyColumn(table).target, keyColumns: keyColumns(table).map((c) => c.target), parentColumn: table.parent?.column }, mapping.anomalyPolicies);
    const fate =
      policy.policy === 'quarantine'
        ? `they will be quarantined as unmapped_code:${col.codeTable}`
        : `they will be loaded flagged as unmapped_code:${col.codeTable} (${col.target} ${policy.value === null ? 'NULL' : `"${policy.value}"`}, a data-quality issue each)`;
    problems.push({
      where: `${at}.columns[${ci}].codeTable`,
      severity: 'warning',
      problem: `${total} legacy rows hold ${unknown.length} code${unknown.length === 1 ? '' : 's'} not in code table ${col.codeTable} 代码对照表缺少代码: ${unknown
        .slice(0, 10)
        .map((r) => `"${r.v}" (${r.n})`)
        .join(', ')}${unknown.length > 10 ? ' …' : ''}; ${fate}`,
      action: `add them to code table ${col.codeTable}, or accept that the rows are ${policy.policy === 'quarantine' ? 'held in quarantine' : 'loaded flagged for correction'}`,
    });
  }
  return problems;
}

/** What the transform does with a code value: empty is NULL (no code), else cleaned, trimmed and looked up. */
function codeConverts(col: ColumnMapping, codes: Map<string, string>, value: string): boolean {
  let v: string | null = value === '' ? null : value;
  if (v !== null && col.clean) {
    const cleaned = CLEANERS[col.clean](v);
    if (cleaned instanceof RuleFailure) return true; // quarantined by its cleansing rule, not by the code table
    v = cleaned;
  }
  return v === null || codes.has(v.trim());
}

/**
 * The target side: a mapped table the migrate step will create is fine; one that exists already must
 * have every mapped column with the mapped type (CREATE TABLE IF NOT EXISTS will not change it), and no
 * NOT NULL column the mapping does not fill.
 */
export async function checkTarget(db: Db, mapping: Mapping): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  for (const [ti, table] of mapping.tables.entries()) {
    const at = `tables[${ti}] (${table.name})`;
    const found = await catalogColumns(db, table.target.table);
    if (!found) {
      // The migrate step will create it: its definition (types, CHECKs) is tried now, in a transaction rolled back.
      const refused = await tryDdl(db, targetTableDdl(table));
      if (refused) problems.push({ where: `${at}.target`, problem: `the target refuses the table's definition 目标库不接受表定义: ${refused}`, action: 'correct the column types or CHECKs of the mapping' });
      continue;
    }
    const byName = new Map(found.columns.map((c) => [c.name, c]));
    const names = found.columns.map((c) => c.name);
    for (const [ci, col] of table.columns.entries()) {
      const have = byName.get(col.target);
      if (!have) {
        problems.push({
          where: `${at}.columns[${ci}].target`,
          problem: `target table ${table.target.table} exists without column "${col.target}" 目标表缺少该列${near(col.target, names)}`,
          action: `correct the mapping, or ALTER TABLE ${table.target.table} ADD COLUMN ${col.target} ${col.type} (or drop the table and let the migrate step create it)`,
        });
      } else if (!TARGET_TYPE_NAMES[col.type].test(have.type)) {
        problems.push({
          where: `${at}.columns[${ci}].type`,
          problem: `target ${table.target.table}.${col.target} is ${have.type}, the mapping says ${col.type} 目标列类型不一致`,
          action: 'make the mapping and the target table agree',
        });
      }
    }
    const mapped = new Set(table.columns.map((c) => c.target));
    for (const c of found.columns) {
      if (c.notNull && !c.hasDefault && !mapped.has(c.name)) {
        problems.push({
          where: `${at}.columns`,
          problem: `target ${table.target.table}.${c.name} is NOT NULL without a default, and no column of the mapping fills it: every row would be refused 目标必填列未映射`,
          action: `map a column (or a constant) to ${c.name}, or give it a default`,
        });
      }
    }
  }
  return problems;
}

/** Runs DDL in a transaction that is always rolled back: the server's refusal, or undefined. */
async function tryDdl(db: Db, ddl: string): Promise<string | undefined> {
  await db.query('BEGIN');
  try {
    await db.query(ddl);
    return undefined;
  } catch (err) {
    if (!isServerRefusal(err)) throw err;
    return (err as Error).message;
  } finally {
    await db.query('ROLLBACK');
  }
}

/** The rows of a code table kept in a PostgreSQL legacy database: [legacy code, target code]. */
export async function readPostgresCodeTable(db: Db, spec: LegacyCodeTable): Promise<[string, string][]> {
  if (spec.query !== undefined) {
    // 代码查询 the mapping's SELECT as a subquery (one statement: a second one is a syntax error), on the read-only session
    const { rows } = await db.query<{ code: string; target: string }>(
      `SELECT q.code::text AS code, q.target::text AS target FROM (${spec.query.replace(/;\s*$/, '')}) AS q WHERE q.code IS NOT NULL`,
    );
    return rows.map((r) => [r.code, r.target]);
  }
  const { rows } = await db.query<{ code: string; target: string }>(
    `SELECT ${quoteIdent(spec.code!)}::text AS code, ${quoteIdent(spec.target!)}::text AS target FROM ${quoteIdent(spec.table!)} WHERE ${quoteIdent(spec.code!)} IS NOT NULL`,
  );
  return rows.map((r) => [r.code, r.target]);
}

/**
 * The whole preflight: the legacy side through its adapter (an adapter without a preflight is said
 * so, as a warning), the target side on the given connection. Nothing is written anywhere.
 */
export async function runPreflight(opts: { mapping: Mapping; source: SourceAdapter; target: Db; now?: () => Date }): Promise<PreflightReport> {
  const { mapping, source, target } = opts;
  const all: PreflightProblem[] = [];
  const guard = async (side: string, fn: () => Promise<PreflightProblem[]>) => {
    try {
      all.push(...(await fn()));
    } catch (err) {
      // A dropped or refused connection is retried by the caller; what the server refused to answer is a finding.
      if (!isServerRefusal(err)) throw err;
      all.push({ where: side, problem: `cannot check the ${side} catalog: ${(err as Error).message}`, action: `check the ${side} connection and its user's rights` });
    }
  };
  if (source.preflight) await guard('legacy', () => source.preflight!(mapping));
  else all.push({ where: 'legacy', severity: 'warning', problem: `the ${source.kind} source has no preflight: its catalog was not checked`, action: 'run a rehearsal before the weekend' });
  await guard('target', () => checkTarget(target, mapping));
  const columns = mapping.tables.reduce((n, t) => n + t.columns.length, 0);
  const codeColumns = mapping.tables.reduce((n, t) => n + t.columns.filter((c) => c.codeTable).length, 0);
  return {
    at: (opts.now?.() ?? new Date()).toISOString(),
    errors: all.filter((p) => p.severity !== 'warning'),
    warnings: all.filter((p) => p.severity === 'warning'),
    checked: { tables: mapping.tables.length, columns, codeColumns },
  };
}

/** An error the server answered with (a SQLSTATE), other than connection loss, shutdown or lack of resources. */
function isServerRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57)/.test(code);
}

/** The report as lines a person reads (mapping:check, the step's failure message). */
export function formatPreflight(report: PreflightReport): string {
  const line = (p: PreflightProblem) => `  - ${p.where}: ${p.problem}${p.action ? ` → ${p.action}` : ''}`;
  return [
    report.errors.length
      ? `预检不通过 preflight found ${report.errors.length} problem${report.errors.length === 1 ? '' : 's'}:`
      : `预检通过 preflight passed (${report.checked.tables} tables, ${report.checked.columns} columns, ${report.checked.codeColumns} code columns)`,
    ...report.errors.map(line),
    ...(report.warnings.length ? [`提示 ${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'}:`, ...report.warnings.map(line)] : []),
  ].join('\n');
}
