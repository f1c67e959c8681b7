import { tupleRangeSql, type TupleCompare } from '../composite-key';
import type { Chunk } from '../source';
import type { OracleBinds } from './driver';
import type { LegacyKind } from './legacy-types';

/**
 * Every SQL text the Oracle source sends, as pure functions. Values always travel as bind
 * variables; only identifiers are spliced in, and only after oracleIdent has checked them.
 *
 * Identifiers: the mapping names legacy tables and columns in lower case (e_baseinfo, pripid).
 * Legacy DDL was written unquoted, so Oracle stores those names in upper case; we quote the
 * upper-case form ("E_BASEINFO") so that reserved words (a column called DATE or LEVEL) and names
 * with $ or # still work. Objects created with quoted lower-case names are not reachable this way.
 *
 * Bind names avoid Oracle reserved words (":table", ":date" raise ORA-01745).
 */

export interface SqlWithBinds {
  sql: string;
  binds: OracleBinds;
}

export type ChunkingMode = 'key' | 'rowid';

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_$#]*$/;
/** Oracle 12.2+ allows 128 bytes; every character accepted by IDENT_RE is one byte. */
const IDENT_MAX = 128;

export function oracleIdent(name: string): string {
  if (!IDENT_RE.test(name) || name.length > IDENT_MAX) {
    throw new Error(`"${name}" is not a usable Oracle identifier (letters, digits, _ $ #; at most ${IDENT_MAX} characters)`);
  }
  return '"' + name.toUpperCase() + '"';
}

/**
 * A legacy table of the mapping as an Oracle object: `schema.table` names its own owner, a bare name is
 * in ORACLE_SCHEMA (schema), or the session's current schema when neither is set.
 */
export function oracleObject(schema: string | null, table: string): { owner: string | null; name: string } {
  const dot = table.indexOf('.');
  return dot === -1 ? { owner: schema, name: table } : { owner: table.slice(0, dot), name: table.slice(dot + 1) };
}

export function tableRef(schema: string | null, table: string): string {
  const { owner, name } = oracleObject(schema, table);
  return owner ? `${oracleIdent(owner)}.${oracleIdent(name)}` : oracleIdent(name);
}

/**
 * Pinned on every session before it reads, because each of these would otherwise come from the
 * database defaults or the worker host and silently change what we read:
 * - TIME_ZONE: TIMESTAMP WITH LOCAL TIME ZONE is shown in the session time zone (thin mode takes
 *   it from the client's TZ); UTC makes the text deterministic, the offset is written with it.
 * - NLS_CALENDAR: TO_CHAR of dates follows the session calendar (a Taiwan or Japanese-imperial
 *   calendar would rewrite the year).
 * - NLS_NUMERIC_CHARACTERS: key bounds are bound as text and converted with it ("1,5" in some territories).
 * - NLS_SORT/NLS_COMP: a linguistic sort (SCHINESE_PINYIN_M) on a text key would make ORDER BY and
 *   the range predicates disagree, and chunks would skip or repeat rows.
 */
export const SESSION_SETUP_SQL =
  "ALTER SESSION SET TIME_ZONE = '+00:00' NLS_CALENDAR = 'GREGORIAN' NLS_NUMERIC_CHARACTERS = '.,' NLS_SORT = 'BINARY' NLS_COMP = 'BINARY'";

/** The SCN every chunk reads at. Needs EXECUTE on DBMS_FLASHBACK; TO_CHAR keeps SCNs beyond 2^53 exact. */
export const READ_POINT_SQL = 'SELECT TO_CHAR(DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER) AS read_scn FROM DUAL';

/** The database character set: ZHS16GBK text is checked for '?' substitutions (resolve.ts). Readable by every user. */
export const DATABASE_CHARSET_SQL = "SELECT value FROM nls_database_parameters WHERE parameter = 'NLS_CHARACTERSET'";

/** A legacy table as the dictionary views name it: the owner (a bind, or the session's schema) and :table_name. */
function dictionaryObject(schema: string | null, table: string): { owner: string; binds: OracleBinds } {
  const object = oracleObject(schema, table);
  const binds: OracleBinds = { table_name: object.name.toUpperCase() };
  if (!object.owner) return { owner: "SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')", binds };
  binds.owner_name = object.owner.toUpperCase();
  return { owner: ':owner_name', binds };
}

