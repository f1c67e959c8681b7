import type { OracleBinds } from './driver';
import { oracleIdent, oracleObject, tableRef } from './sql';

/**
 * 预检 SQL What the Oracle preflight (preflight.ts) asks the legacy database: read-only queries of the dictionary
 * views, V$PARAMETER and the tables themselves, with the table's owner and names as binds. The rules that judge the
 * answers are preflight-checks.ts.
 */

export const SERVER_VERSION_SQL = "SELECT version FROM product_component_version WHERE product LIKE 'Oracle%' AND ROWNUM = 1";
export const CHARSETS_SQL =
  "SELECT parameter, value FROM nls_database_parameters WHERE parameter IN ('NLS_CHARACTERSET', 'NLS_NCHAR_CHARACTERSET')";
/** ORACLE_CHUNKING=rowid plans from DBA_EXTENTS and DBMS_ROWID: one row proves both readable. */
export const ROWID_EXTENTS_PROBE_SQL = 'SELECT DBMS_ROWID.ROWID_CREATE(1, 1, 1, 1, 0) FROM dba_extents WHERE ROWNUM <= 1';
export const UNDO_SQL = "SELECT name, value FROM v$parameter WHERE name IN ('undo_management', 'undo_retention')";

function ownerPredicate(schema: string | null, binds: OracleBinds, column: string): string {
  if (!schema) return `${column} = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')`;
  binds.owner_name = schema.toUpperCase();
  return `${column} = :owner_name`;
}

export function lobRetentionSql(schema: string | null, table: string): { sql: string; binds: OracleBinds } {
  const object = oracleObject(schema, table);
  const binds: OracleBinds = { table_name: object.name.toUpperCase() };
  const owner = ownerPredicate(object.owner, binds, 'owner');
  return { sql: `SELECT column_name, securefile, pctversion, retention FROM all_lobs WHERE ${owner} AND table_name = :table_name`, binds };
}

/** The binds naming a table's key column in the index views, and the owner predicate on `ownerColumn`. */
function keyColumnBinds(schema: string | null, table: string, key: string, ownerColumn: string): { owner: string; binds: OracleBinds } {
  const object = oracleObject(schema, table);
  const binds: OracleBinds = { table_name: object.name.toUpperCase(), column_name: key.toUpperCase() };
  return { owner: ownerPredicate(object.owner, binds, ownerColumn), binds };
}

/** The index that leads with the key, its clustering factor and the table's statistics. */
export function keyIndexSql(schema: string | null, table: string, key: string): { sql: string; binds: OracleBinds } {
  const { owner, binds } = keyColumnBinds(schema, table, key, 'c.table_owner');
  return {
    sql:
      'SELECT i.index_name, i.clustering_factor, t.num_rows, t.blocks FROM all_ind_columns c ' +
      'JOIN all_indexes i ON i.owner = c.index_owner AND i.index_name = c.index_name ' +
      'JOIN all_tables t ON t.owner = i.table_owner AND t.table_name = i.table_name ' +
      `WHERE ${owner} AND c.table_name = :table_name AND c.column_name = :column_name AND c.column_position = 1`,
    binds,
  };
}

/** One row read AS OF the SCN: proves FLASHBACK (ORA-01031), SELECT (ORA-00942) and no DDL since (ORA-01466). */
export function asOfProbeSql(schema: string | null, table: string, scn: string): { sql: string; binds: OracleBinds } {
  return { sql: `SELECT COUNT(*) FROM ${tableRef(schema, table)} AS OF SCN :read_scn WHERE ROWNUM <= 1`, binds: { read_scn: scn } };
}

/** Keys of an unconstrained NUMBER that do not fit an integer target: fractions, or beyond the target's range. */
export function keyFitSql(schema: string | null, table: string, key: string, target: 'integer' | 'bigint'): { sql: string; binds: OracleBinds } {
  const k = oracleIdent(key);
  const max = target === 'integer' ? '2147483647' : '9223372036854775807';
  const min = target === 'integer' ? '-2147483648' : '-9223372036854775808';
  return { sql: `SELECT COUNT(*) FROM ${tableRef(schema, table)} WHERE ${k} <> TRUNC(${k}) OR ${k} > ${max} OR ${k} < ${min}`, binds: {} };
}

