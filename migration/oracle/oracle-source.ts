import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import type { Chunk, PreflightProblem, SourceAdapter } from '../source';
import { encodeRow } from '../copy-text';
import { OracleChunkStream } from './chunk-stream';
import { canonicalDecimal, rawText } from './convert';
import { keyOrder } from '../key-order';
import { isComposite, isKeyless, type Mapping, type TableMapping } from '../mapping';
import { legacyKind } from './legacy-types';
import { describeOracleTarget, OracleSourceInput, OracleSourceOptions, validateOracleOptions } from './config';
import type { FetchTypeHandler, OracleConnection, OracleDriver, OracleExecuteOptions, OraclePool } from './driver';
import { loadOracleDriver } from './driver';
import { withOracleErrors } from './errors';
import { connectProblem, runOraclePreflight } from './preflight';
import { DictionaryRow, OracleMappingError, oracleKeyParts, resolveTable, ResolvedTable } from './resolve';
import { changedSinceQuery, chunkQuery, countQuery, DATABASE_CHARSET_SQL, describeTableSql, keysQuery, planBoundariesQuery, READ_POINT_SQL, rowidExtentsQuery, SESSION_SETUP_SQL, SqlWithBinds, tableStatsQuery } from './sql';
import { chunksFromBoundaries, compositeBoundary, rowidChunks } from './chunk-plan';

/**
 * The legacy Oracle registry as a SourceAdapter, through node-oracledb in thin mode (pure
 * JavaScript: no Oracle Client libraries, no install script).
 *
 * - readPoint(): the current SCN; every chunk reads AS OF that SCN (flashback query), so chunks read
 *   in parallel by different workers see one state of the data. Needs undo retention covering the
 *   whole run (UNDO_RETENTION, or the legacy application stopped), FLASHBACK on the tables and
 *   EXECUTE on DBMS_FLASHBACK.
 * - planChunks(): boundaries at the run's SCN (or the live data without one). Any boundaries are correct,
 *   because the first chunk is open below and the last open above (NULL keys included): the ranges cover
 *   every key at any SCN; planning at the run's SCN keeps the chunks even and the plan reproducible.
 * - readChunk(): one pooled connection and one result set per chunk, streamed (chunk-stream.ts).
 */
export class OracleSource implements SourceAdapter {
  readonly kind = 'oracle' as const;
  readonly options: Omit<OracleSourceOptions, 'password'>;
  // a private field: never enumerated, so neither JSON.stringify nor util.inspect of the source shows it
  readonly #password: string;
  private pool: Promise<OraclePool> | null = null;
  private readonly resolved = new Map<string, Promise<ResolvedTable>>();
  private charset: Promise<string> | null = null;
  private readonly fetchTypeHandler: FetchTypeHandler;
  private readonly driver: OracleDriver;

  constructor(options: OracleSourceInput, driver?: OracleDriver) {
    const { password, ...rest } = validateOracleOptions(options);
    this.#password = password;
    this.options = rest;
    this.driver = driver ?? loadOracleDriver(rest.clientLibDir);
    this.fetchTypeHandler = oracleFetchTypeHandler(this.driver);
  }

