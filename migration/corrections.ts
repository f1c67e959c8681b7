import { parse } from 'csv-parse/sync';
import type { Client } from 'pg';
import { z } from 'zod';
import { quoteIdent } from '../lib/db';
import { binaryOf, encodeLine, Field } from './copy-text';
import { castKey } from './key-order';
import type { ColumnMapping, Mapping, TableMapping } from './mapping';
import { isKeyless, keyColumn } from './mapping';
import { compileTransform } from './transform';

/**
 * 整改单 A corrections sheet (问题数据整改): corrected field values per held row (table, key, column, value —
 * uploaded as CSV `table,key,column,value` or JSON) and new code-table entries (基础代码对照表: legacy code →
 * target code, with why). One shape, defined here; the API, the store and the worker all read it.
 *
 * Every correction is checked against the mapping before it is stored: the held row with the correction
 * goes through the same transform as the migration, and a correction that still breaks a rule is refused
 * with the table, key, column, rule and reason.
 */
const name = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a table or column name (lower case, digits, _)');

export const fieldCorrectionSchema = z.strictObject({
  /** the mapping's table name (market_entity, approval_application …) */
  table: name,
  /** the held row's legacy key (migration_quarantine.source_key) */
  key: z.string().min(1).max(200),
  /** the column, by its target or its legacy name */
  column: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'expected a column name'),
  /** the corrected value as the legacy side would hold it (text); null clears it */
  value: z.string().max(4000).nullable(),
});
export type FieldCorrection = z.infer<typeof fieldCorrectionSchema>;

export const codeMappingSchema = z.strictObject({
  /** the mapping's code table (enttype, division …) */
  codeTable: name,
  /** the legacy code nobody mapped (as in the unmapped_code issue) */
  legacy: z.string().min(1).max(100),
  /** an existing target code of that table */
  target: z.string().min(1).max(100),
  label: z.string().max(200).optional(),
  /** 原因 why this entry belongs in the 基础代码对照表 */
  why: z.string().min(3).max(2000),
});
export type CodeMapping = z.infer<typeof codeMappingSchema>;

export const correctionSheetSchema = z
  .strictObject({
    /** 整改说明 what the sheet corrects and on whose word */
    reason: z.string().min(3).max(2000),
    corrections: z.array(fieldCorrectionSchema).max(10_000).default([]),
    codeMappings: z.array(codeMappingSchema).max(1_000).default([]),
  })
  .refine((s) => s.corrections.length + s.codeMappings.length > 0, { message: 'the sheet corrects nothing: give corrections or codeMappings' });
export type CorrectionSheet = z.infer<typeof correctionSheetSchema>;

export const CSV_HEADER = ['table', 'key', 'column', 'value'] as const;

/** A CSV sheet (`table,key,column,value`, UTF-8, a BOM as Excel writes it is fine; an empty value is NULL) → field corrections, or what is wrong with it by line. */
export function parseCorrectionCsv(text: string): { ok: true; corrections: FieldCorrection[] } | { ok: false; problem: string; field: string } {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false, trim: false });
  } catch (err) {
    return { ok: false, problem: `the CSV could not be read: ${(err as Error).message}`, field: 'body' };
  }
  const [head, ...rows] = records;
  if (!head || head.map((h) => h.trim().toLowerCase()).join(',') !== CSV_HEADER.join(',')) {
    return { ok: false, problem: `the first line must be the header ${CSV_HEADER.join(',')}, got ${head ? head.join(',').slice(0, 120) : 'nothing'}`, field: 'body[line 1]' };
  }
  const corrections: FieldCorrection[] = [];
  for (const [i, r] of rows.entries()) {
    const parsed = fieldCorrectionSchema.safeParse({ table: r[0], key: r[1], column: r[2], value: r[3] === '' ? null : r[3] });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, problem: `line ${i + 2}: ${issue.path.join('.')}: ${issue.message}`, field: `body[line ${i + 2}].${issue.path.join('.')}` };
    }
    corrections.push(parsed.data);
  }
  return { ok: true, corrections };
}

/** The mapping with the sheet's code entries added to its code tables (the migration's own map untouched). */
export function withCodeMappings(mapping: Mapping, codes: readonly CodeMapping[]): Mapping {
  if (!codes.length) return mapping;
  const codeTables = new Map(mapping.codeTables);
  for (const c of codes) {
    const t = codeTables.get(c.codeTable);
    if (!t) continue;
    codeTables.set(c.codeTable, { ...t, values: new Map([...t.values, [c.legacy, c.target]]) });
  }
  return { ...mapping, codeTables };
}

