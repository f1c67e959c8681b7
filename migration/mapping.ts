import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, readConfigFile } from '../lib/config-file';
import { CLEANING_RULES } from './cleansing';

/**
 * The declarative mapping (字段关系对照表 + 基础代码对照表): which legacy table feeds which target
 * table, column by column, and which code-value table converts a column on the way.
 * Everything is checked at load so that a bad mapping stops the run before any row moves.
 */

const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier (a-z, 0-9, _; at most 63 chars)');

export const COLUMN_TYPES = ['text', 'numeric', 'integer', 'bigint', 'date', 'timestamp', 'timestamptz', 'boolean'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

const columnSchema = z.object({
  target: identifier,
  type: z.enum(COLUMN_TYPES),
  source: identifier,
  codeTable: identifier.optional(),
  /** a cleansing rule from migration/cleansing.ts, applied before the code table */
  clean: z.enum(CLEANING_RULES).optional(),
  required: z.boolean().default(false),
});

/** Target CHECK constraints: a column compared with a number, nothing freer (config must not carry SQL). */
const checkSchema = z
  .string()
  .regex(/^[a-z_][a-z0-9_]* (>=|<=|>|<|=|<>) -?\d+(\.\d+)?$/, 'expected "<column> <op> <number>", e.g. "regcap >= 0"');

const tableSchema = z.object({
  name: identifier,
  title: z.string().min(1),
  category: z.enum(['entity', 'history', 'approval']),
  source: z.object({ table: identifier, key: identifier }),
  target: z.object({ table: identifier, checks: z.array(checkSchema).default([]) }),
  /** a child table: rows whose parent did not reach the target are quarantined as orphans */
  parent: z.object({ column: identifier, table: identifier }).optional(),
  columns: z.array(columnSchema).min(1),
});

const mappingFileSchema = z.object({
  description: z.string().optional(),
  codeTables: z.record(identifier, z.object({ file: z.string().min(1), title: z.string().min(1) })),
  tables: z.array(tableSchema).min(1),
});

export type ColumnMapping = z.infer<typeof columnSchema>;
export type TableMapping = z.infer<typeof tableSchema>;

export interface CodeTable {
  name: string;
  title: string;
  /** legacy value → target value */
  values: Map<string, string>;
}

export interface Mapping {
  tables: TableMapping[];
  codeTables: Map<string, CodeTable>;
}


/** The seed's load order, which the file order must follow: entity data first, then history business, then approval data. */
const CATEGORY_ORDER = { entity: 0, history: 1, approval: 2 } as const;

export function loadMapping(file: string): Mapping {
  const spec = readConfigFile(file, mappingFileSchema);
  const problems: string[] = [];
  const codeTables = new Map<string, CodeTable>();
  for (const [name, table] of Object.entries(spec.codeTables)) {
    const csvPath = path.resolve(path.dirname(file), table.file);
    try {
      codeTables.set(name, { name, title: table.title, values: parseCodeTableCsv(fs.readFileSync(csvPath, 'utf8'), csvPath) });
    } catch (err) {
      problems.push(`codeTables.${name}: ${(err as Error).message}`);
    }
  }
  const tableNames = new Set<string>();
  spec.tables.forEach((t, ti) => {
    const where = `tables[${ti}] (${t.name})`;
    if (tableNames.has(t.name)) problems.push(`${where}: duplicate table name`);
    tableNames.add(t.name);
    const targets = new Set<string>();
    for (const c of t.columns) {
      if (targets.has(c.target)) problems.push(`${where}.columns.${c.target}: duplicate target column`);
      targets.add(c.target);
      if (c.codeTable && !spec.codeTables[c.codeTable]) {
        problems.push(`${where}.columns.${c.target}.codeTable: unknown code table "${c.codeTable}"`);
      }
    }
    for (const check of t.target.checks) {
      const col = check.split(' ')[0];
      if (!targets.has(col)) problems.push(`${where}.target.checks: "${check}" names no target column of this table`);
    }
    const previous = spec.tables[ti - 1];
    if (previous && CATEGORY_ORDER[previous.category] > CATEGORY_ORDER[t.category]) {
      problems.push(`${where}.category: "${t.category}" tables must come before "${previous.category}" tables (the load order is entity, history, approval)`);
    }
    if (t.parent) {
      const parentTable = spec.tables.findIndex((p) => p.name === t.parent!.table);
      if (parentTable === -1) problems.push(`${where}.parent.table: unknown table "${t.parent.table}"`);
      else if (parentTable >= ti) problems.push(`${where}.parent.table: "${t.parent.table}" must be listed before its child`);
      if (!targets.has(t.parent.column)) problems.push(`${where}.parent.column: "${t.parent.column}" is not a target column of this table`);
    }
    const keyColumn = t.columns.find((c) => c.source === t.source.key);
    if (!keyColumn) problems.push(`${where}.source.key: "${t.source.key}" is not mapped by any column`);
    else if (!keyColumn.required) problems.push(`${where}.source.key: key column "${t.source.key}" must be required`);
  });
  if (problems.length) throw new ConfigError(file, problems);
  return { tables: spec.tables, codeTables };
}

export function parseCodeTableCsv(text: string, file: string): Map<string, string> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines[0]?.trim() !== 'legacy,target,label') {
    throw new Error(`${file}: first line must be the header "legacy,target,label"`);
  }
  const values = new Map<string, string>();
  lines.slice(1).forEach((line, i) => {
    const [legacy, target] = line.split(',');
    if (!legacy || !target) throw new Error(`${file}:${i + 2}: expected "legacy,target,label"`);
    if (values.has(legacy)) throw new Error(`${file}:${i + 2}: legacy value "${legacy}" listed twice`);
    values.set(legacy, target);
  });
  return values;
}

export function findTable(mapping: Mapping, name: string): TableMapping {
  const table = mapping.tables.find((t) => t.name === name);
  if (!table) throw new Error(`unknown table "${name}"; the mapping has: ${mapping.tables.map((t) => t.name).join(', ')}`);
  return table;
}

/** A table and the tables that must be fully loaded before it starts. */
export interface LoadStep {
  table: string;
  after: string[];
}

/**
 * The seed's load order as dependencies rather than a queue: a table waits for its parent (its orphan
 * check reads the parent's rows in the target) and for every table of an earlier category (entity
 * data, then history business, then approval data). Tables that do not wait for each other may load
 * side by side, which keeps every lane busy while a table's last chunks finish.
 */
export function loadSteps(mapping: Mapping): LoadStep[] {
  return mapping.tables.map((t) => {
    const earlier = mapping.tables.filter((o) => CATEGORY_ORDER[o.category] < CATEGORY_ORDER[t.category]).map((o) => o.name);
    const after = t.parent && !earlier.includes(t.parent.table) ? [...earlier, t.parent.table] : earlier;
    return { table: t.name, after };
  });
}

export function keyColumn(table: TableMapping): ColumnMapping {
  return table.columns.find((c) => c.source === table.source.key)!;
}