  /**
   * 预检: the live database against the mapping (preflight.ts), every problem at once. A server that
   * refuses the connection (11g in Thin mode, NJS-138) is the one problem then.
   */
  async preflight(mapping: Mapping, rowsPerChunk?: number): Promise<PreflightProblem[]> {
    let conn: OracleConnection;
    try {
      conn = await this.connect();
    } catch (err) {
      return [connectProblem(err, describeOracleTarget(this.options))];
    }
    try {
      return await runOraclePreflight({
        query: async (sql, binds = {}) => (await conn.execute(sql, binds, { outFormat: this.driver.OUT_FORMAT_ARRAY })).rows ?? [],
        mapping,
        schema: this.options.schema ?? null,
        thin: this.driver.thin,
        plannedRunMinutes: this.options.plannedRunMinutes,
        chunking: this.options.chunking,
        rowsPerChunk,
      });
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  async readPoint(): Promise<string> {
    return withOracleErrors('读取 SCN read point', () =>
      this.withConnection(async (conn) => {
        const { rows } = await conn.execute(READ_POINT_SQL, {}, { outFormat: this.driver.OUT_FORMAT_ARRAY }).catch((err: Error) => {
          // PLS-00201 / ORA-00904: the package is not visible to this user — a grant, not a retry, cures it
          if (/PLS-00201|ORA-00904|ORA-06550/.test(err.message)) {
            throw ApplicationFailure.nonRetryable(
              `cannot read the SCN — 处理 action: the DBA grants EXECUTE ON SYS.DBMS_FLASHBACK to ${this.options.user.toUpperCase()} (${err.message.split('\n')[0]})`,
              'OraclePrivilege',
            );
          }
          throw err;
        });
        const scn = rows?.[0]?.[0];
        if (typeof scn !== 'string' || !/^\d+$/.test(scn)) throw new Error(`Oracle returned no SCN (got ${String(scn)})`);
        return scn;
      }),
    );
  }

  async planChunks(table: TableMapping, rowsPerChunk: number, readPoint: string | null = null, options: { byKey?: boolean } = {}): Promise<Chunk[]> {
    // 无键表 a keyless table has no key range: verification and the export read it whole (one ROWID range, in ROWID order)
    if (isKeyless(table) && options.byKey) return [{ id: `${table.name}:r000000`, keyFrom: null, keyTo: null, rowid: true }];
    // 复合主键 a composite key's table is planned in key ranges under ORACLE_CHUNKING=rowid too: the target cleans up a
    // ROWID chunk by its single keys (chunk-copy.ts), not by tuples; the preflight says so. A keyless table by ROWID
    // ranges whatever ORACLE_CHUNKING says.
    if (((this.options.chunking === 'rowid' && !isComposite(table)) || isKeyless(table)) && !options.byKey) {
      return withOracleErrors(`切分 plan ${table.source.table.toUpperCase()} by ROWID`, () => this.planRowidChunks(table, rowsPerChunk));
    }
    return withOracleErrors(`切分 plan ${table.source.table.toUpperCase()}`, () => this.planKeyChunks(table, rowsPerChunk, readPoint));
  }

  /**
   * ROWID ranges built from the table's extents (ORACLE_CHUNKING=rowid): no key sort, and each chunk reads
   * whole blocks in order. Sized by the optimizer's rows per block (100 when there are no statistics).
   */
  private async planRowidChunks(table: TableMapping, rowsPerChunk: number): Promise<Chunk[]> {
    if (!Number.isInteger(rowsPerChunk) || rowsPerChunk < 1) throw new Error(`rowsPerChunk must be a positive integer, got ${rowsPerChunk}`);
    await this.resolve(table);
    const schema = this.options.schema ?? null;
    const [extents, stats] = await this.withConnection(async (conn) => {
      const q = rowidExtentsQuery(schema, table.source.table);
      const e = (await conn.execute(q.sql, q.binds, { outFormat: this.driver.OUT_FORMAT_ARRAY })).rows ?? [];
      const t = tableStatsQuery(schema, table.source.table);
      const st = (await conn.execute(t.sql, t.binds, { outFormat: this.driver.OUT_FORMAT_ARRAY })).rows?.[0] ?? [];
      return [e, st] as const;
    });
    const [numRows, blocks] = [Number(stats[0]), Number(stats[1])];
    const rowsPerBlock = numRows > 0 && blocks > 0 ? numRows / blocks : 100;
    return rowidChunks(table.name, extents, Math.max(1, Math.round(rowsPerChunk / rowsPerBlock)));
  }

  private async planKeyChunks(table: TableMapping, rowsPerChunk: number, readPoint: string | null): Promise<Chunk[]> {
    const { keyForm, keyParts } = await this.resolve(table);
    const composite = isComposite(table);
    const { sql, binds } = planBoundariesQuery({
      keyForm,
      schema: this.options.schema ?? null,
      table: table.source.table,
      key: table.source.key,
      rowsPerChunk,
      readPoint,
      keyParts: composite ? keyParts : undefined,
    });
    const rows = await this.withConnection(async (conn) => (await conn.execute(sql, binds, this.queryOptions())).rows ?? []);
    if (composite) return chunksFromBoundaries(table.name, rows.map((r) => compositeBoundary(table, r)));
    const boundaries = rows.map((r) => r[0]);
    // bounds in the contract's text form: a number as its exact decimal (the driver may write 1e+25)
    const numeric = keyOrder(table) === 'numeric';
    return chunksFromBoundaries(table.name, numeric ? boundaries.map((b) => (typeof b === 'string' ? canonicalDecimal(b) : b)) : boundaries);
  }

  async countRows(table: TableMapping, readPoint: string | null): Promise<number> {
    const { sql, binds } = countQuery(this.options.schema ?? null, table.source.table, readPoint);
    return withOracleErrors(`计数 count ${table.source.table.toUpperCase()}`, () => this.withConnection(async (conn) => {
      const { rows } = await conn.execute(sql, binds, { outFormat: this.driver.OUT_FORMAT_ARRAY });
      const raw = rows?.[0]?.[0];
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Oracle returned no row count for ${table.source.table} (got ${String(raw)})`);
      return n;
    }));
  }

  /**
   * 旧库未变更 Proof that the legacy table did not change after the run's SCN (the legacy application
   * really stopped): a write after the read point is a row the migration does not carry.
   */
  async changesSince(table: TableMapping, scn: string): Promise<{ rowsNow: number; rowsAtReadPoint: number; rowsInChangedBlocks: number }> {
    const { sql, binds } = changedSinceQuery(this.options.schema ?? null, table.source.table, scn);
    return withOracleErrors(`核对 check ${table.source.table.toUpperCase()} since SCN ${scn}`, () =>
      this.withConnection(async (conn) => {
        const row = (await conn.execute(sql, binds, { outFormat: this.driver.OUT_FORMAT_ARRAY })).rows?.[0] ?? [];
        const [rowsNow, rowsAtReadPoint, rowsInChangedBlocks] = [0, 1, 2].map((i) => Number(row[i]));
        if (![rowsNow, rowsAtReadPoint, rowsInChangedBlocks].every(Number.isSafeInteger)) throw new Error(`Oracle returned no counts for ${table.source.table} (got ${JSON.stringify(row)})`);
        return { rowsNow, rowsAtReadPoint, rowsInChangedBlocks };
      }),
    );
  }

  async readChunk(table: TableMapping, chunk: Chunk, readPoint: string | null): Promise<Readable> {
    return withOracleErrors(`读取 read ${table.source.table.toUpperCase()} chunk ${chunk.id}`, () => this.openChunk(table, chunk, readPoint));
  }

  /** 按键读取 Rows by their keys (the orphan check, remediation's reload): one query at the read point, streamed like a chunk. */
  async readKeys(table: TableMapping, keys: string[], readPoint: string | null): Promise<Readable> {
    if (isComposite(table)) throw new Error(`readKeys takes a one-column key; ${table.name} has a composite key`);
    return withOracleErrors(`按键读取 read ${table.source.table.toUpperCase()} by ${keys.length} keys`, async () => {
      const resolved = await this.resolve(table);
      return this.stream(resolved, keysQuery({ ...this.rowRead(table, resolved, readPoint), keys }));
    });
  }

  private async openChunk(table: TableMapping, chunk: Chunk, readPoint: string | null): Promise<Readable> {
    const resolved = await this.resolve(table);
    return this.stream(resolved, chunkQuery({
      ...this.rowRead(table, resolved, readPoint),
      chunk,
      chunking: chunk.rowid ? 'rowid' : 'key',
      keyNullable: resolved.keyNullable,
      keyForm: resolved.keyForm,
      keyParts: isComposite(table) ? resolved.keyParts : undefined,
    }));
  }

  /** What every read of a table's rows names: the table, its key, its columns, the read point, the '?' checks. */
  private rowRead(table: TableMapping, resolved: ResolvedTable, readPoint: string | null) {
    return {
      schema: this.options.schema ?? null,
      table: table.source.table,
      key: table.source.key,
      columns: resolved.columns.map((c) => ({ name: c.legacy.name, kind: c.legacy.kind })),
      readPoint,
      substitutionChecks: resolved.substitutionChecks,
    };
  }

  /** A query's rows as a chunk stream (the rows converted as a chunk's are), on a connection of its own. */
  private async stream(resolved: ResolvedTable, { sql, binds }: SqlWithBinds): Promise<Readable> {
    // LOBs arrive inline: a batch holds batchSize LOB values, so LOB tables fetch fewer rows per trip
    const batchSize = resolved.columns.some((c) => c.legacy.kind === 'clob' || /BLOB/.test(c.legacy.dataType))
      ? Math.min(this.options.fetchArraySize, this.options.lobFetchArraySize)
      : this.options.fetchArraySize;
    const conn = await this.connect();
    try {
      const result = await conn.execute(sql, binds, { ...this.queryOptions(batchSize), resultSet: true });
      if (!result.resultSet) throw new Error('Oracle returned no result set for the chunk query');
      return new OracleChunkStream(conn, result.resultSet, resolved, batchSize);
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * 备份 The runbook's own export of a legacy table, the independent check beside the Data Pump backup of
   * record: every column of the table (not only the mapped ones) as Oracle holds it — DATE with its time of
   * day, TIMESTAMP to the nanosecond, NUMBER as exact text, RAW/BLOB as hex — one COPY text line per row,
   * ordered by key then ROWID (the same bytes for the same data, even where the key repeats), read chunk by
   * chunk at the read point so no sort of the whole table lands in TEMP. Columns of types the adapter cannot
   * read (XMLTYPE, INTERVAL, BFILE …) are left out and named in `omitted`.
   */
  async exportRaw(table: TableMapping, readPoint: string | null, rowsPerChunk = 100_000): Promise<{ stream: Readable; omitted: string[] }> {
    const where = `备份 export ${table.source.table.toUpperCase()}`;
    const schema = this.options.schema ?? null;
    const dictionary = await withOracleErrors(where, () =>
      this.withConnection(async (conn) => {
        const { sql, binds } = describeTableSql(schema, table.source.table);
        return ((await conn.execute(sql, binds, { outFormat: this.driver.OUT_FORMAT_ARRAY })).rows ?? []) as DictionaryRow[];
      }),
    );
    if (!dictionary.length) throw ApplicationFailure.nonRetryable(`${where}: legacy table not found (ORACLE_SCHEMA, SELECT grant?)`, 'OracleObjectMissing');
    const columns = dictionary.flatMap(([name, dataType]) => {
      const kind = legacyKind(dataType);
      return kind ? [{ name, kind }] : [];
    });
    const omitted = dictionary.filter(([, dataType]) => legacyKind(dataType) === null).map(([name, dataType]) => `${name} (${dataType})`);
    // the same key comparison planChunks bounded the chunks with
    const keyParts = oracleKeyParts(table, dictionary);
    const [{ nullable: keyNullable, form: keyForm }] = keyParts;
    const chunks = await this.planChunks(table, rowsPerChunk, readPoint, { byKey: true });
    const batchSize = columns.some((c) => c.kind === 'clob' || c.kind === 'binary') ? Math.min(this.options.fetchArraySize, this.options.lobFetchArraySize) : this.options.fetchArraySize;
    const lines = async function* (this: OracleSource): AsyncGenerator<Buffer> {
      for (const chunk of chunks) {
        const { sql, binds } = chunkQuery({
          schema,
          table: table.source.table,
          key: table.source.key,
          columns,
          chunk,
          readPoint,
          chunking: chunk.rowid ? 'rowid' : 'key',
          keyNullable,
          keyForm,
          keyParts: isComposite(table) ? keyParts : undefined,
          thenByRowid: true,
        });
        const conn = await this.connect();
        try {
          const result = await withOracleErrors(where, () => conn.execute(sql, binds, { ...this.queryOptions(batchSize), resultSet: true }));
          const rs = result.resultSet!;
          try {
            for (;;) {
              const rows = await withOracleErrors(where, () => rs.getRows(batchSize));
              if (rows.length) yield Buffer.from(rows.map((r) => encodeRow(r.map(rawText))).join(''), 'utf8');
              if (rows.length < batchSize) break;
            }
          } finally {
            await rs.close().catch(() => undefined);
          }
        } finally {
          await conn.close().catch(() => undefined);
        }
      }
    }.call(this);
    return { stream: Readable.from(lines, { objectMode: false }), omitted };
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    // Wait up to 10 s for chunk streams still open to hand their connections back.
    if (pool) await pool.then((p) => p.close(10), () => undefined);
  }

  private queryOptions(batchSize = this.options.fetchArraySize): OracleExecuteOptions {
    return {
      outFormat: this.driver.OUT_FORMAT_ARRAY,
      fetchArraySize: batchSize,
      // one round trip brings the first batch with the execute (thin mode ignores it for LOB queries)
      prefetchRows: batchSize,
      fetchTypeHandler: this.fetchTypeHandler,
    };
  }

  /** dictionary lookup once per table and source instance; a failed lookup is not cached */
  private resolve(table: TableMapping): Promise<ResolvedTable> {
    let pending = this.resolved.get(table.name);
    if (!pending) {
      const { sql, binds } = describeTableSql(this.options.schema ?? null, table.source.table);
      pending = this.withConnection(async (conn) => {
        const { rows } = await conn.execute(sql, binds, { outFormat: this.driver.OUT_FORMAT_ARRAY });
        const databaseCharset = await this.databaseCharset(conn);
        try {
          return resolveTable(table, (rows ?? []) as DictionaryRow[], { naiveUtcOffset: this.options.naiveUtcOffset, databaseCharset });
        } catch (err) {
          // the mapping does not fit the legacy table: no retry changes that
          if (err instanceof OracleMappingError) throw ApplicationFailure.nonRetryable(err.message, 'OracleMappingMismatch', { problems: err.problems });
          throw err;
        }
      });
      pending.catch(() => this.resolved.delete(table.name));
      this.resolved.set(table.name, pending);
    }
    return pending;
  }

  /**
   * NLS_CHARACTERSET, once per source: a ZHS16GBK database gets its text checked for '?' the conversion
   * to UTF-8 put in (resolve.ts). Unreadable → treated as non-Unicode, so the check runs rather than not.
   */
  private databaseCharset(conn: OracleConnection): Promise<string> {
    this.charset ??= conn
      .execute(DATABASE_CHARSET_SQL, {}, { outFormat: this.driver.OUT_FORMAT_ARRAY })
      .then((r) => String(r.rows?.[0]?.[0] ?? 'UNKNOWN'))
      .catch(() => {
        this.charset = null;
        return 'UNKNOWN';
      });
    return this.charset;
  }

  private async connect(): Promise<OracleConnection> {
    if (!this.pool) {
      this.pool = this.driver.createPool({
        user: this.options.user,
        password: this.#password,
        connectString: this.options.connectString,
        poolMin: 0,
        poolMax: this.options.poolMax,
        poolIncrement: 1,
      });
      this.pool.catch(() => (this.pool = null));
    }
    const conn = await (await this.pool).getConnection();
    // every round trip is bounded: a hung read fails (NJS-123, retried) instead of holding a pool slot
    conn.callTimeout = this.options.callTimeoutSeconds * 1000;
    try {
      // once per acquisition: one round trip per chunk, and a session some other code altered is reset
      await conn.execute(SESSION_SETUP_SQL);
      return conn;
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  private async withConnection<T>(fn: (conn: OracleConnection) => Promise<T>): Promise<T> {
    const conn = await this.connect();
    try {
      return await fn(conn);
    } finally {
      await conn.close();
    }
  }
}

/**
 * Exact values out of the driver: NUMBER as the thin driver's own decimal string (its default,
 * parseFloat, would round anything past 15-17 digits), CLOB/NCLOB inline as strings and BLOB as a
 * Buffer instead of Lob objects that need a round trip each. Everything else keeps its default:
 * strings for character types, Buffers for RAW, numbers for BINARY_FLOAT/DOUBLE, and datetimes
 * arrive as text because the chunk query formats them (sql.ts).
 */
export function oracleFetchTypeHandler(driver: OracleDriver): FetchTypeHandler {
  const asString = new Set([driver.DB_TYPE_NUMBER, driver.DB_TYPE_CLOB, driver.DB_TYPE_NCLOB]);
  return (meta) => {
    if (meta.dbType && asString.has(meta.dbType)) return { type: driver.DB_TYPE_VARCHAR };
    if (meta.dbType === driver.DB_TYPE_BLOB) return { type: driver.DB_TYPE_RAW };
    return undefined;
  };
}
