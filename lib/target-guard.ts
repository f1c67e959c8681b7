import type { Client } from 'pg';
import { quoteIdent, withClient } from './db';
import { detectDialect, Dialect, dialectOf, insertFragments, render, run, setDialect } from './dialect';
import { checkTargetDialect } from './statement-audit';

/**
 * 目标库登记 The guard in front of every destructive step on the new system's database. A database is
 * the target only if an explicit register-target command wrote a registration row into it naming its
 * own identity (cluster system identifier + database name). A copy, a restored dump, another database
 * on the same server, or the legacy database itself does not carry a matching row and is refused.
 */
export interface DatabaseIdentity {
  systemIdentifier: string;
  database: string;
}

export class WrongTargetError extends Error {
  override name = 'WrongTargetError';
}

const REGISTRATION_DDL = `CREATE TABLE IF NOT EXISTS runbook_target_registration (
  system_identifier text NOT NULL,
  database_name text NOT NULL,
  registered_by text NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (system_identifier, database_name)
)`;

/**
 * The database's identity in its dialect (lib/dialect.ts): PostgreSQL's cluster system identifier; where
 * pg_control_system() is not documented (openGauss, KingbaseES), the database's OID on its server port —
 * a template copy or a restored dump gets another OID, so it is refused as before.
 */
export async function databaseIdentity(c: Client, dialect: Dialect = dialectOf(c)): Promise<DatabaseIdentity> {
  const [row] = await run<{ sysid: string; db: string }>(c, render(dialect, 'identity'));
  return { systemIdentifier: row.sysid, database: row.db };
}

const same = (a: DatabaseIdentity, b: DatabaseIdentity) => a.systemIdentifier === b.systemIdentifier && a.database === b.database;

/** Refuses when the URL reaches the legacy database, whatever the URL looks like. */
async function refuseLegacy(target: DatabaseIdentity, legacyUrl: string, dialect: Dialect): Promise<void> {
  // The same form of identity on both sides, so that the two compare.
  const legacy = await withClient(legacyUrl, (c) => databaseIdentity(c, dialect)).catch(() => undefined);
  if (legacy && same(target, legacy)) {
    throw new WrongTargetError(`database "${target.database}" (system ${target.systemIdentifier}) is the legacy database: destructive steps are refused outright`);
  }
}

/**
 * Creates the target database when it does not exist, in its dialect: on openGauss with DBCOMPATIBILITY
 * 'PG' (the default 'A' would store '' as NULL). An existing database is left as it is: the preflight of
 * the registration then says whether it can be used.
 */
export async function ensureTargetDatabase(targetUrl: string, dialect: Dialect): Promise<void> {
  const u = new URL(targetUrl);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new Error(`TARGET_DATABASE_URL names no database: ${u.protocol}//${u.host}`);
  u.pathname = '/postgres';
  await withClient(u.toString(), async (c) => {
    if ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount) return;
    // The server parses the DDL: a rehearsal of another dialect on PostgreSQL creates it the PostgreSQL way.
    const server = detectDialect((await c.query<{ v: string }>('SELECT version() AS v')).rows[0].v);
    await run(c, render(server === 'postgresql' ? 'postgresql' : dialect, 'createDatabase', { database: quoteIdent(database) }));
  });
}

/** 登记目标库 The explicit registration, run by a person with scripts/register-target.ts, after the dialect preflight. */
export async function registerTarget(targetUrl: string, legacyUrl: string, actor: string, dialect: Dialect = 'postgresql'): Promise<DatabaseIdentity> {
  return withClient(targetUrl, async (c) => {
    await checkTargetDialect(c, dialect);
    setDialect(c, dialect);
    const id = await databaseIdentity(c);
    await refuseLegacy(id, legacyUrl, dialect);
    await c.query(REGISTRATION_DDL);
    const columns = ['system_identifier', 'database_name', 'registered_by'];
    await run(c, render(dialect, 'insertIfAbsent', insertFragments('runbook_target_registration', columns, ['system_identifier', 'database_name']), [id.systemIdentifier, id.database, actor]));
    return id;
  });
}

/** Throws WrongTargetError unless the connected database is registered as the target and is not the legacy one. */
export async function assertRegisteredTarget(c: Client, legacyUrl: string): Promise<DatabaseIdentity> {
  const dialect = dialectOf(c);
  const id = await databaseIdentity(c, dialect);
  await refuseLegacy(id, legacyUrl, dialect);
  const [table] = await run<{ ok: boolean }>(c, render(dialect, 'relationExists', {}, ['runbook_target_registration']));
  const registered =
    table.ok &&
    ((await c.query('SELECT 1 FROM runbook_target_registration WHERE system_identifier = $1 AND database_name = $2', [id.systemIdentifier, id.database])).rowCount ?? 0) > 0;
  if (!registered) {
    throw new WrongTargetError(
      `database "${id.database}" (system ${id.systemIdentifier}) is not registered as the cutover target: run scripts/register-target.ts against it first`,
    );
  }
  return id;
}
