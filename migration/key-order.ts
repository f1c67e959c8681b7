import type { Client } from 'pg';
import { quoteIdent, quoteQualified } from '../lib/db';
import type { ColumnType, TableMapping } from './mapping';
import { KEY_TYPES, keyColumn } from './mapping';

/**
 * Key order (键的排序): the contract every side keeps.
 *
 * Chunks and verification segments are key ranges (keyFrom, keyTo], and every side must agree on which
 * rows a range holds, or a retried chunk's cleanup DELETE on the target removes rows another chunk
 * loaded, and a correct segment differs. So there is one order per table, declared by the TARGET key
 * column's type in the mapping (the target's primary key index serves it):
 *
 * - numeric order when the target key is `integer`, `bigint` or `numeric`: keys compare as numbers;
 * - code-point order when it is `text`: keys compare as the UTF-8 bytes of their text (collation "C");
 *   the text of a legacy key is exactly what the legacy database prints for it (COPY text, or the Oracle
 *   adapter's canonical text): a number's decimal digits, a fixed-width CHAR(n) value WITH its blank
 *   padding to n characters (that is what the target stores).
 * - no other key type (a date, a boolean) is accepted as a key.
 *
 * Bounds (Chunk.keyFrom/keyTo, migration_chunk.key_from/key_to) are the key's text in that form: a
 * number's decimal digits, a text key's characters. A source adapter must (1) order a chunk's rows in this
 * order, (2) pick rows by bounds in this order, converting its own key when its type sorts otherwise (a
 * legacy NUMBER key mapped to a text target key is compared as its decimal text with binary order; a
 * legacy VARCHAR key of digits mapped to a bigint target is compared as a number), and (3) return plan
 * bounds in this text form. The Oracle adapter pins NLS_SORT=BINARY for the text case; the PostgreSQL
 * adapter builds the expression with legacyKeyExpr below. On the target, targetKey() names the key as
 * compared; sourceKeyAs() places a text key held elsewhere (migration_quarantine.source_key) in the
 * table's order, and castKey() turns a value of another type (a quarantined key, a child's foreign key)
 * into the key's own type for an equality the key's index serves, so no side compares text with numbers.
 *
 * (4) A row whose key has no place in the order — NULL, or a text that is no decimal number under numeric
 * order — belongs to the LAST range (keyTo null), on every side (keyRangeSql): it is read, and the target
 * refuses it into quarantine; it is never outside every range. Under numeric order a legacy text key is
 * placed by its decimal value (numericPlace), fractions and numbers beyond the target type included.
 * (5) The target compares bounds with an integer key after integerBound (floored; constant beyond the type).
 *
 * The Oracle adapter keeps (2) with oracleKeyExpr (migration/oracle/sql.ts): a NUMBER key mapped to a text
 * key is compared as its canonical decimal text in binary order, a VARCHAR2 key mapped to a number as its
 * decimal value (no number: NULL, the last range); schema-qualified names name their own owner there too.
 *
 * (6) Oracle ROWID chunks (ORACLE_CHUNKING=rowid, Chunk.rowid) are the one exception to key ranges on the
 * migration side: the target cleans up a retried one by the keys it reads again, and checks its orphans by
 * its own keys (chunk-copy.ts); verification segments stay key ranges (planChunks byKey).
 *
 * (7) 复合主键 Composite keys (source.key a list of columns) compare as a tuple, each column in its own
 * order above, lexicographically; bounds are the tuple's text encoding: migration/composite-key.ts.
 *
 * Not yet: tables with no unique column at all (PostgreSQL ctid ranges). The
 * preflights (PostgresSource.preflight, the Oracle preflight) find a declared key that repeats in the legacy
 * table — the target's primary key would refuse every repeat — and ask for a unique column instead.
 */
export type KeyCollate = '' | ' COLLATE "C"';
export type KeyOrder = 'numeric' | 'code-point';

const NUMERIC_TYPES: readonly ColumnType[] = ['integer', 'bigint', 'numeric'];

