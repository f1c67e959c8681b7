import { quoteIdent } from '../lib/db';
import { CopyLine, fieldAt, textOf } from './copy-text';
import type { ColumnType, TableMapping } from './mapping';
import { keyColumns } from './mapping';
import { castKey, integerBound, KeyCollate, KeyOrder, keyOrderOf, LegacyKeyExpr, numericPlace } from './key-order';

/**
 * 复合主键 Composite keys: a table keyed by two or more columns, e.g. (entity_id bigint, seq_no text).
 *
 * The key is a tuple compared lexicographically, each column in its own key order (key-order.ts: a number
 * as a number, a text in code-point order), on every side with SQL row-value comparisons
 * `ROW(a, b) > ROW($1, $2)`, which a primary key index on (a, b) serves; an Oracle legacy, which has no row
 * values, gets the same ranges as expanded comparisons (migration/oracle/sql.ts expandedTupleCompare).
 *
 * Wherever a key is held as one text (chunk bounds and the chunk ledger, migration_quarantine.source_key,
 * data-quality issues, row differences), a composite key is its tuple's text encoding: a JSON array of the
 * columns' texts as the legacy database prints them (NULL as null), e.g. ["440700100000123","0012"].
 * encodeKey/decodeKey round-trip every tuple (property-tested), and SQL reads a component back with ->>.
 *
 * Rows whose key has a component with no place in the order (NULL, or a text that is no number under
 * numeric order) belong to the LAST range, as for single keys (key-order.ts (4)); a row comparison with a
 * NULL component can still be decided by an earlier component, so every other range excludes such rows
 * explicitly: each row is in exactly one range.
 *
 * The single-column path is untouched: these functions are used only when isComposite(table).
 */
export type KeyTuple = (string | null)[];

export function encodeKey(tuple: KeyTuple): string {
  return JSON.stringify(tuple);
}

export function decodeKey(text: string, width: number): KeyTuple {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`not a composite key: ${JSON.stringify(text)} (expected a JSON array of ${width} texts)`);
  }
  if (!Array.isArray(value) || value.length !== width || !value.every((v) => v === null || typeof v === 'string')) {
    throw new Error(`not a composite key: ${JSON.stringify(text)} (expected a JSON array of ${width} texts)`);
  }
  return value as KeyTuple;
}

/** Where the key's columns are in a row of the mapping's columns (a legacy COPY line or a target one). */
export function keyIndexes(table: TableMapping): number[] {
  return keyColumns(table).map((c) => table.columns.indexOf(c));
}

/** The key of a COPY line (binary string, copy-text.ts) as encoded text. */
export function lineKey(line: CopyLine, indexes: number[]): string {
  return encodeKey(indexes.map((i) => fieldOrNull(fieldAt(line, i))));
}

/** The key of decoded fields as encoded text. */
export function fieldsKey(fields: (string | null)[], indexes: number[]): string {
  return encodeKey(indexes.map((i) => fields[i] ?? null));
}

function fieldOrNull(f: string | null): string | null {
  return f === null ? null : textOf(f);
}

export function keyOrders(table: TableMapping): KeyOrder[] {
  return keyColumns(table).map((c) => keyOrderOf(c.type));
}

// ---------------------------------------------------------------------------------------------------
// SQL

export interface KeyRange {
  keyFrom: string | null;
  keyTo: string | null;
}

/**
 * How a tuple is compared with a bound's components (SQL of each): `op` is '>' (above the lower bound) or
 * '<=' (up to the upper bound), lexicographically. PostgreSQL has row values (rowValueCompare); a database
 * without them (Oracle) expands the comparison (migration/oracle/sql.ts).
 */
export type TupleCompare = (exprs: string[], bounds: string[], op: '>' | '<=') => string;

export const rowValueCompare: TupleCompare = (exprs, bounds, op) => `ROW(${exprs.join(', ')}) ${op} ROW(${bounds.join(', ')})`;

/**
 * A composite key range (keyFrom, keyTo] over the components' SQL expressions. `bound(value, i)` writes
 * component i of a bound (a literal or a parameter); `nullable[i]`: expression i can be NULL (no place in
 * the order): such rows belong to the last range only. `compare` writes the tuple comparisons.
 */
export function tupleRangeSql(exprs: string[], range: KeyRange, bound: (value: string, i: number) => string, nullable: boolean[], compare: TupleCompare = rowValueCompare): string {
  const boundValues = (text: string) =>
    decodeKey(text, exprs.length).map((v, i) => {
      if (v === null) throw new Error(`a composite key bound has no NULL component: ${text}`);
      return bound(v, i);
    });
  const nullables = exprs.filter((_, i) => nullable[i]);
  const parts: string[] = [];
  if (range.keyFrom !== null) {
    const above = compare(exprs, boundValues(range.keyFrom), '>');
    parts.push(range.keyTo === null && nullables.length ? `(${above} OR ${nullables.map((e) => `${e} IS NULL`).join(' OR ')})` : above);
  }
  if (range.keyTo !== null) {
    parts.push(compare(exprs, boundValues(range.keyTo), '<='));
    // ROW(1, NULL) <= ROW(2, 'x') is true: a row with a component out of the order is the last range's alone
    for (const e of nullables) parts.push(`${e} IS NOT NULL`);
  }
  return parts.length ? parts.join(' AND ') : 'TRUE';
}

