import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { ConfigError } from '../lib/config-file';
import { identifier } from './mapping-schema';

/**
 * 基础代码对照表 Code tables: legacy code → target code, from a CSV file (parsed by a real CSV library:
 * quoting, embedded commas, a UTF-8 BOM as spreadsheets write it) or from a table kept in the legacy
 * database itself; plus retired codes (撤销代码) with their successor and the date they were retired,
 * e.g. 440782 新会市 → 440705 新会区. Everything is data: the transform only ever sees the final map.
 */
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD');

export const retiredCodeSchema = z.strictObject({
  /** the legacy code no longer valid */
  code: z.string().min(1),
  /** the target code that replaces it (must be a target code of the same table) */
  successor: z.string().min(1),
  /** the day from which the code was no longer issued */
  retiredOn: isoDate,
  title: z.string().min(1).optional(),
});

/**
 * A code table kept in the legacy database: its table and the columns holding the legacy code, the target
 * code and a label; or 代码查询 a query on the legacy database whose rows are (code, target[, label]), e.g.
 * "SELECT dm AS code, xdm AS target FROM dm_qylx WHERE yxbz = '1'". A query is one SELECT (or WITH … SELECT),
 * read as a subquery on the legacy side's read-only session: it can read, never write, and it never
 * reaches the target (its rows become the code map, as a CSV's do).
 */
const CODE_QUERY = /^\s*(select|with)\b[^;]*;?\s*$/is;
export const legacyCodeTableSchema = z
  .strictObject({
    table: identifier.optional(),
    code: identifier.optional(),
    target: identifier.optional(),
    label: identifier.optional(),
    query: z.string().regex(CODE_QUERY, 'expected one SELECT (or WITH … SELECT) statement returning the columns code and target').optional(),
  })
  .refine((t) => (t.query === undefined ? t.table !== undefined && t.code !== undefined && t.target !== undefined : t.table === undefined && t.code === undefined && t.target === undefined && t.label === undefined), {
    message: 'give either "query" (a SELECT returning code, target) or "table", "code" and "target" (the columns of a legacy table)',
  });

/** What a legacy code table is called in messages: its table, or "query". */
export function legacyCodeSourceName(spec: LegacyCodeTable): string {
  return spec.query !== undefined ? 'its query' : spec.table!;
}

export const codeTableSpecSchema = z
  .strictObject({
    title: z.string().min(1),
    /** CSV file `legacy,target,label`, relative to the mapping file */
    file: z.string().min(1).optional(),
    /** or: read from the legacy database when the worker (or mapping:check) starts */
    legacy: legacyCodeTableSchema.optional(),
    retired: z.array(retiredCodeSchema).default([]),
  })
  .refine((t) => (t.file === undefined) !== (t.legacy === undefined), { message: 'give exactly one of "file" (a CSV) or "legacy" (a table in the legacy database)' });

export type CodeTableSpec = z.infer<typeof codeTableSpecSchema>;
export type LegacyCodeTable = z.infer<typeof legacyCodeTableSchema>;
export type RetiredCode = z.infer<typeof retiredCodeSchema>;

export interface CodeTable {
  name: string;
  title: string;
  /** legacy value → target value, retired codes included (mapped to their successor) */
  values: Map<string, string>;
  /** where the values come from: a CSV read at load, or a legacy table read by resolveLegacyCodeTables */
  origin: { file: string } | { legacy: LegacyCodeTable };
  retired: RetiredCode[];
}

const HEADER = ['legacy', 'target', 'label'];

/** Parses a code table's CSV: header `legacy,target,label`, every row three fields, no code twice. */
export function parseCodeTableCsv(text: string, file: string): Map<string, string> {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, info: true, relax_column_count: true }) as unknown as typeof records;
  } catch (err) {
    throw new Error(`${file}: not valid CSV: ${(err as Error).message}`, { cause: err });
  }
  const [head, ...rows] = records;
  if (!head || head.record.map((h) => h.trim()).join(',') !== HEADER.join(',')) {
    throw new Error(`${file}: first line must be the header "legacy,target,label"`);
  }
  const values = new Map<string, string>();
  for (const { record, info } of rows) {
    const at = `${file}:${info.lines}`;
    if (record.length !== 3) throw new Error(`${at}: expected 3 fields "legacy,target,label", got ${record.length} (quote a label that holds a comma)`);
    const [legacy, target] = record;
    if (!legacy.trim() || !target.trim()) throw new Error(`${at}: legacy and target codes must not be empty`);
    if (values.has(legacy)) throw new Error(`${at}: legacy value "${legacy}" listed twice`);
    values.set(legacy, target);
  }
  return values;
}