export function keyOrderOf(type: ColumnType): KeyOrder {
  if (NUMERIC_TYPES.includes(type)) return 'numeric';
  if (type === 'text') return 'code-point';
  throw new Error(`a key of type ${type} has no declared order; key columns must be one of ${KEY_TYPES.join(', ')}`);
}

export function keyOrder(table: TableMapping): KeyOrder {
  return keyOrderOf(keyColumn(table).type);
}

/**
 * The target key as compared and ordered: a text key with the collation spelled out (the target's key
 * columns are created COLLATE "C", so the index still serves it), a number as itself.
 */
export function targetKey(table: TableMapping, collate: KeyCollate = ' COLLATE "C"', alias = ''): string {
  const col = (alias ? alias + '.' : '') + quoteIdent(keyColumn(table).target);
  return keyOrder(table) === 'numeric' ? col : col + collate;
}

const DECIMAL_TEXT = String.raw`^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$`;

/**
 * A text's place in numeric order: its value as numeric when it is a decimal number, else NULL (it has no
 * place: keyRangeSql gives it to the last range). Legacy text keys and quarantined source keys are placed
 * alike, so a key the target refused (a fraction, a number beyond its type) is held in the range the
 * legacy side read it in.
 */
export function numericPlace(expr: string): string {
  return `(CASE WHEN (${expr})::text ~ '${DECIMAL_TEXT}' THEN (${expr})::text::numeric END)`;
}

/**
 * A value of type `from` (SQL expression) as a key of type `to`, for an equality join that the key's index
 * serves: unchanged when the types agree; a number as its text for a text key; a text or another number as
 * the key's own type, NULL when it is no such value (no number, a fraction or out of range for an integer
 * key) — it then equals no key, instead of failing the statement.
 */
export function castKey(expr: string, from: ColumnType, to: ColumnType): string {
  if (from === to) return expr;
  if (to === 'text') return `(${expr})::text`;
  const n = NUMERIC_TYPES.includes(from) ? `(${expr})::numeric` : numericPlace(expr);
  if (to === 'numeric') return n;
  const [min, max] = INTEGER_RANGE[to as 'integer' | 'bigint'];
  return `(CASE WHEN ${n} = trunc(${n}) AND ${n} BETWEEN ${min} AND ${max} THEN (${n})::${to} END)`;
}

/**
 * A key range (keyFrom, keyTo] as SQL over a key expression, `bound` writing a bound (a literal or a
 * parameter). The last range (keyTo null) also holds keys that have no place in the order — NULL: a legacy
 * text that is not a number under numeric order (castKey) — so that no row falls outside every range:
 * such a row is read by the last chunk and quarantined there (the target refuses it), never skipped.
 */
export function keyRangeSql(
  key: string,
  range: { keyFrom: string | null; keyTo: string | null },
  bound: (value: string) => string,
  options: {
    /** the type of `key` when it is a target's integer column: bounds are then made to fit it (integerBound) */
    keyType?: ColumnType;
    /** `key` can be NULL: the last range holds those rows (a NOT NULL key is spared the OR, which would cost its index the last range) */
    nullable?: boolean;
  } = {},
): string {
  const { keyType, nullable } = options;
  const parts: string[] = [];
  const fit = (value: string) => (keyType === 'integer' || keyType === 'bigint' ? integerBound(value, keyType) : value);
  if (range.keyFrom !== null) {
    const from = fit(range.keyFrom);
    const above = from === 'below' ? 'TRUE' : from === 'above' ? 'FALSE' : `${key} > ${bound(from)}`;
    parts.push(range.keyTo === null && nullable ? `(${above} OR ${key} IS NULL)` : above);
  }
  if (range.keyTo !== null) {
    const to = fit(range.keyTo);
    parts.push(to === 'below' ? 'FALSE' : to === 'above' ? 'TRUE' : `${key} <= ${bound(to)}`);
  }
  return parts.length ? parts.join(' AND ') : 'TRUE';
}

