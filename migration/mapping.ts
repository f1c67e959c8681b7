import { z } from 'zod';
import { ConfigError, readConfigFile } from '../lib/config-file';
import { CLEANING_RULES } from './cleansing';
import { CodeTable, codeTableSpecSchema, loadCodeTable, ReadLegacyCodeTable, resolveLegacyCodeTables } from './code-tables';
import { BusinessLayout, businessLayoutProblems, businessLayoutSchema } from './business-layout';
import { DEFAULT_ENTITY_DETAIL, EntityDetail, entityDetailProblems, entityDetailSchema } from './entity-detail';
import { columnsOf, Expr, ExpressionError, isCondition, parseExpression } from './expressions';
import { identifier } from './mapping-schema';
import { ANOMALY_RULES, anomalyPolicySchema, AnomalyRule, Policy, POLICIES } from './anomaly-policy';

/**
 * The declarative mapping (字段关系对照表 + 基础代码对照表): which legacy table feeds which target
 * table, column by column, and which code-value table converts a column on the way.
 * Everything is checked at load so that a bad mapping stops the run before any row moves.
 */

/** A legacy table: a name, or schema.name (a PostgreSQL schema; LEGACY_SCHEMA supplies one for bare names). */
export const legacyTableName = z
  .string()
  .regex(/^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier, or schema.table (a-z, 0-9, _; at most 63 chars each)');

export const COLUMN_TYPES = ['text', 'numeric', 'integer', 'bigint', 'date', 'timestamp', 'timestamptz', 'boolean'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];
/** the types a table's key may have: each has a declared order (migration/key-order.ts) */
export const KEY_TYPES: readonly ColumnType[] = ['text', 'integer', 'bigint', 'numeric'];

// Strict objects throughout: a misspelt property ("requried", "codetable") is refused with its path, never ignored.
const columnSchema = z.strictObject({
  target: identifier,
  type: z.enum(COLUMN_TYPES),
  source: identifier,
  codeTable: identifier.optional(),
  /** a cleansing rule from migration/cleansing.ts, applied before the code table */
  clean: z.enum(CLEANING_RULES).optional(),
  required: z.boolean().default(false),
  /** 异常数据处理策略 this column's policy when a rule fails on it (anomaly-policy.ts); default by rule */
  onAnomaly: anomalyPolicySchema.optional(),
});

/**
 * Target CHECK constraints in the expression grammar (expressions/): comparisons, AND/OR/NOT, IN,
 * IS NULL, column against column — parsed here, rendered to SQL from the tree, never pasted.
 */
const checkSchema = z.string().superRefine((src, ctx) => {
  const parsed = parseOrMessage(src);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: `not a valid CHECK: ${parsed}; e.g. "regcap >= 0", "opto IS NULL OR opto >= estdate"` });
  else if (!isCondition(parsed)) ctx.addIssue({ code: 'custom', message: 'a CHECK must be a condition (a comparison, IS NULL, IN, or AND/OR/NOT of them)' });
});

/** 常量/派生列 A column the legacy does not have: a constant ('9500') or derived from the row's mapped columns (expressions/). */
const derivedColumnSchema = z.strictObject({
  target: identifier,
  type: z.enum(COLUMN_TYPES),
  expr: z.string().superRefine((src, ctx) => {
    const parsed = parseOrMessage(src);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: `not a valid expression: ${parsed}` });
  }),
  required: z.boolean().default(false),
});

function parseOrMessage(src: string): Expr | string {
  try {
    return parseExpression(src);
  } catch (err) {
    if (err instanceof ExpressionError) return err.message;
    throw err;
  }
}

/**
 * A mapped table's legacy side. `key` is the key column (the first one of a composite key) and `keys` every
 * column of a composite key; a keyless table (无键表) has `keyless: true` and no key (`key` is '': code that
 * needs a key asks keyColumn, which refuses a keyless table by name).
 */
export interface SourceSpec {
  table: string;
  key: string;
  keys?: string[];
  keyless?: true;
}