/**
 * Builds one code table from its spec: a CSV is read now; a legacy table is left empty for
 * resolveLegacyCodeTables. Retired codes are added as legacy → successor; problems are returned with
 * their JSON path, not thrown, so the loader lists them all at once.
 */
export function loadCodeTable(name: string, spec: CodeTableSpec, mappingFile: string): { table?: CodeTable; problems: string[] } {
  const where = `codeTables.${name}`;
  const problems: string[] = [];
  let values = new Map<string, string>();
  let origin: CodeTable['origin'];
  if (spec.file !== undefined) {
    const csvPath = path.resolve(path.dirname(mappingFile), spec.file);
    origin = { file: csvPath };
    try {
      values = parseCodeTableCsv(fs.readFileSync(csvPath, 'utf8'), csvPath);
    } catch (err) {
      return { problems: [`${where}: ${(err as Error).message}`] };
    }
  } else {
    origin = { legacy: spec.legacy! };
  }
  const table: CodeTable = { name, title: spec.title, values, origin, retired: spec.retired };
  // A legacy table's codes are known only once it is read (resolveLegacyCodeTables applies them then).
  if (spec.file !== undefined) problems.push(...applyRetired(table, where));
  return { table, problems };
}

/** Adds the retired codes to the table's values; a retired code listed as an ordinary code too, or a successor that is no target code, is a problem. */
function applyRetired(table: CodeTable, where: string): string[] {
  const problems: string[] = [];
  const targets = new Set(table.values.values());
  table.retired.forEach((r, i) => {
    const at = `${where}.retired[${i}]`;
    if (table.values.has(r.code) && table.values.get(r.code) !== r.successor) {
      problems.push(`${at}.code: "${r.code}" is also an ordinary code of the table (→ ${table.values.get(r.code)}); list it once`);
    }
    if (!targets.has(r.successor)) problems.push(`${at}.successor: "${r.successor}" is not a target code of this table`);
    table.values.set(r.code, r.successor);
  });
  return problems;
}

/** Reads what a legacy code table holds: rows of [legacy code, target code]. */
export type ReadLegacyCodeTable = (spec: LegacyCodeTable) => Promise<[string, string][]>;

/**
 * Fills the code tables kept in the legacy database (once, at worker or mapping:check start), applying
 * their retired codes. Every problem (a table or column that is not there, a code listed twice, a
 * successor that is no target code) is listed in one ConfigError; a dropped connection is thrown as it is.
 */
export async function resolveLegacyCodeTables(file: string, codeTables: Map<string, CodeTable>, read: ReadLegacyCodeTable | undefined): Promise<void> {
  const problems: string[] = [];
  for (const table of codeTables.values()) {
    if (!('legacy' in table.origin)) continue;
    if (!read) {
      problems.push(`codeTables.${table.name}.legacy: this legacy source cannot read code tables; export ${legacyCodeSourceName(table.origin.legacy)} to a CSV file`);
      continue;
    }
    const spec = table.origin.legacy;
    const where = `codeTables.${table.name}.legacy`;
    let rows: [string, string][];
    try {
      rows = await read(spec);
    } catch (err) {
      // What the server refused (no such table or column) is a finding; a lost connection is not.
      if (typeof (err as { code?: unknown }).code !== 'string' || /^(08|53|57)/.test((err as { code: string }).code)) throw err;
      problems.push(`${where}${spec.query !== undefined ? '.query' : ''}: cannot read ${legacyCodeSourceName(spec)}: ${(err as Error).message}`);
      continue;
    }
    if (!rows.length) problems.push(`${where}${spec.query !== undefined ? '.query' : ''}: ${legacyCodeSourceName(spec)} gives no codes (an empty code table would send every coded row to unmapped_code)`);
    const values = new Map<string, string>();
    for (const [legacy, target] of rows) {
      if (values.has(legacy)) problems.push(`${where}: legacy code "${legacy}" appears twice in ${legacyCodeSourceName(spec)}`);
      values.set(legacy, target);
    }
    table.values = values;
    const targets = new Set(values.values());
    table.retired.forEach((r, i) => {
      if (!targets.has(r.successor)) problems.push(`codeTables.${table.name}.retired[${i}].successor: "${r.successor}" is not a target code of ${legacyCodeSourceName(spec)}`);
      values.set(r.code, r.successor);
    });
  }
  if (problems.length) throw new ConfigError(file, problems);
}
