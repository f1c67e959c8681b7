import { Client, Pool, PoolClient, PoolConfig } from 'pg';
import { CopyAbandoned } from './copy-to';

/**
 * A connection can drop at any moment (a restart, a failover of the domestic database, a terminated
 * backend, a network blip). pg then emits 'error' on the client — and an 'error' event nobody listens
 * to crashes the whole process. So every client and pool made here has a listener: the operation in
 * progress fails with the cause (an activity failure, which Temporal retries), the process stays up.
 */
export type ConnectionErrorSink = (err: Error, where: string) => void;

const quietly: ConnectionErrorSink = () => undefined;

/** One short-lived connection per unit of work: activities run in many processes and retry, so no state is shared. */
export async function withClient<T>(connectionString: string, fn: (client: Client) => Promise<T>, onError: ConnectionErrorSink = quietly): Promise<T> {
  const client = new Client({ connectionString });
  let lost: Error | undefined;
  client.on('error', (err) => {
    // the first is the cause ("terminating connection due to administrator command"); "Connection terminated unexpectedly" follows it
    lost ??= err;
    onError(err, 'client');
  });
  await client.connect();
  try {
    return await fn(client);
  } catch (err) {
    // The query's own error says what failed; the connection's says why (e.g. "terminating connection due to administrator command").
    if (lost && !(lost instanceof CopyAbandoned) && err instanceof Error && lost.message !== err.message && !err.message.includes('connection lost')) err.message += ` (connection lost: ${lost.message})`;
    throw err;
  } finally {
    // A client whose connection already died ends at once; a failure to say goodbye is not the operation's failure.
    await client.end().catch(() => undefined);
  }
}

/**
 * A pool whose idle and checked-out clients all have an 'error' listener: pg-pool listens on idle
 * clients only, and a client that loses its connection while checked out would crash the process.
 * The failed query rejects as usual; the pool drops the broken client and opens a new one next time.
 */
export function resilientPool(config: PoolConfig, onError: ConnectionErrorSink = quietly): Pool {
  const pool = new Pool(config);
  pool.on('error', (err) => onError(err, 'idle pool client'));
  pool.on('connect', (client) => {
    client.on('error', (err) => onError(err, 'pool client'));
  });
  return pool;
}

const pools = new Map<string, Pool>();

/**
 * A client from a small pool kept per database for the process: for the runbook's own bookkeeping, which
 * every activity touches with a few short statements (a new connection costs more than they do). A client
 * whose work failed is discarded, not returned (its connection may be gone), unless the server merely refused
 * a statement; idle clients let the process exit and are dropped by the pool when their connection dies.
 */
export async function withPooledClient<T>(connectionString: string, fn: (client: PoolClient) => Promise<T>, onError: ConnectionErrorSink = quietly): Promise<T> {
  let pool = pools.get(connectionString);
  if (!pool) {
    pool = resilientPool({ connectionString, max: 4, idleTimeoutMillis: 30_000, allowExitOnIdle: true }, onError);
    pools.set(connectionString, pool);
  }
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    // A statement the server refused (an SQLSTATE, not a lost connection: classes 08, 57) leaves the session
    // usable once any transaction it was in is rolled back; anything else and the client is discarded.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|57)/.test(code)) {
      if (await client.query('ROLLBACK').then(() => true, () => false)) failure = undefined;
    }
    throw err;
  } finally {
    client.release(failure);
  }
}

/** Runs fn in a transaction, committing on success and rolling back on any error. */
export async function inTransaction<T>(client: Client | PoolClient, fn: () => Promise<T>, begin = 'BEGIN'): Promise<T> {
  await client.query(begin);
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** A table name that may be schema-qualified (schema.table, each part an identifier) as SQL: "schema"."table". */
export function quoteQualified(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

/** The URL of the same server's maintenance database, for CREATE/DROP DATABASE. */
function maintenanceUrl(url: string): { admin: string; database: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new Error(`connection string names no database: ${u.protocol}//${u.host}`);
  u.pathname = '/postgres';
  return { admin: u.toString(), database };
}

export async function ensureDatabase(url: string): Promise<void> {
  const { admin, database } = maintenanceUrl(url);
  await withClient(admin, async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await c.query(`CREATE DATABASE ${quoteIdent(database)}`);
  });
}

export async function dropDatabase(url: string): Promise<void> {
  const { admin, database } = maintenanceUrl(url);
  await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`));
}