/** A column of a table by its target or its legacy name. */
export function columnOf(table: TableMapping, column: string): ColumnMapping | undefined {
  return table.columns.find((c) => c.target === column) ?? table.columns.find((c) => c.source.toLowerCase() === column.toLowerCase());
}

/** A refused correction: where it is in the sheet, and which rule it still breaks. */
export interface CorrectionProblem {
  /** JSON path in the sheet: corrections[3].value, codeMappings[0].target */
  field: string;
  table: string;
  key: string | null;
  column: string | null;
  rule: string;
  detail: string;
}

/**
 * What the sheet will reload: per table, the keys and their corrections by legacy column; `flagged`: the keys
 * among them that loaded flagged (an open data-quality issue), with their legacy rows as read again, corrected
 * in place rather than reloaded.
 */
export interface CorrectionPlan {
  tables: { table: string; keys: string[]; corrections: Record<string, Record<string, Field>>; flagged?: Record<string, Record<string, Field>> }[];
}

/** The legacy rows of a table's keys by source column (remediate.ts readLegacyRows), or why they cannot be read by key. */
export type LegacyRowReader = (table: TableMapping, keys: string[]) => Promise<Map<string, Record<string, Field>> | string>;

/**
 * Checks a sheet against the mapping and the rows held or flagged in the target (read-only): a field correction
 * must name a held row or a row loaded flagged (an open data-quality issue on its table and key, its legacy row
 * read again by `readLegacy`), a column of its table, and leave the row passing the transform (no rule broken or
 * loaded flagged on the corrected column; a parent link naming a row the target has, and on a flagged row —
 * already loaded under its parent — not changed at all); a code entry must name a code table, a target code that
 * table has, and not change an existing entry. Returns the problems (none: the sheet may be stored) and what a
 * remediation would reload or correct in place.
 */