/** Dictionary types of a legacy table, for the select list and the conversions. */
export function describeTableSql(schema: string | null, table: string): SqlWithBinds {
  // The dictionary stores the names as oracleIdent refers to them: upper case.
  const { owner, binds } = dictionaryObject(schema, table);
  return {
    // NULLABLE: a NOT NULL key needs no "OR key IS NULL" branch (which forces a full scan); precision and
    // scale say whether a NUMBER key fits the target's key type (preflight)
    sql: `SELECT column_name, data_type, nullable, data_precision, data_scale FROM all_tab_columns WHERE owner = ${owner} AND table_name = :table_name ORDER BY column_id`,
    binds,
  };
}

const DATE_TEXT = "'SYYYY-MM-DD HH24:MI:SS'";
const TIMESTAMP_TEXT = "'SYYYY-MM-DD HH24:MI:SS.FF9'";
const TIMESTAMP_TZ_TEXT = "'SYYYY-MM-DD HH24:MI:SS.FF9TZH:TZM'";

/**
 * The select-list expression for one column. Datetimes are formatted by the server: the thin
 * driver decodes them into JS Dates, which keep milliseconds only and go through the worker's local
 * time zone (a DATE inside a daylight-saving gap would shift). SYYYY keeps BC years visible.
 */
export function selectExpression(column: string, kind: LegacyKind): string {
  const c = oracleIdent(column);
  switch (kind) {
    case 'date':
      return `TO_CHAR(${c}, ${DATE_TEXT}) AS ${c}`;
    case 'timestamp':
      return `TO_CHAR(${c}, ${TIMESTAMP_TEXT}) AS ${c}`;
    case 'timestamp_tz':
      return `TO_CHAR(${c}, ${TIMESTAMP_TZ_TEXT}) AS ${c}`;
    case 'timestamp_ltz':
      // the cast yields the instant in the (pinned) session time zone, with its offset
      return `TO_CHAR(CAST(${c} AS TIMESTAMP WITH TIME ZONE), ${TIMESTAMP_TZ_TEXT}) AS ${c}`;
    default:
      return c;
  }
}

function asOf(readPoint: string | null, binds: OracleBinds): string {
  if (readPoint === null) return '';
  if (!/^\d+$/.test(readPoint)) throw new Error(`read point "${readPoint}" is not an Oracle SCN`);
  binds.read_scn = readPoint;
  return ' AS OF SCN :read_scn';
}

/**
 * How the legacy key is compared and ordered so that Oracle follows the TARGET key's order (key-order.ts):
 * - 'native': the column itself — a NUMBER under numeric order, a character key under code-point order
 *   (NLS_SORT/NLS_COMP BINARY, pinned by SESSION_SETUP_SQL);
 * - 'number-as-text': a NUMBER key mapped to a text target key is compared as the text the target holds
 *   (the converter's canonical decimal): TO_CHAR(k, 'TM9') writes a number in fixed notation without a
 *   leading zero ('.5'), which is put back; compared in binary order, so Oracle's '10' < '9' is the target's.
 *   TM9 switches to scientific notation past 64 characters: the preflight counts such keys (numberTextKeySql)
 *   and refuses the table when there are any;
 * - 'text-as-number': a character key mapped to a number target key is compared by its decimal value; a
 *   text that is no decimal number becomes NULL, which the last range reads (the target refuses it into
 *   quarantine there, key-order.ts clause 4).
 * Either conversion costs the key index (a DBA may add a function-based index on the expression).
 */
export type OracleKeyForm = 'native' | 'number-as-text' | 'text-as-number';

export function oracleKeyForm(legacy: LegacyKind, targetOrder: 'numeric' | 'code-point'): OracleKeyForm {
  if (legacy === 'number' && targetOrder === 'code-point') return 'number-as-text';
  if (legacy === 'text' && targetOrder === 'numeric') return 'text-as-number';
  return 'native';
}

/** The decimal text a key of digits must match to have a place in numeric order (as key-order.ts numericPlace). */
const ORACLE_DECIMAL_TEXT = String.raw`^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$`;

export function oracleKeyExpr(key: string, form: OracleKeyForm = 'native'): string {
  const k = oracleIdent(key);
  switch (form) {
    case 'native':
      return k;
    case 'number-as-text':
      return `(CASE WHEN ${k} > -1 AND ${k} < 1 AND ${k} <> 0 THEN REPLACE(TO_CHAR(${k}, 'TM9'), '.', '0.') ELSE TO_CHAR(${k}, 'TM9') END)`;
    case 'text-as-number':
      // blanks of any kind (as \s on the target) and a plus sign removed before TO_NUMBER, which takes neither
      return `(CASE WHEN REGEXP_LIKE(${k}, '${ORACLE_DECIMAL_TEXT}') THEN TO_NUMBER(REGEXP_REPLACE(${k}, '^\\s*[+]?|\\s+$')) END)`;
  }
}