const tableSchema = z.strictObject({
  name: identifier,
  title: z.string().min(1),
  category: z.enum(['entity', 'history', 'approval']),
  /**
   * key: one column, or 复合主键 a composite key as a list of two or more columns (e.g. ["entity_id", "seq_no"]),
   * compared as a tuple in the order listed (migration/composite-key.ts). Loaded as `key` (the first column) and
   * `keys` (every column, only for a composite key), so single-column code paths stay as they were.
   */
  source: z
    .union([
      z.strictObject({ table: legacyTableName, key: z.union([identifier, z.array(identifier).min(2, 'a composite key lists two or more columns; a single key is a string')]) }),
      /**
       * 无键表 a keyless table: no column, nor set of columns, is unique (an operation log with repeated rows).
       * Chunked by the legacy database's own row addresses, loaded chunk by chunk exactly once (its ledger row in the
       * chunk's transaction), verified as a multiset of rows. Cannot be a parent, a child, a union member nor an entity.
       */
      z.strictObject({ table: legacyTableName, keyless: z.literal(true, { error: 'keyless must be true (a table with a key declares "key" instead)' }) }),
    ], { error: 'expected { "table", "key" } (a column, or a list of columns) or { "table", "keyless": true } (无键表 a table without a key)' })
    .transform((s): SourceSpec => ('keyless' in s ? { table: s.table, key: '', keyless: true } : Array.isArray(s.key) ? { table: s.table, key: s.key[0], keys: s.key } : { table: s.table, key: s.key })),
  target: z.strictObject({
    table: identifier,
    checks: z.array(checkSchema).default([]),
    /** 合并 one of several mapped tables feeding this target table: its rows carry `value` in the derived `column` (migration/union.ts) */
    union: z.strictObject({ column: identifier, value: z.string().min(1) }).optional(),
  }),
  /** a child table: rows whose parent did not reach the target are quarantined as orphans */
  parent: z.strictObject({ column: identifier, table: identifier }).optional(),
  columns: z.array(columnSchema).min(1),
  /** columns the target has and the legacy lacks, filled per row after the mapped ones (appended in this order) */
  derived: z.array(derivedColumnSchema).optional(),
});

const mappingFileSchema = z.strictObject({
  description: z.string().optional(),
  codeTables: z.record(identifier, codeTableSpecSchema),
  tables: z.array(tableSchema).min(1),
  /** 主体详情 what sampling compares per entity (entity-detail.ts); default: market_entity by enttype */
  entityDetail: entityDetailSchema.optional(),
  /** 业务测试 where the new system's change and cancellation land in the target (business-layout.ts); default: the reference application's */
  businessTests: businessLayoutSchema.optional(),
  /** 异常数据处理策略 the policy per rule for every non-key column (anomaly-policy.ts DEFAULT_POLICIES when absent) */
  anomalyPolicies: z.strictObject(Object.fromEntries(ANOMALY_RULES.map((r) => [r, z.enum(POLICIES).optional()])) as Record<AnomalyRule, z.ZodOptional<z.ZodEnum<{ quarantine: 'quarantine'; load_flagged: 'load_flagged' }>>>).optional(),
});

export type ColumnMapping = z.infer<typeof columnSchema>;
export type DerivedColumn = z.infer<typeof derivedColumnSchema>;
export type TableMapping = z.infer<typeof tableSchema>;

export type { CodeTable } from './code-tables';

export interface Mapping {
  tables: TableMapping[];
  codeTables: Map<string, CodeTable>;
  entityDetail?: EntityDetail;
  businessTests?: BusinessLayout;
  anomalyPolicies?: Partial<Record<AnomalyRule, Policy>>;
}


/**
 * 合并 A second mapped table on a target table: both must be members of one union (migration/union.ts) — a
 * discriminator each, in one column, with different values — and give the target table one shape.
 */
