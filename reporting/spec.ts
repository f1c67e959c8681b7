import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, jsonPath } from '../lib/config-file';
import { CodeTable, parseCodeTableCsv } from '../migration/code-tables';
import { COLUMN_TYPES } from '../migration/mapping';

/**
 * 上报规范 Report specifications as data (config/reporting/*.json): per reported table its source in
 * the new registry (a main table, optional joins), its data items (name, type, length, required, a code
 * conversion to national codes, a cleansing rule), its key, its change marker, and how 注销
 * cancellations and deletions travel. Every object is strict (an unknown key is a problem) and every
 * problem is reported with its JSON path before anything runs.
 */
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier (a-z, 0-9, _; at most 63 chars)');
/** "column" of the main table or "alias.column" of a join */
const sourceColumn = z.string().regex(/^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/, 'expected "column" or "joinAlias.column"');

/** 清洗规则 cleansing rules of the report converter (applied before the code conversion). */
export const REPORT_CLEANING = ['trim', 'upper', 'collapseSpaces'] as const;
export type ReportCleaning = (typeof REPORT_CLEANING)[number];

const itemSchema = z
  .object({
    name: identifier,
    title: z.string().min(1).optional(),
    type: z.enum(COLUMN_TYPES),
    /** maximum characters of the reported value (text items) */
    length: z.number().int().positive().max(100000).optional(),
    required: z.boolean().default(false),
    from: sourceColumn,
    /** 代码转换 registry code → national code, a code table named in codeTables */
    codeTable: identifier.optional(),
    clean: z.array(z.enum(REPORT_CLEANING)).optional(),
  })
  .strict();

const joinSchema = z
  .object({
    alias: identifier,
    table: identifier,
    /** main-table column = join-table column (LEFT JOIN: a missing partner gives NULL items) */
    on: z.object({ column: identifier, references: identifier }).strict(),
  })
  .strict();

const tableSchema = z
  .object({
    name: identifier,
    title: z.string().min(1),
    source: z.object({ table: identifier, key: identifier, joins: z.array(joinSchema).max(4).default([]) }).strict(),
    /** the item that is the reported key */
    key: identifier,
    /**
     * 变更标记 how a change is found. "change-log": triggers on the source table write every insert,
     * update and delete with its transaction id (xid8) into report_change_log; a cycle reads the entries
     * of transactions from the watermark up to its snapshot's xmin — every transaction below it has
     * finished, so a late commit carrying an old timestamp is still above the watermark and is not missed.
     */
    changeMarker: z.object({ kind: z.literal('change-log') }).strict(),
    /** 注销 cancellations: a status item whose national values mean cancelled; they travel with op "C" */
    cancellation: z.object({ item: identifier, values: z.array(z.string().min(1)).min(1) }).strict().optional(),
    /** 删除 deletions (seen in the change log): deleted at the province, or kept there as a tombstone; nationally op "D" */
    deletes: z.object({ province: z.enum(['delete', 'tombstone']) }).strict(),
    /** agreed frequency: a table whose last verified window is older than this is behind (alert) */
    maxLagMinutes: z.number().int().positive().max(10080).default(60),
    items: z.array(itemSchema).min(1).max(200),
  })
  .strict();

const specFileSchema = z
  .object({
    description: z.string().optional(),
    codeTables: z.record(identifier, z.object({ file: z.string().min(1), title: z.string().min(1) }).strict()).default({}),
    tables: z.array(tableSchema).min(1).max(200),
  })
  .strict();

export type ReportItem = z.infer<typeof itemSchema>;
export type ReportTable = z.infer<typeof tableSchema>;
export type ReportJoin = z.infer<typeof joinSchema>;

export interface ReportSpec {
  file: string;
  tables: ReportTable[];
  codeTables: Map<string, CodeTable>;
}

/** Problems of a parsed spec that a schema cannot see, with JSON paths. */
function crossChecks(spec: z.infer<typeof specFileSchema>): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  spec.tables.forEach((t, ti) => {
    const at = (...p: PropertyKey[]) => jsonPath(['tables', ti, ...p]);
    if (names.has(t.name)) problems.push(`${at('name')}: duplicate reported table "${t.name}"`);
    names.add(t.name);
    const aliases = new Set<string>();
    t.source.joins.forEach((j, ji) => {
      if (aliases.has(j.alias) || j.alias === 't') problems.push(`${at('source', 'joins', ji, 'alias')}: alias "${j.alias}" is taken`);
      aliases.add(j.alias);
    });
    const items = new Set<string>();
    t.items.forEach((item, ii) => {
      if (items.has(item.name)) problems.push(`${at('items', ii, 'name')}: duplicate item "${item.name}"`);
      items.add(item.name);
      if (item.name.startsWith('_report')) problems.push(`${at('items', ii, 'name')}: names starting with _report are reserved`);
      const alias = item.from.includes('.') ? item.from.split('.')[0] : undefined;
      if (alias && !aliases.has(alias)) problems.push(`${at('items', ii, 'from')}: "${item.from}" names no join alias of this table`);
      if (item.codeTable && !spec.codeTables[item.codeTable]) problems.push(`${at('items', ii, 'codeTable')}: unknown code table "${item.codeTable}"`);
      if (item.length !== undefined && item.type !== 'text') problems.push(`${at('items', ii, 'length')}: a length applies to text items only`);
      if ((item.codeTable || item.clean) && item.type !== 'text') problems.push(`${at('items', ii)}: code conversion and cleansing apply to text items only`);
    });
    const keyItem = t.items.find((i) => i.name === t.key);
    if (!keyItem) problems.push(`${at('key')}: "${t.key}" is not an item of this table`);
    else {
      if (keyItem.from !== t.source.key) problems.push(`${at('key')}: the key item must read the source key "${t.source.key}" (it reads "${keyItem.from}")`);
      if (keyItem.codeTable || keyItem.clean) problems.push(`${at('key')}: the key item may not be converted or cleansed`);
    }
    if (t.cancellation && !items.has(t.cancellation.item)) problems.push(`${at('cancellation', 'item')}: "${t.cancellation.item}" is not an item of this table`);
  });
  return problems;
}

/** Parses and checks a spec already read as JSON; baseDir resolves code-table files. */
export function parseReportSpec(raw: unknown, file: string, baseDir = path.dirname(file)): ReportSpec {
  const parsed = specFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(file, parsed.error.issues.map((i) => `${jsonPath(i.path)}: ${i.message}`));
  const problems = crossChecks(parsed.data);
  const codeTables = new Map<string, CodeTable>();
  for (const [name, t] of Object.entries(parsed.data.codeTables)) {
    const csv = path.resolve(baseDir, t.file);
    try {
      codeTables.set(name, { name, title: t.title, values: parseCodeTableCsv(fs.readFileSync(csv, 'utf8'), csv), origin: { file: csv }, retired: [] });
    } catch (err) {
      problems.push(`${jsonPath(['codeTables', name, 'file'])}: ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(file, problems);
  return { file, tables: parsed.data.tables, codeTables };
}

export function loadReportSpec(file: string): ReportSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, [`cannot read JSON: ${(err as Error).message}`]);
  }
  return parseReportSpec(raw, file);
}
