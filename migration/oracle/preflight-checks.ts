import type { ColumnType, TableMapping } from '../mapping';
import type { PreflightProblem } from '../source';
import { legacyKind } from './legacy-types';
import type { DictionaryRow } from './resolve';
import { oracleKeyExpr } from './sql';

/**
 * 预检规则 The Oracle preflight's rules, on what the server answered (preflight-sql.ts asks it): each check is a pure
 * function of the rows, so the rules can be tested on captured answers; preflight.ts runs the queries and the checks.
 */

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