function unionProblems(first: z.infer<typeof tableSchema>, fi: number, t: z.infer<typeof tableSchema>, ti: number): string[] {
  const where = `tables[${ti}] (${t.name}).target`;
  if (!first.target.union || !t.target.union) {
    return [`${where}.table: "${t.target.table}" is already the target of table "${first.name}"; a target table fed by several legacy tables (a union) needs "union": { "column", "value" } on each (a discriminator, migration/union.ts)`];
  }
  const problems: string[] = [];
  if (first.target.union.column !== t.target.union.column) problems.push(`${where}.union.column: "${t.target.union.column}" differs from tables[${fi}] (${first.name})'s "${first.target.union.column}"`);
  if (first.target.union.value === t.target.union.value) problems.push(`${where}.union.value: '${t.target.union.value}' is already tables[${fi}] (${first.name})'s: each member needs its own`);
  const shape = (x: typeof t) => [...x.columns, ...(x.derived ?? [])].map((c) => `${c.target} ${c.type}${c.required ? ' required' : ''}`).sort().join(', ');
  if (shape(first) !== shape(t)) problems.push(`${where}.table: the columns differ from tables[${fi}] (${first.name})'s: ${shape(t)} ≠ ${shape(first)} (members give the target table one shape)`);
  const keys = (x: typeof t) => (x.source.keys ?? [x.source.key]).map((k) => x.columns.find((c) => c.source === k)?.target).join(', ');
  if (keys(first) !== keys(t)) problems.push(`${where}.table: the key (${keys(t)}) differs from tables[${fi}] (${first.name})'s (${keys(first)})`);
  if (JSON.stringify(first.target.checks) !== JSON.stringify(t.target.checks)) problems.push(`${where}.checks: differ from tables[${fi}] (${first.name})'s (members give the target table one set of CHECKs)`);
  return problems;
}

/**
 * 无键表 Where a keyless table cannot be used: a parent (a child names its parent's key), a child (the orphan
 * check finds a child's own rows by key), a union member (a key collision is found by key).
 */
function keylessProblems(tables: z.infer<typeof tableSchema>[], t: z.infer<typeof tableSchema>, ti: number): string[] {
  const where = `tables[${ti}] (${t.name})`;
  const problems: string[] = [];
  if (t.parent) problems.push(`${where}.parent: a 无键表 keyless table cannot be a child table (its orphans are found by their keys); declare source.key, or drop parent`);
  if (t.target.union) problems.push(`${where}.target.union: a 无键表 keyless table cannot be a union member (key collisions are found by key); declare source.key`);
  tables.forEach((c, ci) => {
    if (c.parent?.table === t.name) problems.push(`tables[${ci}] (${c.name}).parent.table: "${t.name}" is a 无键表 keyless table; a parent must have a key (a child names it by one column)`);
  });
  return problems;
}

/** The seed's load order, which the file order must follow: entity data first, then history business, then approval data. */
const CATEGORY_ORDER = { entity: 0, history: 1, approval: 2 } as const;

/**
 * legacySchema: the schema of the legacy tables the mapping names bare (LEGACY_SCHEMA, PostgreSQL legacy
 * only: see legacyMappingSchema); a schema-qualified name keeps its own schema.
 */
