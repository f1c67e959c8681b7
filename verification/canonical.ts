import type { Client } from 'pg';
import { copyTo } from '../lib/copy-to';
import { quoteIdent } from '../lib/db';
import { decodeLine, Field } from '../migration/copy-text';
import { databaseKeyCollate, KeyCollate, keyRangeSql, targetKey } from '../migration/key-order';
import type { ColumnType, TableMapping } from '../migration/mapping';
import { isComposite, keyColumn, targetColumns } from '../migration/mapping';
import { targetTupleOrder, targetTupleRange } from '../migration/composite-key';
import { unionFilterSql } from '../migration/union';
import { literal } from '../migration/pg-source';

/**
 * 规范形式 The canonical form both sides are hashed and compared in: one PostgreSQL COPY text line
 * per row (migration/copy-text.ts), the mapping's target columns in mapping order.
 *
 * - Source side: the legacy row as the adapter reads it, put through the mapping's transform
 *   (compileTransform: cleansing, code tables, '' → NULL, CHECKs) and encodeRow — exactly the line the
 *   engine sent to COPY FROM. Target side: the row as the target's COPY TO STDOUT prints it.
 * - NULL is \N; '' is an empty field, so NULL and '' never compare equal (the transform turns every
 *   legacy '' into NULL, as Oracle does: a target '' is therefore a difference).
 * - Numbers: numeric prints its stored digits and scale ("5000.00" stays "5000.00"; no exponent, no
 *   locale separators); integers in decimal.
 * - Dates and timestamps: ISO ("YYYY-MM-DD", "YYYY-MM-DD HH:MI:SS[.ffffff]"), DateStyle ISO on the
 *   target session; timestamptz in UTC (TimeZone UTC), so a value shifted by a time zone differs.
 * - Booleans: t / f. Whitespace is significant: nothing is trimmed beyond what the mapping's own
 *   cleansing rules do, so a trailing blank added or lost in the target is a difference.
 * - Keys: segments are key ranges (keyFrom, keyTo] and rows are ordered by the key in the table's key
 *   order on both sides (migration/key-order.ts: numbers as numbers, text in code-point order). Rows are
 *   matched by key when the hashes differ, so two sides that happened to order alike rows otherwise
 *   report no difference; rows in one range on one side only show as missing here and extra there.
 */
export const TARGET_SESSION = ["SET DateStyle = 'ISO, YMD'", "SET TimeZone = 'UTC'", 'SET extra_float_digits = 1', "SET bytea_output = 'hex'"];

/**
 * Prepares a target session for verification and says how it bounds keys in code-point order
 * (migration/key-order.ts): under a database collation that already is code-point order nothing is added.
 */
export async function prepareTargetSession(client: Client): Promise<KeyCollate> {
  for (const sql of TARGET_SESSION) await client.query(sql);
  // Verification only reads the target (business tests go through the new system's own API).
  await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  return databaseKeyCollate(client);
}

export interface KeyRange {
  keyFrom: string | null;
  keyTo: string | null;
}

/**
 * WHERE clause of a key range, bounds as escaped literals (COPY takes no parameters). `key` is the SQL
 * expression compared, already in the table's key order (key-order.ts: targetKey, sourceKeyAs): a
 * literal takes the expression's type, so a number is compared as a number and a text in code-point order.
 */
export function rangeWhere(key: string, range: KeyRange, options: { keyType?: ColumnType; nullable?: boolean } = {}): string {
  return keyRangeSql(key, range, literal, options);
}

/** COPY of one key range of a target table, in canonical column order and key order. */
export function targetRangeCopySql(table: TableMapping, range: KeyRange, collate: KeyCollate): string {
  const cols = targetColumns(table).map((c) => quoteIdent(c.target)).join(', ');
  // 复合主键 a composite key: a row-value range, ordered by its columns (migration/composite-key.ts)
  if (isComposite(table)) {
    return `COPY (SELECT ${cols} FROM ${quoteIdent(table.target.table)} WHERE ${targetTupleRange(table, range, literal, collate)}${unionFilterSql(table)} ORDER BY ${targetTupleOrder(table, collate)}) TO STDOUT`;
  }
  const key = targetKey(table, collate);
  return `COPY (SELECT ${cols} FROM ${quoteIdent(table.target.table)} WHERE ${rangeWhere(key, range, { keyType: keyColumn(table).type })}${unionFilterSql(table)} ORDER BY ${key}) TO STDOUT`;
}

export function copyOut(client: Client, sql: string) {
  return client.query(copyTo(sql));
}

/**
 * Code-point order of two keys (= the byte order of their UTF-8, = COLLATE "C"). JS compares UTF-16
 * units, which differs above U+FFFF: at the first differing unit, a surrogate (part of a character
 * ≥ U+10000) is greater than any other unit, and two surrogates, or two others, compare as units.
 * Without allocating: sorts of a few hundred thousand keys call this millions of times.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export interface FieldDifference {
  column: string;
  source: Field;
  target: Field;
}

/** How a row differs between the two sides (a row the migration quarantined is expected absent: no difference). */
export type DifferenceKind = 'missing_in_target' | 'extra_in_target' | 'changed' | 'quarantined_but_loaded' | 'unaccounted_source_row' | 'order';

export interface RowDifference {
  table: string;
  kind: DifferenceKind;
  key: string;
  fields?: FieldDifference[];
  note?: string;
  /** 无键表 a keyless table's row (no key names it): its content, target columns → values (legacy columns for a source row) */
  row?: Record<string, Field>;
  /** 无键表 how often the row occurs on each side (a keyless table is compared as a multiset) */
  count?: { source: number; target: number };
}

/** Field-level differences of two canonical lines of the same table (names are target columns). */
export function fieldDifferences(table: TableMapping, sourceLine: string, targetLine: string): FieldDifference[] {
  const s = decodeLine(sourceLine.replace(/\n$/, ''));
  const t = decodeLine(targetLine.replace(/\n$/, ''));
  const out: FieldDifference[] = [];
  targetColumns(table).forEach((c, i) => {
    if ((s[i] ?? null) !== (t[i] ?? null)) out.push({ column: c.target, source: s[i] ?? null, target: t[i] ?? null });
  });
  return out;
}
