import type { ColumnType, Mapping, TableMapping } from '../mapping';
import type { PreflightProblem } from '../source';
import type { OracleBinds } from './driver';
import { classifyOracleError, oracleErrorCode } from './errors';
import { legacyKind } from './legacy-types';
import { OracleMappingError, resolveTable, type DictionaryRow } from './resolve';
import { describeTableSql, oracleIdent, oracleKeyExpr, oracleObject, READ_POINT_SQL, tableRef } from './sql';

/**
 * 预检 Oracle preflight: what the legacy Oracle must be before the weekend, checked against the mapping
 * on the live database, every problem at once (a failed check is itself a problem and never hides the
 * others). Read-only: dictionary views, V$PARAMETER, and one AS OF probe row per table.
 *
 * Each check is a pure function of what the server returned, so the rules can be tested on captured
 * answers; runOraclePreflight only sends the SQL.
 */

export type PreflightQuery = (sql: string, binds?: OracleBinds) => Promise<unknown[][]>;

export interface OraclePreflightContext {
  query: PreflightQuery;
  mapping: Mapping;
  schema: string | null;
  /** Thin mode (no Instant Client): 11g and a UTF8 national character set are refused */
  thin: boolean;
  plannedRunMinutes: number;
  chunking: 'key' | 'rowid';
  /** rows per chunk the run will plan with, to judge the clustering of key ranges */
  rowsPerChunk?: number;
}

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

// ---------------------------------------------------------------------------------------------
// the rules, on what the server answered

export function checkServerVersion(version: string, thin: boolean): PreflightProblem | null {
  const major = Number(/^(\d+)/.exec(version)?.[1] ?? NaN);
  if (!Number.isFinite(major)) return { where: 'oracle.server', problem: `unrecognised server version "${version}"` };
  if (major >= 12 || !thin) return null;
  return {
    where: 'oracle.server',
    problem: `数据库版本 Oracle ${version} (${major}g): node-oracledb Thin mode needs 12.1 or later and refuses this server (NJS-138)`,
    action: 'run the worker in Thick mode: install Oracle Instant Client (Dockerfile, ORACLE_INSTANT_CLIENT) and set ORACLE_CLIENT_LIB_DIR',
  };
}

/** Database character sets whose Chinese text converts to UTF-8 exactly (GBK and GB18030 hold every registry character they store). */
const CHINESE_OK = new Set(['AL32UTF8', 'UTF8', 'ZHS16GBK', 'ZHS32GB18030']);

export function checkCharsets(charsets: Map<string, string>, nColumns: string[], thin: boolean): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const db = charsets.get('NLS_CHARACTERSET');
  const nchar = charsets.get('NLS_NCHAR_CHARACTERSET');
  if (!db) problems.push({ where: 'oracle.charset', problem: 'NLS_CHARACTERSET not found in NLS_DATABASE_PARAMETERS' });
  else if (!CHINESE_OK.has(db)) {
    problems.push({
      where: 'oracle.charset',
      problem: `数据库字符集 ${db}: Chinese text in this database is stored as bytes the character set does not describe (pass-through), and conversion to UTF-8 replaces it`,
      action: 'the DBA confirms what the bytes really are; migrate from a copy converted with the real character set (CSSCAN/DMU), not from this database directly',
    });
  }
  if (nchar && nchar !== 'AL16UTF16' && thin && nColumns.length) {
    problems.push({
      where: 'oracle.charset',
      problem: `国家字符集 NLS_NCHAR_CHARACTERSET ${nchar}: Thin mode reads NCHAR/NVARCHAR2/NCLOB only in AL16UTF16 and fails on the first fetch (NJS-100) of ${nColumns.join(', ')}`,
      action: 'run the worker in Thick mode (Oracle Instant Client, ORACLE_CLIENT_LIB_DIR)',
    });
  }
  return problems;
}

export function checkUndo(params: Map<string, string>, plannedRunMinutes: number): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const management = params.get('undo_management');
  if (management && management.toUpperCase() !== 'AUTO') {
    problems.push({ where: 'oracle.undo', problem: `UNDO_MANAGEMENT is ${management}: flashback reads (AS OF SCN) need automatic undo`, action: 'the DBA sets UNDO_MANAGEMENT=AUTO' });
  }
  const retention = Number(params.get('undo_retention'));
  const needed = plannedRunMinutes * 60;
  if (!Number.isFinite(retention)) {
    problems.push({ where: 'oracle.undo', problem: 'UNDO_RETENTION not readable' });
  } else if (retention < needed) {
    problems.push({
      where: 'oracle.undo',
      problem: `UNDO_RETENTION ${retention} s is shorter than the planned run (${plannedRunMinutes} min = ${needed} s): reads at the run's SCN can fail with ORA-01555 / ORA-08181 while the legacy application writes`,
      action: `stop the legacy application for the run, or the DBA sets ALTER SYSTEM SET UNDO_RETENTION = ${needed} with RETENTION GUARANTEE on the undo tablespace`,
    });
  }
  return problems;
}