const INTEGER_RANGE = { integer: [-(2n ** 31n), 2n ** 31n - 1n], bigint: [-(2n ** 63n), 2n ** 63n - 1n] } as const;

/**
 * A bound (a number's text: a legacy key, perhaps a fraction or beyond the target type) as an integer key
 * can be compared with: floored (k > 1.5 ⇔ k > 1, k ≤ 1.5 ⇔ k ≤ 1), or 'below'/'above' the type's whole
 * range, where the comparison is constant. A bound that is no number is left as it is.
 */
export function integerBound(value: string, type: 'integer' | 'bigint'): string | 'below' | 'above' {
  const m = /^\s*([-+]?)(\d*)(?:\.(\d*))?\s*$/.exec(value);
  if (!m || (m[2] === '' && !m[3])) return value;
  const whole = BigInt(m[2] || '0');
  const fraction = /[1-9]/.test(m[3] ?? '');
  const floor = m[1] === '-' ? (fraction ? -whole - 1n : -whole) : whole;
  const [min, max] = INTEGER_RANGE[type];
  return floor < min ? 'below' : floor > max ? 'above' : floor.toString();
}

/** A text source key (migration_quarantine.source_key) in the table's key order, for ranges. */
export function sourceKeyAs(table: TableMapping, expr: string, collate: KeyCollate = ' COLLATE "C"'): string {
  return keyOrder(table) === 'numeric' ? numericPlace(expr) : expr + collate;
}

/**
 * SQL condition: the child row (alias) names a parent that is not in the parent's target table. The
 * child's foreign key is converted to the parent key's type, so a text foreign key meets a bigint key.
 */
export function parentMissingSql(child: TableMapping, parent: TableMapping, alias: string): string {
  const fkColumn = child.columns.find((c) => c.target === child.parent!.column)!;
  const parentKey = keyColumn(parent);
  const fk = `${alias}.${quoteIdent(fkColumn.target)}`;
  return `${fk} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${quoteIdent(parent.target.table)} p WHERE p.${quoteIdent(parentKey.target)} = ${castKey(fk, fkColumn.type, parentKey.type)})`;
}

const CODE_POINT_COLLATIONS = new Set(['C', 'POSIX', 'C.UTF-8', 'C.utf8', 'C.UTF8']);

function collateFor(collation: string | null, provider: string | null): KeyCollate {
  return provider === 'c' && collation !== null && CODE_POINT_COLLATIONS.has(collation) ? '' : ' COLLATE "C"';
}

/** What a session needs to compare keys in code-point order under the database's own collation. */
export async function databaseKeyCollate(client: Client): Promise<KeyCollate> {
  const { rows } = await client
    .query<{ collation: string; provider: string }>(`SELECT datcollate AS collation, datlocprovider::text AS provider FROM pg_database WHERE datname = current_database()`)
    // before PostgreSQL 15 every database collation was libc
    .catch(() => client.query<{ collation: string; provider: string }>(`SELECT datcollate AS collation, 'c' AS provider FROM pg_database WHERE datname = current_database()`));
  return collateFor(rows[0]?.collation ?? null, rows[0]?.provider ?? null);
}

/**
 * The same for one column: its own collation, or the database's when it has the default one. A column
 * of a type without collation (a number) is compared as that type: nothing to add.
 */
export async function columnKeyCollate(client: Client, table: string, column: string): Promise<KeyCollate> {
  const col = await legacyColumn(client, table, column);
  if (!col.collatable) return '';
  return col.name === 'default' ? databaseKeyCollate(client) : collateFor(col.collation, col.provider);
}

interface LegacyColumn {
  collatable: boolean;
  name: string | null;
  collation: string | null;
  provider: string | null;
  /** pg_type.typcategory: N numeric, S string … */
  category: string;
  notnull: boolean;
  typname: string;
  typmod: number;
}

