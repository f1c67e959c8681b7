import type { Readable } from 'node:stream';
import { Client } from 'pg';
import { textOf } from '../../migration/copy-text';
import { canonicalDecimal } from '../../migration/oracle/convert';
import type { TableMapping } from '../../migration/mapping';
import type {
  OracleBinds,
  OracleConnection,
  OracleDriver,
  OracleExecuteOptions,
  OracleExecuteResult,
  OraclePool,
  OracleResultSet,
} from '../../migration/oracle/driver';
import { loadOracleDriver } from '../../migration/oracle/driver';

/**
 * A scripted Oracle for unit tests (no Oracle server can run here; test/oracle runs against a real one).
 * Unlike a stand-in that answers anything, it holds the adapter to what a server would:
 * - every statement must match a scripted answer, or it fails as unscripted;
 * - the binds must be exactly the statement's placeholders (Oracle raises ORA-01008 for a missing one,
 *   the driver NJS-098 for an extra one) — string literals such as 'HH24:MI:SS' are not placeholders;
 * - errors are the real driver's objects (code, errorNum, message), made with its own errors module.
 */
export const real = loadOracleDriver();

// eslint-disable-next-line @typescript-eslint/no-require-imports
const driverErrors = require('oracledb/lib/errors.js') as { getErr(num: number, ...args: unknown[]): Error; transformErr(err: Error): Error };

/** A server error as the thin driver hands it on (protocol.js builds it, errors.transformErr adds code and help). */
export function oraError(num: number, text: string): Error {
  const err = Object.assign(new Error(`ORA-${String(num).padStart(5, '0')}: ${text}`), { errorNum: num, offset: 0 });
  return driverErrors.transformErr(err);
}

/** A driver error (NJS-138, NJS-100 …) exactly as the installed oracledb makes it. */
export function njsError(num: number, ...args: unknown[]): Error {
  return driverErrors.getErr(num, ...args);
}

export interface ScriptedAnswer {
  /** the statement this answers */
  match: RegExp;
  /** rows, or rows computed from the binds (and the statement, for a server model that evaluates it) */
  rows?: unknown[][] | ((binds: OracleBinds, sql: string) => unknown[][] | Promise<unknown[][]>);
  error?: Error | ((binds: OracleBinds) => Error | null);
  /** a result set (chunk queries) */
  resultSet?: (binds: OracleBinds, sql: string) => OracleResultSet;
}

export function placeholders(sql: string): string[] {
  const code = sql.replace(/'(?:[^']|'')*'/g, "''");
  return [...new Set([...code.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]))].sort();
}

export class ScriptedOracle implements OraclePool {
  executed: { sql: string; binds: OracleBinds; options: OracleExecuteOptions }[] = [];
  connections: (OracleConnection & { closed: boolean })[] = [];
  connectError: Error | null = null;
  poolClosed = false;

  constructor(
    public answers: ScriptedAnswer[],
    private readonly driverOverrides: Partial<OracleDriver> = {},
  ) {}

  async getConnection(): Promise<OracleConnection> {
    if (this.connectError) throw this.connectError;
    const conn = {
      closed: false,
      callTimeout: 0,
      execute: (sql: string, binds: OracleBinds = {}, options: OracleExecuteOptions = {}) => this.execute(sql, binds, options),
      close: async () => {
        conn.closed = true;
      },
    };
    this.connections.push(conn);
    return conn;
  }

  async close(): Promise<void> {
    this.poolClosed = true;
  }

  private async execute(sql: string, binds: OracleBinds, options: OracleExecuteOptions): Promise<OracleExecuteResult> {
    this.executed.push({ sql, binds, options });
    const wanted = placeholders(sql);
    const given = Object.keys(binds).sort();
    const missing = wanted.filter((p) => !given.includes(p));
    if (missing.length) throw oraError(1008, `not all variables bound (${missing.join(', ')})`);
    const extra = given.filter((b) => !wanted.includes(b));
    if (extra.length) throw njsError(98, wanted.length, given.length);
    if (sql.startsWith('ALTER SESSION')) return {};
    const answer = this.answers.find((a) => a.match.test(sql));
    if (!answer) throw new Error(`unscripted SQL: ${sql}`);
    const error = typeof answer.error === 'function' ? answer.error(binds) : answer.error;
    if (error) throw error;
    if (answer.resultSet) return { resultSet: answer.resultSet(binds, sql) };
    return { rows: typeof answer.rows === 'function' ? await answer.rows(binds, sql) : (answer.rows ?? []) };
  }

  allReleased(): boolean {
    return this.connections.every((c) => c.closed);
  }

  /** the real driver's constants (thin unless overridden), this pool */
  driver(): OracleDriver {
    return Object.assign(Object.create(real) as OracleDriver, {
      createPool: async () => this,
      ...this.driverOverrides,
    });
  }
}

/** Rows served batch by batch, optionally failing with an error at a given fetch. */
export function scriptedResultSet(rows: unknown[][], failAt?: { call: number; error: Error }): OracleResultSet & { closed: boolean } {
  let pos = 0;
  let calls = 0;
  const rs = {
    metaData: [],
    closed: false,
    async getRows(n: number): Promise<unknown[][]> {
      calls++;
      if (failAt && calls === failAt.call) throw failAt.error;
      const out = rows.slice(pos, pos + n);
      pos += out.length;
      return out;
    },
    async close(): Promise<void> {
      rs.closed = true;
    },
  };
  return rs;
}

/** A mapped legacy table for the Oracle tests: market_entity from E_BASEINFO keyed by PRIPID unless told otherwise. */
export function legacyTable(columns: TableMapping['columns'], over: Partial<TableMapping> = {}): TableMapping {
  return {
    name: 'market_entity',
    title: 'entities',
    category: 'entity',
    source: { table: 'e_baseinfo', key: 'pripid' },
    target: { table: over.name ?? 'market_entity', checks: [] },
    columns,
    ...over,
  };
}

/** A chunk stream's items in order: rows as their COPY text, rejections as they came. */
export async function drain(stream: Readable): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const batch of stream) for (const item of batch as unknown[]) out.push(typeof item === 'string' ? textOf(item) : item);
  return out;
}

/** The rows of a scripted table that a chunk query's key binds select: (key_lo, key_hi], key in column 0. */
export function rowsInChunk(rows: unknown[][], binds: OracleBinds, numeric: boolean): unknown[][] {
  const cmp = (a: string, b: string) => (numeric ? Number(a) - Number(b) : Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return rows.filter((r) => {
    const k = String(r[0]);
    return (binds.key_lo === undefined || cmp(k, String(binds.key_lo)) > 0) && (binds.key_hi === undefined || cmp(k, String(binds.key_hi)) <= 0);
  });
}

/** Oracle's NUMBER comparison on the driver's decimal text: exact, by scaling both to one BigInt. */
export function compareDecimal(a: string, b: string): number {
  const parse = (t: string) => {
    const c = canonicalDecimal(t);
    const neg = c.startsWith('-');
    const [i, f = ''] = c.replace('-', '').split('.');
    return { neg, i, f };
  };
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.f.length, y.f.length);
  const big = (v: { neg: boolean; i: string; f: string }) => (v.neg ? -1n : 1n) * BigInt(v.i + v.f.padEnd(scale, '0'));
  const d = big(x) - big(y);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** A session on the local PostgreSQL (the target's side of a key-order test), opened before the file's tests and closed after. */
export function targetSession(): () => Client {
  let pg: Client;
  beforeAll(async () => {
    pg = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await pg.connect();
  });
  afterAll(async () => {
    await pg.end();
  });
  return () => pg;
}