/**
 * 复合主键 One column of a composite key as Oracle compares it (migration/composite-key.ts): the column, its
 * form (oracleKeyExpr: each column follows its own target column's order) and whether it can be NULL.
 */
export interface OracleKeyPart {
  column: string;
  form: OracleKeyForm;
  /** the dictionary's NULLABLE; a text compared as a number is NULL wherever it is no number, whatever the column */
  nullable: boolean;
}

function keyPartNullable(part: OracleKeyPart): boolean {
  return part.nullable || part.form === 'text-as-number';
}

/**
 * Oracle has no row-value comparison (ROW(a, b) > ROW(x, y) is ORA-00920), so a tuple is compared as the
 * lexicographic expansion a > x OR (a = x AND b > y) — each component in its own order — with the leading
 * column's bound also stated alone (a >= x AND …), which means the same and lets the optimizer range-scan an
 * index leading with that column. A NULL component makes its comparisons unknown: tupleRangeSql gives such
 * rows to the last range, as the PostgreSQL side does.
 */
export const expandedTupleCompare: TupleCompare = (exprs, bounds, op) => {
  const strict = op === '>' ? '>' : '<';
  const n = exprs.length;
  let sql = `${exprs[n - 1]} ${op} ${bounds[n - 1]}`;
  for (let i = n - 2; i >= 0; i--) sql = `${exprs[i]} ${strict} ${bounds[i]} OR (${exprs[i]} = ${bounds[i]} AND ${i === n - 2 ? sql : `(${sql})`})`;
  return `(${exprs[0]} ${op === '>' ? '>=' : '<='} ${bounds[0]} AND (${sql}))`;
};

/**
 * A composite key's chunk (keyFrom, keyTo] (encoded tuples, composite-key.ts) as Oracle conditions, the
 * bounds' components as binds key_lo_<i> and key_hi_<i>.
 */
export function compositeKeyRange(parts: OracleKeyPart[], range: { keyFrom: string | null; keyTo: string | null }, binds: OracleBinds): string {
  let tuples = 0;
  return tupleRangeSql(
    parts.map((p) => oracleKeyExpr(p.column, p.form)),
    range,
    (value, i) => {
      if (i === 0) tuples++;
      const name = `key_${range.keyFrom !== null && tuples === 1 ? 'lo' : 'hi'}_${i}`;
      binds[name] = value;
      return ':' + name;
    },
    parts.map(keyPartNullable),
    expandedTupleCompare,
  );
}

export interface ChunkQueryInput {
  schema: string | null;
  table: string;
  key: string;
  /** in the mapping's column order */
  columns: { name: string; kind: LegacyKind }[];
  chunk: Chunk;
  readPoint: string | null;
  chunking: ChunkingMode;
  /** false when the dictionary says the key is NOT NULL: the last chunk then has no IS NULL branch */
  keyNullable?: boolean;
  /** columns (indexes into columns) whose '?' count the server adds after the columns (substitutionCount) */
  substitutionChecks?: number[];
  /** key order, then ROWID: one reproducible order of rows even where the key repeats (the backup's export) */
  thenByRowid?: boolean;
  /** how the key is compared (oracleKeyExpr); 'native' when absent */
  keyForm?: OracleKeyForm;
  /** 复合主键 a composite key's columns: the chunk is a tuple range over them (key, keyForm and keyNullable are then unused) */
  keyParts?: OracleKeyPart[];
}

/**
 * How many '?' the stored value really holds, counted by the server in the database character set,
 * before any conversion: more '?' in the fetched text than this means the conversion replaced characters.
 * In GBK, 0x3F is never a trail byte, so every counted '?' is a real question mark.
 */
export function substitutionCount(column: string, n: number): string {
  const c = oracleIdent(column);
  return `NVL(LENGTH(${c}), 0) - NVL(LENGTH(REPLACE(${c}, '?')), 0) AS "JM_QMARKS_${n}"`;
}

/** The columns a row read gives (with the substitution counts after them) and the table at the read point. */
function selectFrom(input: Pick<ChunkQueryInput, 'schema' | 'table' | 'columns' | 'readPoint' | 'substitutionChecks'>, binds: OracleBinds): { select: string; from: string } {
  const select = [
    ...input.columns.map((c) => selectExpression(c.name, c.kind)),
    ...(input.substitutionChecks ?? []).map((i, n) => substitutionCount(input.columns[i].name, n)),
  ].join(', ');
  return { select, from: tableRef(input.schema, input.table) + asOf(input.readPoint, binds) };
}

