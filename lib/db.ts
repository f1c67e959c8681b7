import { Client } from 'pg';

/** One short-lived connection per unit of work: activities run in many processes and retry, so no state is shared. */
export async function withClient<T>(connectionString: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs fn in a transaction, committing on success and rolling back on any error. */
export async function inTransaction<T>(client: Client, fn: () => Promise<T>, begin = 'BEGIN'): Promise<T> {
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
