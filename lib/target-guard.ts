import type { Client } from 'pg';
import { withClient } from './db';

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

export async function databaseIdentity(c: Client): Promise<DatabaseIdentity> {
  const { rows } = await c.query<{ sysid: string; db: string }>('SELECT system_identifier::text AS sysid, current_database() AS db FROM pg_control_system()');
  return { systemIdentifier: rows[0].sysid, database: rows[0].db };
}

const same = (a: DatabaseIdentity, b: DatabaseIdentity) => a.systemIdentifier === b.systemIdentifier && a.database === b.database;

/** Refuses when the URL reaches the legacy database, whatever the URL looks like. */
async function refuseLegacy(target: DatabaseIdentity, legacyUrl: string): Promise<void> {
  const legacy = await withClient(legacyUrl, databaseIdentity).catch(() => undefined);
  if (legacy && same(target, legacy)) {
    throw new WrongTargetError(`database "${target.database}" (system ${target.systemIdentifier}) is the legacy database: destructive steps are refused outright`);
  }
}

/** 登记目标库 The explicit registration, run by a person with scripts/register-target.ts. */
export async function registerTarget(targetUrl: string, legacyUrl: string, actor: string): Promise<DatabaseIdentity> {
  return withClient(targetUrl, async (c) => {
    const id = await databaseIdentity(c);
    await refuseLegacy(id, legacyUrl);
    await c.query(REGISTRATION_DDL);
    await c.query(
      'INSERT INTO runbook_target_registration (system_identifier, database_name, registered_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [id.systemIdentifier, id.database, actor],
    );
    return id;
  });
}

/** Throws WrongTargetError unless the connected database is registered as the target and is not the legacy one. */
export async function assertRegisteredTarget(c: Client, legacyUrl: string): Promise<DatabaseIdentity> {
  const id = await databaseIdentity(c);
  await refuseLegacy(id, legacyUrl);
  const { rows } = await c.query<{ ok: boolean }>(
    `SELECT to_regclass('runbook_target_registration') IS NOT NULL AS ok`,
  );
  const registered =
    rows[0].ok &&
    ((await c.query('SELECT 1 FROM runbook_target_registration WHERE system_identifier = $1 AND database_name = $2', [id.systemIdentifier, id.database])).rowCount ?? 0) > 0;
  if (!registered) {
    throw new WrongTargetError(
      `database "${id.database}" (system ${id.systemIdentifier}) is not registered as the cutover target: run scripts/register-target.ts against it first`,
    );
  }
  return id;
}