/** all_lobs rows: [COLUMN_NAME, SECUREFILE, PCTVERSION, RETENTION] */
export function checkLobRetention(where: string, table: string, rows: unknown[][], mappedLobs: Set<string>, plannedRunMinutes: number): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  for (const [column, securefile, pctversion, retention] of rows) {
    if (!mappedLobs.has(String(column))) continue;
    const name = `${table.toUpperCase()}.${String(column)}`;
    if (securefile !== 'YES' && pctversion != null) {
      problems.push({
        where,
        problem: `LOB ${name} keeps old versions by PCTVERSION ${String(pctversion)} (space, not time): reading it AS OF the run's SCN can fail with ORA-22924`,
        action: `the DBA runs ALTER TABLE ${table.toUpperCase()} MODIFY LOB (${String(column)}) (RETENTION), or the legacy application stays stopped for the run`,
      });
    } else if (retention != null && Number(retention) < plannedRunMinutes * 60) {
      problems.push({
        where,
        problem: `LOB ${name} keeps old versions for ${String(retention)} s, less than the planned run (${plannedRunMinutes * 60} s): ORA-22924 possible`,
        action: 'raise UNDO_RETENTION before the LOB retention is taken from it (ALTER TABLE … MODIFY LOB (…) (RETENTION)), or keep the legacy application stopped',
      });
    }
  }
  return problems;
}

/** Does the legacy key (a dictionary row) fit the target's key column, in value and in order? */
export function checkKeyFit(where: string, table: TableMapping, keyRow: DictionaryRow | undefined, targetType: ColumnType | undefined): PreflightProblem[] {
  if (!keyRow || !targetType) return []; // resolveTable reports a missing key column
  const [name, dataType, nullable, precision, scale] = keyRow;
  const kind = legacyKind(dataType);
  const problems: PreflightProblem[] = [];
  const key = `${table.source.table.toUpperCase()}.${name}`;
  if (nullable === 'Y') {
    problems.push({
      where,
      problem: `key ${key} is nullable: rows without a key are quarantined, and the last chunk reads them with a full scan (OR ${name} IS NULL)`,
      action: `the DBA confirms no NULL keys (SELECT COUNT(*) … WHERE ${name} IS NULL) and, if so, adds NOT NULL`,
    });
  }
  if (kind === 'number') {
    if (targetType === 'text') {
      // the adapter compares it as the target's text (sql.ts oracleKeyExpr): correct, but no index on the column serves it
      problems.push({
        where,
        problem: `key ${key} is ${dataType} but its target column is text: the adapter compares it as the target does ('10' < '9', TO_CHAR in binary order), which no index on ${name} serves — each chunk scans the table`,
        action: `map the key to a numeric, bigint or integer target column (its own type), or the DBA creates a function-based index on ${oracleKeyExpr(name, 'number-as-text')} and the rehearsal measures the table`,
      });
    } else if (targetType === 'integer' || targetType === 'bigint') {
      const p = typeof precision === 'number' ? precision : null;
      const s = typeof scale === 'number' ? scale : null;
      const digits = targetType === 'integer' ? 9 : 18;
      if (s !== null && s > 0) {
        problems.push({ where, problem: `key ${key} is NUMBER(${String(p)},${s}), with decimals, but its target is ${targetType}`, action: 'map the key to numeric' });
      } else if (p !== null && p - (s ?? 0) > digits) {
        problems.push({ where, problem: `key ${key} is NUMBER(${p}): values up to ${p} digits do not all fit ${targetType}`, action: 'map the key to numeric or bigint' });
      }
    }
  } else if (kind === 'text' && /^N(VAR)?CHAR/.test(dataType) && targetType === 'text') {
    problems.push({
      where,
      problem: `key ${key} is ${dataType}: Oracle compares it by UTF-16 code units, the target by code points, so keys with characters beyond U+FFFF would order differently`,
      action: `the DBA confirms no such keys (SELECT COUNT(*) … WHERE LENGTH2(${name}) <> LENGTH4(${name}) must be 0) or map a VARCHAR2 key`,
    });
  } else if (kind === 'text' && targetType !== 'text') {
    problems.push({
      where,
      problem: `key ${key} is ${dataType} but its target column is ${targetType}: '0012' and '12' become one key and text order is not numeric order`,
      action: 'map the key to a text target column',
    });
  }
  return problems;
}