export async function checkCorrections(target: Client, mapping: Mapping, sheet: CorrectionSheet, readLegacy?: LegacyRowReader): Promise<{ problems: CorrectionProblem[]; plan: CorrectionPlan }> {
  const problems: CorrectionProblem[] = [];
  const byTable = new Map<string, Map<string, Record<string, Field>>>();
  const where = new Map<string, number>();
  /** the sheet entry that brought a held row in: its first correction, or the code entry that maps its code */
  const origin = new Map<string, string>();
  for (const [i, c] of sheet.corrections.entries()) {
    const table = mapping.tables.find((t) => t.name === c.table);
    if (!table) {
      problems.push({ field: `corrections[${i}].table`, table: c.table, key: c.key, column: c.column, rule: 'unknown_table', detail: `no table ${c.table} in the mapping; tables: ${mapping.tables.map((t) => t.name).join(', ')}` });
      continue;
    }
    if (isKeyless(table)) {
      problems.push({ field: `corrections[${i}].table`, table: c.table, key: c.key, column: c.column, rule: 'keyless_table', detail: `无键表 ${c.table} is a keyless table: its held rows have no key to name them by; correct the legacy rows and migrate again` });
      continue;
    }
    const col = columnOf(table, c.column);
    if (!col) {
      problems.push({ field: `corrections[${i}].column`, table: c.table, key: c.key, column: c.column, rule: 'unknown_column', detail: `${c.table} has no column ${c.column}` });
      continue;
    }
    if (col.target === keyColumn(table).target) {
      problems.push({ field: `corrections[${i}].column`, table: c.table, key: c.key, column: c.column, rule: 'key_column', detail: `the key ${col.target} names the row; it cannot be corrected (hold the row and correct it in the legacy system)` });
      continue;
    }
    const rows = byTable.get(c.table) ?? new Map<string, Record<string, Field>>();
    byTable.set(c.table, rows);
    rows.set(c.key, { ...(rows.get(c.key) ?? {}), [col.source]: c.value });
    where.set(`${c.table}\u0000${c.key}\u0000${col.source}`, i);
    if (!origin.has(`${c.table}\u0000${c.key}`)) origin.set(`${c.table}\u0000${c.key}`, `corrections[${i}]`);
  }
  for (const [i, c] of sheet.codeMappings.entries()) {
    const t = mapping.codeTables.get(c.codeTable);
    const problem = (field: string, detail: string) => problems.push({ field: `codeMappings[${i}].${field}`, table: c.codeTable, key: c.legacy, column: null, rule: `code_table:${c.codeTable}`, detail });
    if (!t) problem('codeTable', `no code table ${c.codeTable}; code tables: ${[...mapping.codeTables.keys()].join(', ')}`);
    else if (![...t.values.values()].includes(c.target)) problem('target', `${c.target} is not a target code of ${c.codeTable} (${t.title})`);
    else if (t.values.has(c.legacy) && t.values.get(c.legacy) !== c.target) problem('legacy', `${c.legacy} already maps to ${t.values.get(c.legacy)} in ${c.codeTable}; a correction adds entries, it does not change them`);
  }
  const corrected = withCodeMappings(mapping, sheet.codeMappings);
  const plan: CorrectionPlan = { tables: [] };
  // rows held (or loaded flagged) only for a code the sheet now maps: reloaded (or updated) with no field correction
  for (const table of mapping.tables) {
    // 无键表 a keyless table's held rows have no key to reload them by: they stay held (corrected in the legacy, migrated again)
    if (isKeyless(table)) continue;
    const rows = byTable.get(table.name) ?? new Map<string, Record<string, Field>>();
    /** rows loaded flagged that only a code entry brings in: left out, not refused, where their legacy rows cannot be read */
    const codedOnly = new Set<string>();
    for (const [i, c] of sheet.codeMappings.entries()) {
      for (const col of table.columns.filter((x) => x.codeTable === c.codeTable)) {
        const { rows: held } = await target.query<{ k: string; flagged: boolean }>(
          `SELECT source_key AS k, false AS flagged FROM migration_quarantine WHERE table_name = $1 AND rule = $2 AND raw_row->>$3 = $4
           UNION ALL SELECT source_key AS k, true AS flagged FROM migration_data_quality WHERE table_name = $1 AND rule = $2 AND column_name = $5 AND raw_value = $4 AND corrected_by IS NULL`,
          [table.name, `unmapped_code:${c.codeTable}`, col.source, c.legacy, col.target],
        );
        for (const h of held) {
          if (!rows.has(h.k)) {
            rows.set(h.k, {});
            if (h.flagged) codedOnly.add(h.k);
          }
          if (!origin.has(`${table.name}\u0000${h.k}`)) origin.set(`${table.name}\u0000${h.k}`, `codeMappings[${i}]`);
        }
      }
    }
    if (!rows.size) continue;
    const { rows: held } = await target.query<{ source_key: string; raw_row: Record<string, Field> }>(
      `SELECT DISTINCT ON (source_key) source_key, raw_row FROM migration_quarantine WHERE table_name = $1 AND source_key = ANY($2::text[]) ORDER BY source_key, id`,
      [table.name, [...rows.keys()]],
    );
    const heldRows = new Map(held.map((h) => [h.source_key, h.raw_row]));
    // 问题数据 the keys not held that loaded flagged (an open issue): corrected in place, from their legacy rows read again
    const { rows: open } = await target.query<{ k: string }>(
      `SELECT DISTINCT source_key AS k FROM migration_data_quality WHERE table_name = $1 AND source_key = ANY($2::text[]) AND corrected_by IS NULL`,
      [table.name, [...rows.keys()].filter((k) => !heldRows.has(k))],
    );
    const flaggedKeys = open.map((o) => o.k);
    const legacy = flaggedKeys.length ? (readLegacy ? await readLegacy(table, flaggedKeys) : 'no legacy source to read the rows from') : new Map<string, Record<string, Field>>();
    const unreadable = typeof legacy === 'string' ? legacy : undefined;
    const flaggedRows = typeof legacy === 'string' ? new Map<string, Record<string, Field>>() : legacy;
    if (unreadable) for (const k of codedOnly) rows.delete(k);
    if (!rows.size) continue;
    const keys = [...rows.keys()];
    /** flagged rows whose correction is refused in a way the transform would not catch again (a parent link): never updated */
    const refusedFlagged = new Set<string>();
    const transform = compileTransform(corrected, table);
    const parent = table.parent ? mapping.tables.find((t) => t.name === table.parent!.table) : undefined;
    const fkColumn = table.parent ? table.columns.find((c) => c.target === table.parent!.column) : undefined;
    for (const [key, fix] of rows) {
      const first = Object.keys(fix)[0];
      const pathOf = (source: string | undefined, suffix: 'key' | 'value') => {
        const i = source !== undefined ? where.get(`${table.name}\u0000${key}\u0000${source}`) : undefined;
        const o = origin.get(`${table.name}\u0000${key}`)!;
        return i !== undefined ? `corrections[${i}].${suffix}` : o.startsWith('codeMappings') ? `${o}.target` : `${o}.${suffix}`;
      };
      const isFlagged = !heldRows.has(key) && flaggedKeys.includes(key);
      if (isFlagged && unreadable) {
        problems.push({ field: pathOf(first, 'key'), table: table.name, key, column: null, rule: 'not_readable', detail: `${table.name} ${key} loaded flagged, but its legacy row cannot be read again (${unreadable}): correct it in the new system` });
        continue;
      }
      const raw = heldRows.get(key) ?? flaggedRows.get(key);
      if (!raw) {
        problems.push(
          isFlagged
            ? { field: pathOf(first, 'key'), table: table.name, key, column: null, rule: 'not_in_legacy', detail: `${table.name} ${key} loaded flagged, but the legacy no longer has the row` }
            : { field: pathOf(first, 'key'), table: table.name, key, column: null, rule: 'not_held', detail: `${table.name} ${key} is neither held in quarantine nor loaded flagged with an open data-quality issue (问题数据); a clean loaded row is corrected in the new system` },
        );
        continue;
      }
      // a flagged row is in the target under its parent already: its link is not the loop's to change
      if (isFlagged && fkColumn && fkColumn.source in fix) {
        refusedFlagged.add(key);
        problems.push({ field: pathOf(fkColumn.source, 'value'), table: table.name, key, column: fkColumn.target, rule: 'parent_link', detail: `${table.name} ${key} is loaded (flagged) under its ${table.parent!.table} row; its parent link ${fkColumn.target} is not changed by a correction` });
        continue;
      }
      const fields = table.columns.map((c) => (c.source in fix ? fix[c.source] : (raw[c.source] ?? null)));
      const out = transform(binaryOf(encodeLine(fields)));
      const columnOfRule = (rule: string, detail: string) => table.columns.find((c) => rule.endsWith(`:${c.target}`) || rule.endsWith(`:${c.codeTable}`) || detail.startsWith(`${c.source}=`));
      if (!out.ok) {
        const col = columnOfRule(out.rule, out.detail);
        problems.push({ field: pathOf(col?.source ?? first, 'value'), table: table.name, key, column: col?.target ?? null, rule: out.rule, detail: out.detail });
        continue;
      }
      const flaggedHere = (out.flags ?? []).filter((f) => table.columns.some((c) => c.target === f.column && c.source in fix));
      for (const f of flaggedHere) {
        const col = table.columns.find((c) => c.target === f.column)!;
        problems.push({ field: pathOf(col.source, 'value'), table: table.name, key, column: f.column, rule: f.rule, detail: `the corrected value still breaks the rule: ${f.detail}` });
      }
      if (flaggedHere.length) continue;
      // a parent link corrected to a row the target does not have would only be held again
      if (parent && fkColumn && fkColumn.source in fix && fix[fkColumn.source] !== null) {
        const pk = keyColumn(parent);
        const { rowCount } = await target.query(`SELECT 1 FROM ${quoteIdent(parent.target.table)} WHERE ${quoteIdent(pk.target)} = ${castKey('$1::text', 'text', pk.type)}`, [fix[fkColumn.source]]);
        if (!rowCount) {
          problems.push({ field: pathOf(fkColumn.source, 'value'), table: table.name, key, column: fkColumn.target, rule: `orphan:${parent.name}`, detail: `${fkColumn.target}=${fix[fkColumn.source]}: no ${parent.name} row with that key is in the target` });
          continue;
        }
      }
    }
    const flagged = keys.filter((k) => !heldRows.has(k) && flaggedRows.has(k) && !refusedFlagged.has(k));
    plan.tables.push({ table: table.name, keys, corrections: Object.fromEntries(rows), ...(flagged.length ? { flagged: Object.fromEntries(flagged.map((k) => [k, flaggedRows.get(k)!])) } : {}) });
  }
  return { problems, plan };
}