export function loadMapping(file: string, options: { legacySchema?: string } = {}): Mapping {
  const spec = readConfigFile(file, mappingFileSchema);
  const schema = options.legacySchema;
  if (schema) for (const t of spec.tables) if (!t.source.table.includes('.')) t.source.table = `${schema}.${t.source.table}`;
  const problems: string[] = [];
  const codeTables = new Map<string, CodeTable>();
  for (const [name, table] of Object.entries(spec.codeTables)) {
    const loaded = loadCodeTable(name, table, file);
    if (loaded.table) codeTables.set(name, loaded.table);
    problems.push(...loaded.problems);
  }
  const tableNames = new Set<string>();
  const targetTables = new Map<string, number>();
  spec.tables.forEach((t, ti) => {
    const where = `tables[${ti}] (${t.name})`;
    if (tableNames.has(t.name)) problems.push(`${where}: duplicate table name`);
    tableNames.add(t.name);
    // 合并 one target table fed by two mapped tables: each one's chunks would clean up the other's rows, and a key
    // both give would keep whichever came first; refused until unions are supported
    const sharing = targetTables.get(t.target.table);
    if (sharing !== undefined) problems.push(...unionProblems(spec.tables[sharing], sharing, t, ti));
    else targetTables.set(t.target.table, ti);
    if (t.target.union) {
      const u = t.target.union;
      const d = (t.derived ?? []).find((c) => c.target === u.column);
      const parsed = d && parseExpression(d.expr);
      if (!parsed || parsed.k !== 'lit' || parsed.v !== u.value) {
        problems.push(`${where}.target.union.column: "${u.column}" must be a derived column of this table holding the constant '${u.value}' (e.g. "derived": [{ "target": "${u.column}", "type": "text", "expr": "'${u.value}'" }])`);
      }
    }
    const targets = new Set<string>();
    for (const c of t.columns) {
      if (targets.has(c.target)) problems.push(`${where}.columns.${c.target}: duplicate target column`);
      targets.add(c.target);
      if (c.onAnomaly?.policy === 'load_flagged' && (c.source === t.source.key || c.target === t.parent?.column)) {
        problems.push(`${where}.columns.${c.target}.onAnomaly: the ${c.source === t.source.key ? 'key' : 'parent link'} column cannot be loaded flagged (a key problem always quarantines)`);
      }
      if (c.codeTable && !spec.codeTables[c.codeTable]) {
        problems.push(`${where}.columns.${c.target}.codeTable: unknown code table "${c.codeTable}"`);
      }
    }
    (t.derived ?? []).forEach((d, di) => {
      if (targets.has(d.target)) problems.push(`${where}.derived[${di}].target: "${d.target}" is already a target column of this table`);
      for (const col of columnsOf(parseExpression(d.expr))) {
        if (!t.columns.some((c) => c.target === col)) problems.push(`${where}.derived[${di}].expr: "${col}" is not a mapped target column of this table (derived columns read mapped ones)`);
      }
    });
    (t.derived ?? []).forEach((d) => targets.add(d.target));
    t.target.checks.forEach((check, ci) => {
      for (const col of columnsOf(parseExpression(check))) {
        if (!targets.has(col)) problems.push(`${where}.target.checks[${ci}]: "${check}" names "${col}", which is no target column of this table`);
      }
    });
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
    if (t.source.keyless) problems.push(...keylessProblems(spec.tables, t, ti));
    const keys = t.source.keyless ? [] : t.source.keys ?? [t.source.key];
    keys.forEach((k, ki) => {
      const at = t.source.keys ? `${where}.source.key[${ki}]` : `${where}.source.key`;
      const keyColumn = t.columns.find((c) => c.source === k);
      if (keys.indexOf(k) !== ki) problems.push(`${at}: "${k}" is listed twice in the composite key`);
      else if (!keyColumn) problems.push(`${at}: "${k}" is not mapped by any column`);
      else if (!keyColumn.required) problems.push(`${at}: key column "${k}" must be required`);
      else if (!KEY_TYPES.includes(keyColumn.type)) problems.push(`${at}: key column "${k}" has type ${keyColumn.type}; a key must be one of ${KEY_TYPES.join(', ')} (migration/key-order.ts)`);
      else if (t.source.keys && keyColumn.onAnomaly?.policy === 'load_flagged') problems.push(`${where}.columns.${keyColumn.target}.onAnomaly: the key column cannot be loaded flagged (a key problem always quarantines)`);
    });
    if (t.source.keys) {
      // a child names its parent by one column: a composite-keyed table cannot be a parent (not yet)
      spec.tables.forEach((c, ci) => {
        if (c.parent?.table === t.name) problems.push(`tables[${ci}] (${c.name}).parent.table: "${t.name}" has a composite key; a parent must have a single-column key (a child names it by one column)`);
      });
    }
  });
  if (spec.entityDetail) problems.push(...entityDetailProblems(spec.tables, spec.entityDetail));
  (spec.entityDetail ?? DEFAULT_ENTITY_DETAIL).entities.forEach((e, ei) => {
    if (spec.tables.find((t) => t.name === e.table)?.source.keyless) {
      problems.push(`entityDetail.entities[${ei}].table: "${e.table}" is a 无键表 keyless table; an entity is sampled and compared by its key (declare source.key)`);
    }
  });
  if (spec.businessTests) problems.push(...businessLayoutProblems(spec.tables, spec.businessTests));
  if (problems.length) throw new ConfigError(file, problems);
  return { tables: spec.tables, codeTables, entityDetail: spec.entityDetail, businessTests: spec.businessTests, anomalyPolicies: spec.anomalyPolicies };
}