/** all_ind_columns ⋈ all_indexes ⋈ all_tables rows: [INDEX_NAME, CLUSTERING_FACTOR, NUM_ROWS, BLOCKS] */
export function checkKeyIndex(where: string, table: TableMapping, rows: unknown[][], rowsPerChunk: number): PreflightProblem[] {
  const key = `${table.source.table.toUpperCase()}.${table.source.key.toUpperCase()}`;
  if (!rows.length) {
    return [
      {
        where,
        problem: `no index leads with key ${key}: every key-range chunk reads the whole table, and planning sorts it`,
        action: `the DBA creates an index on (${table.source.key.toUpperCase()}), or map a key that has one`,
      },
    ];
  }
  const best = rows.map(([, cf, n, b]) => ({ cf: Number(cf), rows: Number(n), blocks: Number(b) })).sort((a, b) => a.cf - b.cf)[0];
  if (!Number.isFinite(best.cf) || !Number.isFinite(best.rows) || best.rows <= 0) {
    return [{ where, problem: `no optimizer statistics for ${table.source.table.toUpperCase()}: the preflight cannot judge how the key is clustered`, action: `the DBA gathers statistics (DBMS_STATS.GATHER_TABLE_STATS) before the rehearsal` }];
  }
  // a clustering factor near the row count: consecutive keys sit in different blocks
  const blocksPerChunk = Math.round((best.cf / best.rows) * rowsPerChunk);
  if (best.cf > 0.5 * best.rows && best.rows > rowsPerChunk) {
    return [
      {
        where,
        problem: `rows of ${table.source.table.toUpperCase()} are scattered by key (clustering factor ${best.cf} for ${best.rows} rows in ${best.blocks} blocks): each key-range chunk of ${rowsPerChunk} rows reads about ${blocksPerChunk} blocks one by one`,
        action: 'measure this table in the rehearsal; plan it with larger chunks, or set ORACLE_CHUNKING=rowid (ranges of extents, read block by block)',
      },
    ];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------

/** A check that failed to run is itself a problem, with the cause and action of the Oracle error when known. */
function failedCheck(where: string, what: string, err: unknown): PreflightProblem {
  const rule = classifyOracleError(err);
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return { where, problem: `${what}: ${rule ? rule.cause + ' — ' : ''}${message}`, ...(rule ? { action: rule.action } : {}) };
}

function pairs(rows: unknown[][]): Map<string, string> {
  return new Map(rows.map((r) => [String(r[0]), String(r[1])]));
}

const NATIONAL_TYPES = /^(NCHAR|NVARCHAR2|NCLOB)$/;
const LOB_TYPES = /^(CLOB|NCLOB|BLOB)$/;

export async function runOraclePreflight(ctx: OraclePreflightContext): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  const { query, schema } = ctx;
  const attempt = async (where: string, what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(failedCheck(where, what, err));
    }
  };

  if (ctx.chunking === 'rowid') {
    // ROWID ranges are built from DBA_EXTENTS (sql.ts rowidExtentsQuery): readable only with a grant
    await query(ROWID_EXTENTS_PROBE_SQL).catch((err: unknown) =>
      problems.push({
        where: 'ORACLE_CHUNKING',
        problem: `ORACLE_CHUNKING=rowid plans ROWID ranges from DBA_EXTENTS, which the migration user cannot read: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
        action: 'the DBA grants SELECT ON SYS.DBA_EXTENTS and SYS.DBA_OBJECTS (or SELECT_CATALOG_ROLE) to the migration user, or unset ORACLE_CHUNKING (key ranges)',
      }),
    );
  }

  await attempt('oracle.server', 'server version', async () => {
    const version = String((await query(SERVER_VERSION_SQL))[0]?.[0] ?? '');
    const p = checkServerVersion(version, ctx.thin);
    if (p) problems.push(p);
  });

  // the dictionary of every mapped table, once: the charset, LOB and key checks all need it
  const dictionaries = new Map<string, DictionaryRow[]>();
  for (const [i, table] of ctx.mapping.tables.entries()) {
    const where = `tables[${i}].source`;
    await attempt(where, `legacy table ${table.source.table.toUpperCase()}`, async () => {
      const { sql, binds } = describeTableSql(schema, table.source.table);
      const rows = (await query(sql, binds)) as DictionaryRow[];
      dictionaries.set(table.name, rows);
      try {
        resolveTable(table, rows, { naiveUtcOffset: '+08:00' });
      } catch (err) {
        if (!(err instanceof OracleMappingError)) throw err;
        for (const p of err.problems) problems.push({ where, problem: `${table.source.table.toUpperCase()}: ${p}`, action: 'fix the mapping or ORACLE_SCHEMA, or have the DBA grant SELECT' });
      }
    });
  }

  const mappedType = (table: TableMapping, column: string): string | undefined =>
    dictionaries.get(table.name)?.find((r) => r[0] === column.toUpperCase())?.[1];

  let dbCharset: string | null = null;
  await attempt('oracle.charset', 'character sets', async () => {
    const charsets = pairs(await query(CHARSETS_SQL));
    dbCharset = charsets.get('NLS_CHARACTERSET') ?? null;
    const nColumns = ctx.mapping.tables.flatMap((t) =>
      t.columns.filter((c) => NATIONAL_TYPES.test(mappedType(t, c.source) ?? '')).map((c) => `${t.source.table.toUpperCase()}.${c.source.toUpperCase()}`),
    );
    problems.push(...checkCharsets(charsets, nColumns, ctx.thin));
  });

  await attempt('oracle.undo', 'undo retention (needs SELECT on V_$PARAMETER)', async () => {
    problems.push(...checkUndo(pairs(await query(UNDO_SQL)), ctx.plannedRunMinutes));
  });

  let scn: string | null = null;
  await attempt('oracle.flashback', 'reading the SCN (needs EXECUTE on SYS.DBMS_FLASHBACK)', async () => {
    const value = (await query(READ_POINT_SQL))[0]?.[0];
    if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new Error(`no SCN returned (got ${String(value)})`);
    scn = value;
  });

  for (const [i, table] of ctx.mapping.tables.entries()) {
    const dictionary = dictionaries.get(table.name);
    if (!dictionary?.length) continue;
    const legacy = table.source.table.toUpperCase();
    if (scn !== null) {
      const readScn: string = scn;
      await attempt(`tables[${i}].source.table`, `${legacy} AS OF SCN ${readScn}`, async () => {
        const { sql, binds } = asOfProbeSql(schema, table.source.table, readScn);
        await query(sql, binds);
      });
    }
    const lobs = new Set(table.columns.map((c) => c.source.toUpperCase()).filter((c) => LOB_TYPES.test(mappedType(table, c) ?? '')));
    if (lobs.size) {
      await attempt(`tables[${i}].columns`, `LOB retention of ${legacy}`, async () => {
        const { sql, binds } = lobRetentionSql(schema, table.source.table);
        problems.push(...checkLobRetention(`tables[${i}].columns`, table.source.table, await query(sql, binds), lobs, ctx.plannedRunMinutes));
      });
    }
    const keyRow = dictionary.find((r) => r[0] === table.source.key.toUpperCase());
    const keyTarget = table.columns.find((c) => c.source === table.source.key)?.type;
    const keyWhere = `tables[${i}].source.key`;
    problems.push(...checkKeyFit(keyWhere, table, keyRow, keyTarget));
    const keyKind = keyRow ? legacyKind(keyRow[1]) : null;
    if (keyRow && keyKind === 'number' && keyRow[3] == null && (keyTarget === 'integer' || keyTarget === 'bigint')) {
      await attempt(keyWhere, `${legacy}.${keyRow[0]} values against ${keyTarget}`, async () => {
        const { sql, binds } = keyFitSql(schema, table.source.table, table.source.key, keyTarget);
        const n = Number((await query(sql, binds))[0]?.[0]);
        if (n > 0) problems.push({ where: keyWhere, problem: `${n} keys of ${legacy}.${keyRow[0]} (NUMBER without precision) are fractional or beyond ${keyTarget}`, action: 'map the key to numeric' });
      });
    }
    const charset: string | null = dbCharset;
    // a NUMBER key compared as text: exact unless a value's fixed notation passes 64 characters
    const fixedWidth = typeof keyRow?.[3] === 'number' && typeof keyRow?.[4] === 'number' && keyRow[4] >= 0 && keyRow[3] + keyRow[4] <= 60;
    if (keyRow && keyKind === 'number' && keyTarget === 'text' && !fixedWidth) {
      await attempt(keyWhere, `${legacy}.${keyRow[0]} values as text`, async () => {
        const { sql, binds } = numberTextKeySql(schema, table.source.table, table.source.key);
        const n = Number((await query(sql, binds))[0]?.[0] ?? 0);
        if (n > 0) problems.push({ where: keyWhere, problem: `${n} keys of ${legacy}.${keyRow[0]} are written in scientific notation by TO_CHAR, not as the target's text: chunk ranges would disagree`, action: 'map the key to numeric' });
      });
    }
    if (keyRow && keyKind === 'text' && charset !== null && charset !== 'AL32UTF8' && charset !== 'UTF8') {
      await attempt(keyWhere, `${legacy}.${keyRow[0]} characters`, async () => {
        const { sql, binds } = nonAsciiKeySql(schema, table.source.table, table.source.key);
        if (Number((await query(sql, binds))[0]?.[0]) > 0) {
          problems.push({
            where: keyWhere,
            problem: `text key ${legacy}.${keyRow[0]} holds non-ASCII characters, which ${charset} orders by other bytes than the target's UTF-8: chunk ranges would disagree`,
            action: 'map a key of digits and Latin letters (e.g. PRIPID, not a name)',
          });
        }
      });
    }
    if (ctx.chunking === 'key') {
      await attempt(keyWhere, `index on ${legacy}.${table.source.key.toUpperCase()}`, async () => {
        const { sql, binds } = keyIndexSql(schema, table.source.table, table.source.key);
        problems.push(...checkKeyIndex(keyWhere, table, await query(sql, binds), ctx.rowsPerChunk ?? 100_000));
      });
    }
    // 键不唯一 a key that repeats: the target's primary key would refuse every repeat
    await attempt(keyWhere, `uniqueness of ${legacy}.${table.source.key.toUpperCase()}`, async () => {
      const unique = keyUniqueIndexSql(schema, table.source.table, table.source.key);
      if (Number((await query(unique.sql, unique.binds))[0]?.[0] ?? 0) > 0) return;
      const repeats = keyRepeatsSql(schema, table.source.table, table.source.key);
      const n = Number((await query(repeats.sql, repeats.binds))[0]?.[0] ?? 0);
      if (n > 0) {
        problems.push({
          where: keyWhere,
          problem: `键不唯一 key ${legacy}.${table.source.key.toUpperCase()} is not unique: ${n} key values are held by more than one row, and the target's primary key would refuse every repeat (quarantined; the table would not reconcile)`,
          action: `declare a column that is unique in ${legacy} as source.key (the DBA confirms it with a unique index)`,
        });
      }
    });
  }
  return problems;
}