/** ORDER BY list of a composite key. */
export function tupleOrderSql(exprs: string[]): string {
  return exprs.join(', ');
}

/**
 * The target's key components as compared with a range's bounds, and the bounds' casts: each column as
 * itself (its primary key index serves the range) and text in code-point order. An integer column whose
 * bound component is no integer of its type (a legacy text key under numeric order may give "1.5") is
 * compared as numeric for that range instead, which is exact where flooring a tuple's component is not.
 */
export function targetTupleRange(table: TableMapping, range: KeyRange, bound: (value: string) => string, collate: KeyCollate, alias = ''): string {
  const cols = keyColumns(table);
  const bounds = [range.keyFrom, range.keyTo].filter((b): b is string => b !== null).map((b) => decodeKey(b, cols.length));
  const exprs: string[] = [];
  const casts: string[] = [];
  cols.forEach((c, i) => {
    const col = (alias ? alias + '.' : '') + quoteIdent(c.target);
    if (c.type === 'text') {
      exprs.push(col + collate);
      casts.push('text');
    } else if (c.type === 'integer' || c.type === 'bigint') {
      const fits = bounds.every((b) => b[i] !== null && /^\s*[-+]?\d+\s*$/.test(b[i]!) && !['below', 'above'].includes(integerBound(b[i]!, c.type as 'integer' | 'bigint')));
      exprs.push(fits ? col : `${col}::numeric`);
      casts.push(fits ? c.type : 'numeric');
    } else {
      exprs.push(col);
      casts.push(c.type);
    }
  });
  return tupleRangeSql(exprs, range, (v, i) => `${bound(v)}::${casts[i]}`, exprs.map(() => false));
}

/** The target's key in key order: an ORDER BY list. */
export function targetTupleOrder(table: TableMapping, collate: KeyCollate, alias = ''): string {
  return keyColumns(table)
    .map((c) => (alias ? alias + '.' : '') + quoteIdent(c.target) + (c.type === 'text' ? collate : ''))
    .join(', ');
}

/** A text column holding an encoded key (migration_quarantine.source_key) as JSON, NULL when it holds none. */
function asJson(expr: string): string {
  return `(CASE WHEN ${expr} LIKE '[%]' THEN (${expr})::jsonb END)`;
}

/** A quarantined key's components (SQL over a source_key expression), each in its column's key order. */
export function sourceKeyTupleRange(table: TableMapping, expr: string, range: KeyRange, bound: (value: string) => string, collate: KeyCollate): string {
  const orders = keyOrders(table);
  const exprs = orders.map((o, i) => {
    const component = `(${asJson(expr)}->>${i})`;
    return o === 'numeric' ? numericPlace(component) : component + collate;
  });
  return tupleRangeSql(exprs, range, (v, i) => `${bound(v)}::${orders[i] === 'numeric' ? 'numeric' : 'text'}`, exprs.map(() => true));
}

/** SQL condition: the target row (alias) has the key held as text in `expr` (an encoded composite key); each component in its column's own type. */
export function keyMatchesSql(table: TableMapping, alias: string, expr: string): string {
  return keyColumns(table)
    .map((c, i) => `${alias}.${quoteIdent(c.target)} = ${castKey(`(${asJson(expr)}->>${i})`, 'text', c.type as ColumnType)}`)
    .join(' AND ');
}

/** SQL: the target row's key as a text[] of its components (encodeKey in JS makes it the key's text). */
export function targetKeyArraySql(table: TableMapping, alias: string): string {
  return `ARRAY[${keyColumns(table).map((c) => `${alias}.${quoteIdent(c.target)}::text`).join(', ')}]`;
}

/** The legacy side: components' expressions (legacyColumnKeyExpr each) as one range and one order. */
export function legacyTupleRange(exprs: LegacyKeyExpr[], range: KeyRange, bound: (value: string) => string): string {
  return tupleRangeSql(
    exprs.map((e) => `(${e.expr})`),
    range,
    (v) => bound(v),
    exprs.map((e) => e.nullable),
  );
}

// ---------------------------------------------------------------------------------------------------
// The same order in JS (planning checks, tests): a tuple compared component by component.

/** Exact comparison of two decimal texts (no exponent). */
export function compareDecimal(a: string, b: string): number {
  const parse = (t: string) => {
    const m = /^\s*([-+]?)(\d*)(?:\.(\d*))?\s*$/.exec(t);
    if (!m) throw new Error(`not a decimal number: ${t}`);
    return { neg: m[1] === '-', whole: m[2] || '0', frac: m[3] ?? '' };
  };
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.frac.length, y.frac.length);
  const value = (p: { neg: boolean; whole: string; frac: string }) => {
    const v = BigInt(p.whole + p.frac.padEnd(scale, '0'));
    return p.neg ? -v : v;
  };
  const vx = value(x);
  const vy = value(y);
  return vx < vy ? -1 : vx > vy ? 1 : 0;
}

/** Code-point order (UTF-8 bytes), as COLLATE "C". */
export function compareCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Tuples in key order; a component with no place (null) sorts after every other value. */
export function compareTuples(a: KeyTuple, b: KeyTuple, orders: KeyOrder[]): number {
  for (let i = 0; i < orders.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === null || y === null) {
      if (x === y) continue;
      return x === null ? 1 : -1;
    }
    const c = orders[i] === 'numeric' ? compareDecimal(x, y) : compareCodePoint(x, y);
    if (c !== 0) return c;
  }
  return 0;
}