/**
 * One chunk: (keyFrom, keyTo] in key order, read at the SCN. Rows whose key is NULL (a required key
 * is still nullable in legacy DDL) sort last and belong to the last chunk, so that every row is read
 * exactly once and the engine can quarantine them instead of losing them.
 * ROWID mode ranges over ROWIDs instead (no key index needed; rows come in ROWID order).
 */
export function chunkQuery(input: ChunkQueryInput): SqlWithBinds {
  const binds: OracleBinds = {};
  const { select, from } = selectFrom(input, binds);
  const { keyFrom, keyTo } = input.chunk;
  const where: string[] = [];
  let orderBy: string;
  if (input.chunking === 'rowid') {
    if (keyFrom !== null) {
      binds.key_lo = keyFrom;
      where.push('ROWID > CHARTOROWID(:key_lo)');
    }
    if (keyTo !== null) {
      binds.key_hi = keyTo;
      where.push('ROWID <= CHARTOROWID(:key_hi)');
    }
    orderBy = 'ROWID';
  } else if (input.keyParts && input.keyParts.length > 1) {
    if (keyFrom !== null || keyTo !== null) where.push(compositeKeyRange(input.keyParts, input.chunk, binds));
    const order = input.keyParts.map((p) => oracleKeyExpr(p.column, p.form)).join(', ');
    orderBy = input.thenByRowid ? `${order}, ROWID` : order;
  } else {
    const k = oracleKeyExpr(input.key, input.keyForm);
    // a text key compared as a number is NULL wherever the text is no number
    const nullable = input.keyNullable !== false || input.keyForm === 'text-as-number';
    if (keyFrom !== null) {
      binds.key_lo = keyFrom;
      // "OR k IS NULL" defeats the key index (a B-tree holds no all-NULL keys): only where NULLs can exist
      where.push(keyTo === null && nullable ? `(${k} > :key_lo OR ${k} IS NULL)` : `${k} > :key_lo`);
    }
    if (keyTo !== null) {
      binds.key_hi = keyTo;
      where.push(`${k} <= :key_hi`);
    }
    orderBy = input.thenByRowid ? `${k}, ROWID` : k;
  }
  const whereSql = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  return { sql: `SELECT ${select} FROM ${from}${whereSql} ORDER BY ${orderBy}`, binds };
}

/**
 * 按键读取 A few rows by their keys (SourceAdapter.readKeys), at the SCN: the chunk's columns, the key column
 * compared with the keys as the adapter reads them (its own text of the column: a NUMBER key's decimal text,
 * which Oracle converts back), as binds k0, k1, …; in key order. Oracle takes at most 1,000 expressions in an
 * IN list (ORA-01795): a longer list is lists of 1,000, OR-ed.
 */
export const ORACLE_IN_LIST_MAX = 1_000;
export function keysQuery(input: Pick<ChunkQueryInput, 'schema' | 'table' | 'key' | 'columns' | 'readPoint' | 'substitutionChecks'> & { keys: readonly string[] }): SqlWithBinds {
  if (!input.keys.length) throw new Error(`keysQuery: no keys to read from ${input.table}`);
  const binds: OracleBinds = {};
  const { select, from } = selectFrom(input, binds);
  const k = oracleIdent(input.key);
  const lists: string[] = [];
  for (let i = 0; i < input.keys.length; i += ORACLE_IN_LIST_MAX) {
    const names = input.keys.slice(i, i + ORACLE_IN_LIST_MAX).map((key, j) => {
      binds[`k${i + j}`] = key;
      return `:k${i + j}`;
    });
    lists.push(`${k} IN (${names.join(', ')})`);
  }
  const where = lists.length > 1 ? `(${lists.join(' OR ')})` : lists[0];
  return { sql: `SELECT ${select} FROM ${from} WHERE ${where} ORDER BY ${k}`, binds };
}

/**
 * Chunk boundaries: every rowsPerChunk-th key in the target key's order (oracleKeyExpr), read at the same
 * SCN as the chunks. One sorted pass over the key (an index fast full scan when the key is indexed).
 * ROWID chunks are planned from extents instead (rowidExtentsQuery).
 */
