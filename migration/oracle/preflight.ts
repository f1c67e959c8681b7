import { isComposite, isKeyless, type Mapping, type TableMapping } from '../mapping';
import type { PreflightProblem } from '../source';
import type { OracleBinds } from './driver';
import { classifyOracleError, oracleErrorCode } from './errors';
import { legacyKind } from './legacy-types';
import { checkCharsets, checkKeyFit, checkKeyIndex, checkLobRetention, checkServerVersion, checkUndo } from './preflight-checks';
import {
  asOfProbeSql,
  CHARSETS_SQL,
  keyFitSql,
  keyIndexSql,
  keyRepeatsSql,
  keyUniqueIndexSql,
  lobRetentionSql,
  nonAsciiKeySql,
  numberTextKeySql,
  ROWID_EXTENTS_PROBE_SQL,
  SERVER_VERSION_SQL,
  UNDO_SQL,
} from './preflight-sql';
import { OracleMappingError, resolveTable, type DictionaryRow } from './resolve';
import { describeTableSql, READ_POINT_SQL } from './sql';

/**
 * 预检 Oracle preflight: what the legacy Oracle must be before the weekend, checked against the mapping
 * on the live database, every problem at once (a failed check is itself a problem and never hides the
 * others). Read-only: dictionary views, V$PARAMETER, and one AS OF probe row per table.
 *
 * Each check is a pure function of what the server returned (preflight-checks.ts), so the rules can be tested on
 * captured answers; the SQL is preflight-sql.ts; runOraclePreflight only sends the SQL and hands the answers on.
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
    // 无键表 a keyless table declares no key: no key fit, index or uniqueness to check (it is read by ROWID ranges)
    if (isKeyless(table)) continue;
    // each key column (复合主键 every column of a composite key) in its own order against its own target column
    for (const [k, keyName] of (table.source.keys ?? [table.source.key]).entries()) {
      const keyRow = dictionary.find((r) => r[0] === keyName.toUpperCase());
      const keyTarget = table.columns.find((c) => c.source === keyName)?.type;
      const keyWhere = table.source.keys ? `tables[${i}].source.key[${k}]` : `tables[${i}].source.key`;
      problems.push(...checkKeyFit(keyWhere, table, keyRow, keyTarget));
      const keyKind = keyRow ? legacyKind(keyRow[1]) : null;
      if (keyRow && keyKind === 'number' && keyRow[3] == null && (keyTarget === 'integer' || keyTarget === 'bigint')) {
        await attempt(keyWhere, `${legacy}.${keyRow[0]} values against ${keyTarget}`, async () => {
          const { sql, binds } = keyFitSql(schema, table.source.table, keyName, keyTarget);
          const n = Number((await query(sql, binds))[0]?.[0]);
          if (n > 0) problems.push({ where: keyWhere, problem: `${n} keys of ${legacy}.${keyRow[0]} (NUMBER without precision) are fractional or beyond ${keyTarget}`, action: 'map the key to numeric' });
        });
      }
      const charset: string | null = dbCharset;
      // a NUMBER key compared as text: exact unless a value's fixed notation passes 64 characters
      const fixedWidth = typeof keyRow?.[3] === 'number' && typeof keyRow?.[4] === 'number' && keyRow[4] >= 0 && keyRow[3] + keyRow[4] <= 60;
      if (keyRow && keyKind === 'number' && keyTarget === 'text' && !fixedWidth) {
        await attempt(keyWhere, `${legacy}.${keyRow[0]} values as text`, async () => {
          const { sql, binds } = numberTextKeySql(schema, table.source.table, keyName);
          const n = Number((await query(sql, binds))[0]?.[0] ?? 0);
          if (n > 0) problems.push({ where: keyWhere, problem: `${n} keys of ${legacy}.${keyRow[0]} are written in scientific notation by TO_CHAR, not as the target's text: chunk ranges would disagree`, action: 'map the key to numeric' });
        });
      }
      if (keyRow && keyKind === 'text' && charset !== null && charset !== 'AL32UTF8' && charset !== 'UTF8') {
        await attempt(keyWhere, `${legacy}.${keyRow[0]} characters`, async () => {
          const { sql, binds } = nonAsciiKeySql(schema, table.source.table, keyName);
          if (Number((await query(sql, binds))[0]?.[0]) > 0) {
            problems.push({
              where: keyWhere,
              problem: `text key ${legacy}.${keyRow[0]} holds non-ASCII characters, which ${charset} orders by other bytes than the target's UTF-8: chunk ranges would disagree`,
              action: 'map a key of digits and Latin letters (e.g. PRIPID, not a name)',
            });
          }
        });
      }
    }
    const keyWhere = `tables[${i}].source.key`;
    const composite = isComposite(table);
    const keyLabel = composite ? `(${table.source.keys!.map((k) => k.toUpperCase()).join(', ')})` : table.source.key.toUpperCase();
    if (ctx.chunking === 'rowid' && composite) {
      problems.push({
        where: keyWhere,
        severity: 'warning',
        problem: `复合主键 composite key ${legacy}.${keyLabel}: ORACLE_CHUNKING=rowid does not apply to this table — it is planned and read in key ranges over the key's columns (the target cleans up a retried ROWID chunk by one-column keys only)`,
        action: `none needed; the table's chunks read by an index leading with ${table.source.key.toUpperCase()} (checked below), so it is measured in the rehearsal like a key-chunked table`,
      });
    }
    if (ctx.chunking === 'key' || composite) {
      await attempt(keyWhere, `index on ${legacy}.${table.source.key.toUpperCase()}`, async () => {
        const { sql, binds } = keyIndexSql(schema, table.source.table, table.source.key);
        problems.push(...checkKeyIndex(keyWhere, table, await query(sql, binds), ctx.rowsPerChunk ?? 100_000));
      });
    }
    // 键不唯一 a key that repeats: the target's primary key would refuse every repeat
    await attempt(keyWhere, `uniqueness of ${legacy}.${keyLabel}`, async () => {
      const unique = keyUniqueIndexSql(schema, table.source.table, table.source.keys ?? table.source.key);
      if (Number((await query(unique.sql, unique.binds))[0]?.[0] ?? 0) > 0) return;
      const repeats = keyRepeatsSql(schema, table.source.table, table.source.keys ?? table.source.key);
      const n = Number((await query(repeats.sql, repeats.binds))[0]?.[0] ?? 0);
      if (n > 0) {
        problems.push({
          where: keyWhere,
          problem: `键不唯一 key ${legacy}.${keyLabel} is not unique: ${n} key values are held by more than one row, and the target's primary key would refuse every repeat (quarantined; the table would not reconcile)`,
          action: `${composite ? `declare columns that are unique together in ${legacy} as source.key (复合主键 a composite key; the DBA confirms it with a unique index on them)` : `declare a column that is unique in ${legacy} as source.key (the DBA confirms it with a unique index)`}; if no set of columns is unique, map it 无键表 keyless ("source": { "table": …, "keyless": true }: read in ROWID ranges, verified as a multiset of rows)`,
        });
      }
    });
  }
  return problems;
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