async function legacyColumn(client: Client, table: string, column: string): Promise<LegacyColumn> {
  const { rows } = await client.query<LegacyColumn>(
    `SELECT a.attcollation <> 0 AS collatable, c.collname AS name, c.collcollate AS collation, c.collprovider::text AS provider,
            t.typcategory::text AS category, t.typname::text AS typname, a.atttypmod AS typmod, a.attnotnull AS notnull
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_collation c ON c.oid = a.attcollation
      WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`,
    [table, column],
  );
  const col = rows[0];
  if (!col) throw new Error(`${table}.${column} does not exist in the legacy database`);
  return col;
}

/**
 * How a PostgreSQL legacy table's key is compared and ordered so that it follows the table's key order:
 * `expr` is the SQL expression (bounds are compared with it, rows ordered by it, plan bounds are its
 * ::text), `textual` says whether it is a text expression (an ORDER BY of its text needs COLLATE "C").
 * Only a key whose type already sorts in the key order keeps its index (a number for numeric order; a
 * text column in a code-point collation for code-point order); others are read with a sort per chunk.
 */
export interface LegacyKeyExpr {
  expr: string;
  textual: boolean;
  /** the expression can be NULL (a column without NOT NULL, a text under numeric order): the last range reads those rows */
  nullable: boolean;
}

export async function legacyKeyExpr(client: Client, table: TableMapping): Promise<LegacyKeyExpr> {
  return legacyColumnKeyExpr(client, table.source.table, table.source.key, keyOrder(table));
}

/** legacyKeyExpr for one legacy column compared in `order` (a composite key's component: migration/composite-key.ts). */
export async function legacyColumnKeyExpr(client: Client, sourceTable: string, column: string, order: KeyOrder): Promise<LegacyKeyExpr> {
  const col = await legacyColumn(client, sourceTable, column);
  const key = quoteIdent(column);
  const nullable = !col.notnull;
  if (order === 'numeric') {
    // a legacy text that is not a number becomes NULL: the last chunk reads it (keyRangeSql)
    return col.category === 'N' ? { expr: key, textual: false, nullable } : { expr: numericPlace(key), textual: false, nullable: true };
  }
  // A CHAR(n) value prints (and reaches the target) padded to n characters; its ::text drops the padding.
  if (col.typname === 'bpchar') return { expr: col.typmod > 4 ? `rpad(${key}::text, ${col.typmod - 4}) COLLATE "C"` : `${key}::text COLLATE "C"`, textual: true, nullable };
  if (col.category === 'S' && col.collatable) {
    const collate = col.name === 'default' ? await databaseKeyCollate(client) : collateFor(col.collation, col.provider);
    return { expr: key + collate, textual: true, nullable };
  }
  return { expr: `${key}::text COLLATE "C"`, textual: true, nullable };
}

/**
 * 键唯一 How often the declared key repeats in a PostgreSQL legacy table: 0 when a unique index (or the
 * primary key) on exactly that column proves it unique without reading the table, else the number of key
 * values held by more than one row (one pass over the table; the preflight's, before the weekend). A repeated
 * key is refused by the target's primary key, so every repeat would be quarantined and the table would not
 * reconcile: a table with no unique column cannot be migrated by key — a composite key (several columns)
 * or a keyless mapping (无键表, ctid ranges: pg-source.ts) is the way.
 */
export async function legacyKeyRepeats(client: Client, table: TableMapping): Promise<number> {
  // a unique index on exactly the key's columns (in any order) proves it; for a composite key: all of them
  const columns = table.source.keys ?? [table.source.key];
  const { rows: unique } = await client.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_index i
                     WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnkeyatts = cardinality($2::text[]) AND i.indpred IS NULL AND i.indexprs IS NULL
                       AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
                             WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])) = (SELECT array_agg(c ORDER BY c) FROM unnest($2::text[]) c)) AS ok`,
    [table.source.table, columns],
  );
  if (unique[0]?.ok) return 0;
  const key = columns.map(quoteIdent).join(', ');
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM ${quoteQualified(table.source.table)} WHERE ${columns.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')} GROUP BY ${key} HAVING count(*) > 1) d`,
  );
  return Number(rows[0].n);
}

