import type { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { copyTo } from '../lib/copy-to';
import { quoteIdent, quoteQualified, resilientPool } from '../lib/db';
import { CopyTextParser } from './copy-text';
import { encodeKey, legacyTupleRange, tupleOrderSql } from './composite-key';
import { keyOrderOf, keyRangeSql, LegacyKeyExpr, legacyColumnKeyExpr, legacyKeyExpr, legacyKeyRepeats } from './key-order';
import { isComposite, isKeyless, keyColumns } from './mapping';
import type { LegacyCodeTable } from './code-tables';
import type { Mapping, TableMapping } from './mapping';
import { checkPostgresLegacy, readPostgresCodeTable } from './preflight';
import type { Chunk, PreflightProblem, SourceAdapter } from './source';

/**
 * The legacy side when it is PostgreSQL (tests, the demo, and a PostgreSQL staging copy of Oracle).
 * Reads with COPY TO STDOUT in text format: the server renders every type in its canonical text,
 * which COPY FROM on the target takes back unchanged.
 */
export function literal(value: string): string {
  return "'" + value.replace(/'/g, "''") + "'";
}

/** The chunk's rows in the table's key order (key-order.ts): `key` is legacyKeyExpr's answer, by default the key column itself. */
export function chunkCopySql(table: TableMapping, chunk: Chunk, keyExpr: LegacyKeyExpr | LegacyKeyExpr[] = { expr: quoteIdent(table.source.key), textual: false, nullable: false }): string {
  if (Array.isArray(keyExpr)) return compositeChunkCopySql(table, chunk, keyExpr);
  const key = `(${keyExpr.expr})`;
  const cols = table.columns.map((c) => quoteIdent(c.source)).join(', ');
  const where = ` WHERE ${keyRangeSql(key, chunk, literal, { nullable: keyExpr.nullable })}`;
  // COPY takes no bind parameters; bounds are inlined as escaped literals.
  return `COPY (SELECT ${cols} FROM ${quoteQualified(table.source.table)}${where} ORDER BY ${key}) TO STDOUT`;
}

/**
 * A few keys' rows (SourceAdapter.readKeys), matched on the key column itself so that its index serves
 * (equality needs no collation of ours); a key its type cannot take fails the statement (the caller reads the chunk instead).
 */
export function keysCopySql(table: TableMapping, keys: string[]): string {
  const cols = table.columns.map((c) => quoteIdent(c.source)).join(', ');
  const key = quoteIdent(table.source.key);
  return `COPY (SELECT ${cols} FROM ${quoteQualified(table.source.table)} WHERE ${key} IN (${keys.map(literal).join(', ')}) ORDER BY ${key}) TO STDOUT`;
}

/** 复合主键 A composite key's chunk: a row-value range over the components (composite-key.ts), ordered by them. */
function compositeChunkCopySql(table: TableMapping, chunk: Chunk, exprs: LegacyKeyExpr[]): string {
  const cols = table.columns.map((c) => quoteIdent(c.source)).join(', ');
  const where = ` WHERE ${legacyTupleRange(exprs, chunk, literal)}`;
  return `COPY (SELECT ${cols} FROM ${quoteQualified(table.source.table)}${where} ORDER BY ${tupleOrderSql(exprs.map((e) => `(${e.expr})`))}) TO STDOUT`;
}

/**
 * 无键表 A keyless table's chunk: a range of the heap's blocks, [keyFrom, keyTo) as block numbers (TID Range Scan,
 * PostgreSQL ≥ 14), no bound where null. Every row is in one block, every block in one range: each row in one chunk.
 */
export function ctidRangeSql(chunk: Pick<Chunk, 'keyFrom' | 'keyTo'>): string {
  const bound = (b: string) => {
    if (!/^\d{1,10}$/.test(b)) throw new Error(`not a block number: ${JSON.stringify(b)} (无键表 a keyless table's chunk bounds are heap blocks)`);
    return `'(${b},0)'::tid`;
  };
  const parts = [chunk.keyFrom !== null ? `ctid >= ${bound(chunk.keyFrom)}` : null, chunk.keyTo !== null ? `ctid < ${bound(chunk.keyTo)}` : null].filter((p) => p !== null);
  return parts.length ? parts.join(' AND ') : 'TRUE';
}

/**
 * 无键表 A keyless table's chunks over `blocks` heap blocks (the relation's size when planned), blocksPerChunk each:
 * the first from the start, the last open-ended, so that rows in blocks added after planning are still read.
 */
export function ctidChunks(blocks: number, blocksPerChunk: number): Chunk[] {
  const per = Math.max(1, Math.floor(blocksPerChunk));
  const chunks: Chunk[] = [];
  for (let from = 0; from === 0 || from < blocks; from += per) {
    const last = from + per >= blocks;
    chunks.push({ id: String(chunks.length + 1).padStart(5, '0'), keyFrom: from === 0 ? null : String(from), keyTo: last ? null : String(from + per), rowid: true });
    if (last) break;
  }
  return chunks;
}

/** A keyless table's chunk (ctidRangeSql), in the mapping's column order. */
export function ctidChunkCopySql(table: TableMapping, chunk: Chunk): string {
  const cols = table.columns.map((c) => quoteIdent(c.source)).join(', ');
  return `COPY (SELECT ${cols} FROM ${quoteQualified(table.source.table)} WHERE ${ctidRangeSql(chunk)}) TO STDOUT`;
}

/** Sampled keys per planned chunk: enough to keep chunks within a few percent of even. */
const SAMPLED_KEYS_PER_CHUNK = 400;

/** Chunks between ascending boundary keys; the last chunk runs to the end of the table. */
function chunksBetween(bounds: string[]): Chunk[] {
  const chunks: Chunk[] = [];
  let from: string | null = null;
  for (const k of bounds) {
    chunks.push({ id: String(chunks.length + 1).padStart(5, '0'), keyFrom: from, keyTo: k });
    from = k;
  }
  chunks.push({ id: String(chunks.length + 1).padStart(5, '0'), keyFrom: from, keyTo: null });
  return chunks;
}

/** A table's key as people read it: a column, or (a, b) for a composite key. */
function keyName(table: TableMapping): string {
  return table.source.keys ? `(${table.source.keys.join(', ')})` : table.source.key;
}

export class PostgresSource implements SourceAdapter {
  readonly kind = 'postgres' as const;
  /**
   * Sessions are kept between chunks: a new PostgreSQL backend per chunk or segment cost its start-up
   * and a cold catalog cache each time. At most 16, well above what a worker reads at once (one per
   * running activity, WORKER_MAX_ACTIVITIES, default 4, or one per table while planning); beyond that
   * a read waits for a session rather than opening more.
   */
  private readonly pool: Pool;
  private readonly readOnly = new WeakSet<PoolClient>();
  /** per legacy table: how its key is compared in the table's key order (key-order.ts; looked up once) */
  private readonly keyExprs = new Map<string, Promise<LegacyKeyExpr | LegacyKeyExpr[]>>();

  constructor(connectionString: string) {
    // A session the server ends (a restart, a terminated backend), idle or in use, is dropped from the
    // pool, not thrown at the process: the read in progress fails and the activity retries it.
    this.pool = resilientPool({ connectionString, max: 16, idleTimeoutMillis: 30_000, allowExitOnIdle: true });
  }

  /**
   * None: a PostgreSQL snapshot cannot outlive the session that exported it, and chunks run in many
   * sessions. The cutover stops the legacy application first, so the data does not move meanwhile.
   */
  async readPoint(): Promise<string | null> {
    return null;
  }

  /**
   * Chunk boundaries at about every rowsPerChunk-th key. A large table is planned from a block sample
   * of its keys (TABLESAMPLE SYSTEM): exact boundaries cost a full ordered pass over the table, which
   * on the weekend is time taken from the copy itself, while chunks need only be about even. The sample
   * is REPEATABLE, so planning the same data twice gives the same chunks (verification segments line
   * up across runs). A table without statistics is planned exactly; a small one is sampled whole.
   */
  async planChunks(table: TableMapping, rowsPerChunk: number, _readPoint?: string | null, options: { byKey?: boolean } = {}): Promise<Chunk[]> {
    const from = quoteQualified(table.source.table);
    // 无键表 a keyless table has no key range: verification reads it whole (a multiset); the copy goes by blocks
    if (isKeyless(table) && options.byKey) return [{ id: '00001', keyFrom: null, keyTo: null, rowid: true }];
    const client = await this.session();
    try {
      if (isKeyless(table)) return ctidChunks(...(await this.blockPlan(client, table, rowsPerChunk)));
      if (isComposite(table)) return chunksBetween(await this.compositeBounds(client, table, rowsPerChunk));
      const keyExpr = (await this.keyExpr(client, table)) as LegacyKeyExpr;
      const key = `(${keyExpr.expr})`;
      const collate = keyExpr.textual ? ' COLLATE "C"' : '';
      const { rows: stats } = await client.query<{ n: string }>('SELECT reltuples::bigint AS n FROM pg_class WHERE oid = $1::regclass', [table.source.table]);
      const estimate = Number(stats[0]?.n ?? -1);
      const parts = Math.round(estimate / rowsPerChunk);
      let bounds: string[];
      if (estimate > 0 && parts <= 1) {
        bounds = [];
      } else if (estimate > 0) {
        const fractions = Array.from({ length: parts - 1 }, (_, i) => (i + 1) / parts);
        const percent = Math.min(100, (100 * parts * SAMPLED_KEYS_PER_CHUNK) / estimate);
        const { rows } = await client.query<{ k: string }>(
          `SELECT s.k::text AS k FROM (SELECT DISTINCT unnest(percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY ${key})) AS k
             FROM ${from} TABLESAMPLE SYSTEM ($2) REPEATABLE (0)) s ORDER BY s.k${collate}`,
          [fractions, percent],
        );
        bounds = rows.map((r) => r.k);
      } else {
        // Every rowsPerChunk-th key closes a chunk.
        const { rows } = await client.query<{ k: string }>(
          `SELECT k FROM (SELECT ${key}::text AS k, row_number() OVER (ORDER BY ${key}) AS rn FROM ${from} WHERE ${key} IS NOT NULL) s
           WHERE rn % $1 = 0 ORDER BY rn`,
          [rowsPerChunk],
        );
        bounds = rows.map((r) => r.k);
      }
      return chunksBetween(bounds);
    } finally {
      client.release();
    }
  }

  /**
   * 无键表 [blocks, blocks per chunk] of a keyless table: the heap's size now, and about rowsPerChunk rows per chunk
   * by the rows per block the statistics give (counted when there are none).
   */
  private async blockPlan(client: PoolClient, table: TableMapping, rowsPerChunk: number): Promise<[number, number]> {
    const { rows } = await client.query<{ blocks: string; tuples: string; pages: string }>(
      `SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint AS blocks, c.reltuples::bigint AS tuples, c.relpages AS pages FROM pg_class c WHERE c.oid = $1::regclass`,
      [table.source.table],
    );
    const blocks = Number(rows[0].blocks);
    if (blocks === 0) return [0, 1];
    let perBlock = Number(rows[0].tuples) > 0 && Number(rows[0].pages) > 0 ? Number(rows[0].tuples) / Number(rows[0].pages) : NaN;
    if (!Number.isFinite(perBlock)) {
      const { rows: n } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(table.source.table)}`);
      perBlock = Math.max(1, Number(n[0].n) / blocks);
    }
    return [blocks, Math.max(1, Math.round(rowsPerChunk / perBlock))];
  }

  /**
   * 复合主键 A composite key's chunk bounds (encoded tuples, composite-key.ts): from a REPEATABLE block sample of
   * its keys in key order for a large table (every n-th sampled key), exactly otherwise (every rowsPerChunk-th
   * key). Rows with a component out of the order are left to the last chunk, as the ranges do.
   */
  private async compositeBounds(client: PoolClient, table: TableMapping, rowsPerChunk: number): Promise<string[]> {
    const from = quoteQualified(table.source.table);
    const exprs = (await this.keyExpr(client, table)) as LegacyKeyExpr[];
    const parts = exprs.map((e) => `(${e.expr})`);
    // aliases no legacy column has: ORDER BY a bare name means the output column of that name first
    const alias = (i: number) => `jm_key_part_${i}`;
    const select = parts.map((e, i) => `${e}::text AS ${alias(i)}`).join(', ');
    const placed = parts.map((e) => `${e} IS NOT NULL`).join(' AND ');
    const order = tupleOrderSql(parts);
    const { rows: stats } = await client.query<{ n: string }>('SELECT reltuples::bigint AS n FROM pg_class WHERE oid = $1::regclass', [table.source.table]);
    const estimate = Number(stats[0]?.n ?? -1);
    const chunks = Math.round(estimate / rowsPerChunk);
    const tuple = (r: Record<string, string>) => encodeKey(parts.map((_, i) => r[alias(i)]));
    if (estimate > 0 && chunks <= 1) return [];
    if (estimate > 0) {
      const percent = Math.min(100, (100 * chunks * SAMPLED_KEYS_PER_CHUNK) / estimate);
      const { rows } = await client.query<Record<string, string>>(`SELECT ${select} FROM ${from} TABLESAMPLE SYSTEM ($1) REPEATABLE (0) WHERE ${placed} ORDER BY ${order}`, [percent]);
      const bounds: string[] = [];
      for (let i = 1; i < chunks; i++) {
        const r = rows[Math.floor((i * rows.length) / chunks)];
        const b = r && tuple(r);
        if (b && b !== bounds[bounds.length - 1]) bounds.push(b);
      }
      return bounds;
    }
    const { rows } = await client.query<Record<string, string>>(
      `SELECT ${parts.map((_, i) => alias(i)).join(', ')} FROM (SELECT ${select}, row_number() OVER (ORDER BY ${order}) AS rn FROM ${from} WHERE ${placed}) s
        WHERE rn % $1 = 0 ORDER BY rn`,
      [rowsPerChunk],
    );
    return rows.map(tuple);
  }

  /**
   * The mapping's keys, every problem at once: each table's declared key must be unique (legacyKeyRepeats),
   * or the target's primary key refuses the repeats. Tables the catalog check already refused are skipped.
   */
  private async keyUniquenessProblems(mapping: Mapping, skip: Set<number>): Promise<PreflightProblem[]> {
    const problems: PreflightProblem[] = [];
    const client = await this.session();
    try {
      for (const [i, table] of mapping.tables.entries()) {
        // 无键表 a keyless table declares that no key is unique
        if (skip.has(i) || isKeyless(table)) continue;
        try {
          const repeats = await legacyKeyRepeats(client, table);
          if (repeats > 0) {
            problems.push({
              where: `tables[${i}].source.key`,
              problem: `键不唯一 key ${table.source.table}.${keyName(table)} is not unique: ${repeats} key values are held by more than one row, and the target's primary key would refuse every repeat (quarantined; the table would not reconcile)`,
              action: `declare a column that is unique in ${table.source.table} as source.key, or the list of columns that is (复合主键 a composite key); the DBA confirms it with a unique index. If no set of columns is unique (a table without a key), map it 无键表 keyless ("source": { "table": "${table.source.table}", "keyless": true }: read in ctid ranges, verified as a multiset of rows)`,
            });
          }
        } catch (err) {
          problems.push({ where: `tables[${i}].source`, problem: `${table.source.table}.${table.source.key}: ${(err as Error).message}` });
        }
      }
    } finally {
      client.release();
    }
    return problems;
  }

  async countRows(table: TableMapping): Promise<number> {
    const client = await this.session();
    try {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(table.source.table)}`);
      return Number(rows[0].n);
    } finally {
      client.release();
    }
  }

  async readChunk(table: TableMapping, chunk: Chunk): Promise<Readable> {
    if (isKeyless(table)) return this.copyOut(async () => ctidChunkCopySql(table, chunk));
    return this.copyOut(async (client) => chunkCopySql(table, chunk, await this.keyExpr(client, table)));
  }

  async readKeys(table: TableMapping, keys: string[]): Promise<Readable> {
    if (isComposite(table)) throw new Error(`readKeys takes a one-column key; ${table.name} has a composite key`);
    return this.copyOut(async () => keysCopySql(table, keys));
  }

  /** COPY TO STDOUT of the statement `sql` gives, as a stream of row batches, on a pooled read-only session. */
  private async copyOut(sql: (client: PoolClient) => Promise<string>): Promise<Readable> {
    const client = await this.session();
    let statement: string;
    try {
      statement = await sql(client);
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    const parser = new CopyTextParser();
    const copy = client.query(copyTo(statement));
    // The session goes back to the pool only after a COPY that ran to its end; one left mid-copy (an
    // error, or a reader that stopped early) is closed instead.
    let copied = false;
    copy.once('end', () => (copied = true));
    copy.on('error', (err) => parser.destroy(err));
    parser.once('close', () => client.release(copied ? undefined : true));
    return copy.pipe(parser);
  }

  /** 预检: the mapping against this database's catalog (migration/preflight.ts), then each table's key is unique. */
  async preflight(mapping: Mapping): Promise<PreflightProblem[]> {
    const catalog = await this.withSession((client) => checkPostgresLegacy(client, mapping));
    const refused = new Set(catalog.filter((p) => p.severity !== 'warning').map((p) => Number(/^tables\[(\d+)\]/.exec(p.where)?.[1] ?? -1)));
    return [...catalog, ...(await this.keyUniquenessProblems(mapping, refused))];
  }

  async readCodeTable(spec: LegacyCodeTable): Promise<[string, string][]> {
    return this.withSession((client) => readPostgresCodeTable(client, spec));
  }

  private async withSession<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.session();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** A session from the pool; legacy data is only ever queried, so the session itself refuses writes. */
  private async session(): Promise<PoolClient> {
    const client = await this.pool.connect();
    if (this.readOnly.has(client)) return client;
    try {
      await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    this.readOnly.add(client);
    return client;
  }

  private keyExpr(client: PoolClient, table: TableMapping): Promise<LegacyKeyExpr | LegacyKeyExpr[]> {
    // one legacy table may feed target tables of different key types: remembered per mapped table
    const id = `${table.name}:${table.source.table}`;
    let known = this.keyExprs.get(id);
    if (!known) {
      known = isComposite(table)
        ? Promise.all(keyColumns(table).map((c) => legacyColumnKeyExpr(client, table.source.table, c.source, keyOrderOf(c.type))))
        : legacyKeyExpr(client, table);
      // a failed lookup is not remembered: the next chunk asks again
      known.catch(() => this.keyExprs.delete(id));
      this.keyExprs.set(id, known);
    }
    return known;
  }
}