export function planBoundariesQuery(input: {
  schema: string | null;
  table: string;
  key: string;
  rowsPerChunk: number;
  readPoint: string | null;
  keyForm?: OracleKeyForm;
  /** 复合主键 a composite key's columns: each boundary is a row of their values, in key order (the key is then unused) */
  keyParts?: OracleKeyPart[];
}): SqlWithBinds {
  if (!Number.isInteger(input.rowsPerChunk) || input.rowsPerChunk < 1) {
    throw new Error(`rowsPerChunk must be a positive integer, got ${input.rowsPerChunk}`);
  }
  const binds: OracleBinds = { chunk_rows: input.rowsPerChunk };
  const from = tableRef(input.schema, input.table) + asOf(input.readPoint, binds);
  if (input.keyParts && input.keyParts.length > 1) {
    // a tuple with a NULL component has no place in the order (the last chunk reads it): never a boundary
    const exprs = input.keyParts.map((p) => oracleKeyExpr(p.column, p.form));
    const names = exprs.map((_, i) => `boundary_${i}`);
    const inner = `SELECT ${exprs.map((e, i) => `${e} AS ${names[i]}`).join(', ')}, ROW_NUMBER() OVER (ORDER BY ${exprs.join(', ')}) AS rn FROM ${from} WHERE ${exprs.map((e) => `${e} IS NOT NULL`).join(' AND ')}`;
    return { sql: `SELECT ${names.join(', ')} FROM (${inner}) b WHERE MOD(rn, :chunk_rows) = 0 ORDER BY rn`, binds };
  }
  const k = oracleKeyExpr(input.key, input.keyForm);
  const inner = `SELECT ${k} AS boundary, ROW_NUMBER() OVER (ORDER BY ${k}) AS rn FROM ${from} WHERE ${k} IS NOT NULL`;
  return { sql: `SELECT boundary AS boundary FROM (${inner}) WHERE MOD(rn, :chunk_rows) = 0 ORDER BY rn`, binds };
}

/**
 * 按ROWID切分 The extents of a table (every partition's segment), each as the ROWID just past its last block's
 * last row slot, with its size in blocks, in Oracle's own ROWID order: consecutive ranges between any of
 * these (open below the first and above the last) hold every row exactly once, whatever the extents are
 * by the time a chunk reads (a new extent's rows fall in some range; the count reconciliation proves it).
 * DBA_EXTENTS needs SELECT_CATALOG_ROLE (or SELECT on it): the preflight checks it.
 */
export function rowidExtentsQuery(schema: string | null, table: string): SqlWithBinds {
  const { owner, binds } = dictionaryObject(schema, table);
  return {
    sql:
      'SELECT ROWIDTOCHAR(r) AS boundary, blocks FROM (' +
      'SELECT DBMS_ROWID.ROWID_CREATE(1, o.data_object_id, e.relative_fno, e.block_id + e.blocks - 1, 32767) AS r, e.blocks ' +
      'FROM dba_extents e JOIN dba_objects o ON o.owner = e.owner AND o.object_name = e.segment_name ' +
      "AND NVL(o.subobject_name, '-') = NVL(e.partition_name, '-') AND o.object_type LIKE 'TABLE%' " +
      `WHERE e.owner = ${owner} AND e.segment_name = :table_name AND e.segment_type LIKE 'TABLE%') ORDER BY r`,
    binds,
  };
}

/** The optimizer's row and block counts, for rows per block when ROWID chunks are sized by blocks. */
export function tableStatsQuery(schema: string | null, table: string): SqlWithBinds {
  const { owner, binds } = dictionaryObject(schema, table);
  return { sql: `SELECT num_rows, blocks FROM all_tables WHERE owner = ${owner} AND table_name = :table_name`, binds };
}

/** Row count at the read point, for reconciliation (source rows = loaded + quarantined). */
export function countQuery(schema: string | null, table: string, readPoint: string | null): SqlWithBinds {
  const binds: OracleBinds = {};
  const from = tableRef(schema, table) + asOf(readPoint, binds);
  return { sql: `SELECT COUNT(*) AS row_count FROM ${from}`, binds };
}

/**
 * Did the table change after the SCN? Rows now, rows AS OF the SCN, and rows in blocks changed after it
 * (ORA_ROWSCN is per block unless the table has ROWDEPENDENCIES: an upper bound, never a miss for an
 * insert or update; a delete shows in the counts or in its block's other rows). One full scan.
 */
export function changedSinceQuery(schema: string | null, table: string, scn: string): SqlWithBinds {
  if (!/^\d+$/.test(scn)) throw new Error(`read point "${scn}" is not an Oracle SCN`);
  const t = tableRef(schema, table);
  return {
    sql:
      `SELECT (SELECT COUNT(*) FROM ${t}) AS rows_now, (SELECT COUNT(*) FROM ${t} AS OF SCN :read_scn) AS rows_then, ` +
      `(SELECT COUNT(*) FROM ${t} WHERE ORA_ROWSCN > :read_scn) AS rows_changed FROM DUAL`,
    binds: { read_scn: scn },
  };
}