/**
 * The mapping as the engine uses it: loaded and validated, with the code tables kept in the legacy
 * database read through the source (once per process: worker, mapping:check, verification threads).
 */
export async function loadMappingFrom(file: string, source: { readCodeTable?: ReadLegacyCodeTable }, options: { legacySchema?: string } = {}): Promise<Mapping> {
  const mapping = loadMapping(file, options);
  await resolveLegacyCodeTables(file, mapping.codeTables, source.readCodeTable?.bind(source));
  return mapping;
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
  /** an entity table (entityDetail's entities): a row held in quarantine is a business missing from the new system (absent in runs planned before) */
  entity?: boolean;
}

/**
 * The seed's load order as dependencies rather than a queue: a table waits for its parent (its orphan
 * check reads the parent's rows in the target) and for every table of an earlier category (entity
 * data, then history business, then approval data). Tables that do not wait for each other may load
 * side by side, which keeps every lane busy while a table's last chunks finish.
 */
/** 主体 The tables whose rows are business entities (entityDetail, by default market_entity): one held back is a business missing from the new system. */
export function entityTables(mapping: Pick<Mapping, 'entityDetail'>): Set<string> {
  return new Set((mapping.entityDetail ?? DEFAULT_ENTITY_DETAIL).entities.map((e) => e.table));
}

export function loadSteps(mapping: Mapping): LoadStep[] {
  const entities = entityTables(mapping);
  return mapping.tables.map((t) => {
    const earlier = mapping.tables.filter((o) => CATEGORY_ORDER[o.category] < CATEGORY_ORDER[t.category]).map((o) => o.name);
    const after = t.parent && !earlier.includes(t.parent.table) ? [...earlier, t.parent.table] : [...earlier];
    // 合并 a union's members load one after the other: the later one finds the earlier one's keys (key collisions)
    const previousMember = t.target.union ? mapping.tables.slice(0, mapping.tables.indexOf(t)).reverse().find((o) => o.target.table === t.target.table) : undefined;
    if (previousMember && !after.includes(previousMember.name)) after.push(previousMember.name);
    return { table: t.name, after, entity: entities.has(t.name) };
  });
}

/** Every column of the target table in COPY order: the mapped ones, then the derived ones. */
export function targetColumns(table: TableMapping): { target: string; type: ColumnType; required: boolean }[] {
  return table.derived?.length ? [...table.columns, ...table.derived] : table.columns;
}

/** The key column (the first one of a composite key: see keyColumns). A keyless table has none: refused by name. */
export function keyColumn(table: TableMapping): ColumnMapping {
  if (table.source.keyless) throw new KeylessTableError(table);
  return table.columns.find((c) => c.source === table.source.key)!;
}

/** The legacy key's columns, in key order: one, several (复合主键), or none for a keyless table (无键表). */
export function sourceKeyColumns(source: SourceSpec): string[] {
  return source.keyless ? [] : source.keys ?? [source.key];
}

/** 无键表 The table declares no key (source.keyless): chunked by row address, verified as a multiset. */
export function isKeyless(table: Pick<TableMapping, 'source'>): boolean {
  return table.source.keyless === true;
}

/** A keyless table where the engine needs a key (a step not made for keyless tables): says which table, and why. */
export class KeylessTableError extends Error {
  constructor(table: Pick<TableMapping, 'name' | 'source'>, what = 'this step') {
    super(`无键表 keyless table ${table.name} (${table.source.table}) has no key, and ${what} needs one: declare source.key (a unique column, or a list of columns)`);
    this.name = 'KeylessTableError';
  }
}

/** 复合主键 Every key column, in key order: one for a single-column key. */
export function keyColumns(table: TableMapping): ColumnMapping[] {
  if (table.source.keyless) return [];
  return table.source.keys ? table.source.keys.map((k) => table.columns.find((c) => c.source === k)!) : [keyColumn(table)];
}

/** The table's key has two or more columns (migration/composite-key.ts). */
export function isComposite(table: TableMapping): boolean {
  return (table.source.keys?.length ?? 1) > 1;
}