/**
 * NUMBER keys whose text TO_CHAR(k, 'TM9') writes in scientific notation (past 64 characters), where the
 * adapter's text of a key mapped to a text target (oracleKeyExpr 'number-as-text') is not the target's.
 */
export function numberTextKeySql(schema: string | null, table: string, key: string): { sql: string; binds: OracleBinds } {
  const k = oracleIdent(key);
  return { sql: `SELECT COUNT(*) FROM ${tableRef(schema, table)} WHERE INSTR(UPPER(TO_CHAR(${k}, 'TM9')), 'E') > 0`, binds: {} };
}

/** Text keys with a multi-byte character: ordered by GBK bytes in Oracle, by UTF-8 bytes on the target. */
export function nonAsciiKeySql(schema: string | null, table: string, key: string): { sql: string; binds: OracleBinds } {
  const k = oracleIdent(key);
  return { sql: `SELECT COUNT(*) FROM ${tableRef(schema, table)} WHERE LENGTHB(${k}) <> LENGTH(${k}) AND ROWNUM <= 1`, binds: {} };
}

/**
 * A unique index whose only column is the key (复合主键 whose columns are exactly the key's, in any order): proves
 * the key unique without reading the table.
 */
export function keyUniqueIndexSql(schema: string | null, table: string, key: string | string[]): { sql: string; binds: OracleBinds } {
  if (Array.isArray(key) && key.length > 1) {
    const object = oracleObject(schema, table);
    const binds: OracleBinds = { table_name: object.name.toUpperCase() };
    const owner = ownerPredicate(object.owner, binds, 'i.table_owner');
    key.forEach((k, n) => (binds[`column_${n}`] = k.toUpperCase()));
    const columns = (extra: string) => `(SELECT COUNT(*) FROM all_ind_columns c WHERE c.index_owner = i.owner AND c.index_name = i.index_name${extra}) = ${key.length}`;
    return {
      sql:
        `SELECT COUNT(*) FROM all_indexes i WHERE ${owner} AND i.table_name = :table_name AND i.uniqueness = 'UNIQUE' ` +
        `AND ${columns('')} AND ${columns(` AND c.column_name IN (${key.map((_, n) => `:column_${n}`).join(', ')})`)}`,
      binds,
    };
  }
  const { owner, binds } = keyColumnBinds(schema, table, Array.isArray(key) ? key[0] : key, 'i.table_owner');
  return {
    sql:
      "SELECT COUNT(*) FROM all_indexes i WHERE " + owner + " AND i.table_name = :table_name AND i.uniqueness = 'UNIQUE' " +
      'AND (SELECT COUNT(*) FROM all_ind_columns c WHERE c.index_owner = i.owner AND c.index_name = i.index_name) = 1 ' +
      'AND EXISTS (SELECT 1 FROM all_ind_columns c WHERE c.index_owner = i.owner AND c.index_name = i.index_name AND c.column_name = :column_name)',
    binds,
  };
}

/**
 * Key values held by more than one row (one pass; only when no unique index proves the key). 复合主键 A composite
 * key's tuples, grouped by all its columns; a tuple with a NULL column is no key (its rows are quarantined).
 */
export function keyRepeatsSql(schema: string | null, table: string, key: string | string[]): { sql: string; binds: OracleBinds } {
  const ks = (Array.isArray(key) ? key : [key]).map(oracleIdent);
  const list = ks.join(', ');
  return { sql: `SELECT COUNT(*) FROM (SELECT ${list} FROM ${tableRef(schema, table)} WHERE ${ks.map((k) => `${k} IS NOT NULL`).join(' AND ')} GROUP BY ${list} HAVING COUNT(*) > 1)`, binds: {} };
}