/** A unique index whose only column is the key: proves the key unique without reading the table. */
export function keyUniqueIndexSql(schema: string | null, table: string, key: string): { sql: string; binds: OracleBinds } {
  const { owner, binds } = keyColumnBinds(schema, table, key, 'i.table_owner');
  return {
    sql:
      "SELECT COUNT(*) FROM all_indexes i WHERE " + owner + " AND i.table_name = :table_name AND i.uniqueness = 'UNIQUE' " +
      'AND (SELECT COUNT(*) FROM all_ind_columns c WHERE c.index_owner = i.owner AND c.index_name = i.index_name) = 1 ' +
      'AND EXISTS (SELECT 1 FROM all_ind_columns c WHERE c.index_owner = i.owner AND c.index_name = i.index_name AND c.column_name = :column_name)',
    binds,
  };
}

/** Key values held by more than one row (one pass; only when no unique index proves the key). */
export function keyRepeatsSql(schema: string | null, table: string, key: string): { sql: string; binds: OracleBinds } {
  const k = oracleIdent(key);
  return { sql: `SELECT COUNT(*) FROM (SELECT ${k} FROM ${tableRef(schema, table)} WHERE ${k} IS NOT NULL GROUP BY ${k} HAVING COUNT(*) > 1)`, binds: {} };
}

/** The one problem when no connection can be made (11g in Thin mode, a wrong password, no listener). */
export function connectProblem(err: unknown, target: string): PreflightProblem {
  const p = failedCheck('oracle.connection', `cannot connect to ${target}`, err);
  if (oracleErrorCode(err) === 'NJS-138') {
    p.problem += '; the other checks need a connection: run the preflight again in Thick mode';
  }
  return p;
}

/** The preflight's problems as an operator reads them: numbered, where, what, and what to do. */
export function formatPreflightReport(target: string, problems: PreflightProblem[]): string {
  const head = `预检 Oracle preflight of ${target}: ${problems.length ? `${problems.length} problem(s) 问题` : 'no problems 通过'}\n`;
  return head + problems.map((p, i) => `${i + 1}. [${p.where}] ${p.problem}${p.action ? `\n   处理 action: ${p.action}` : ''}\n`).join('');
}
