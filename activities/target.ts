import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { quoteIdent, withClient } from '../lib/db';
import { assertRegisteredTarget, WrongTargetError } from '../lib/target-guard';
import { keyColumn } from '../migration/mapping';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';

/**
 * The destructive steps on the new system's database, each behind the target guard (lib/target-guard.ts):
 * 清除测试数据 wipe the test data, 快照 snapshot, 回滚 roll back to the snapshot, and the checksums that
 * prove a rollback (the business tests between snapshot and rollback are in activities/verification.ts).
 * A wrong database is refused with a non-retryable error naming it.
 */
export interface TableChecksum {
  table: string;
  rows: number;
  md5: string;
}

/** The engine's own control tables: wiped with the mapping's tables, nothing else is. */
const CONTROL_TABLES = ['migration_quarantine', 'migration_chunk'];

function admin(url: string): { adminUrl: string; database: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  u.pathname = '/postgres';
  return { adminUrl: u.toString(), database };
}

/** Snapshot database name: the target's name and a short hash of the run, within PostgreSQL's 63 bytes. */
export function snapshotName(targetDb: string, runId: string): string {
  return `${targetDb.slice(0, 40)}_snap_${createHash('sha256').update(runId).digest('hex').slice(0, 12)}`;
}

export function targetActivities(deps: ActivityDeps) {
  const { TARGET_DATABASE_URL, LEGACY_DATABASE_URL } = deps.settings;

  /** Runs fn on the target only after the guard passed; a refusal never retries. */
  async function guarded<T>(action: string, fn: (c: Client) => Promise<T>): Promise<T> {
    return withClient(TARGET_DATABASE_URL, async (c) => {
      try {
        await assertRegisteredTarget(c, LEGACY_DATABASE_URL);
      } catch (err) {
        if (err instanceof WrongTargetError) {
          deps.logger.error({ action, reason: err.message }, `refused ${action}: not the registered target`);
          throw ApplicationFailure.nonRetryable(`${action} refused: ${err.message}`, 'WrongTarget');
        }
        throw err;
      }
      return fn(c);
    });
  }

  async function checksums(c: Client): Promise<TableChecksum[]> {
    const out: TableChecksum[] = [];
    for (const t of deps.mapping.tables) {
      const { rows } = await c.query<{ n: string; md5: string | null }>(
        `SELECT count(*) AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x.${quoteIdent(keyColumn(t).target)}), '')) AS md5
         FROM ${quoteIdent(t.target.table)} x`,
      );
      out.push({ table: t.target.table, rows: Number(rows[0].n), md5: rows[0].md5 ?? '' });
    }
    return out;
  }

  return beating({
    /** 清除测试数据 Empty the mapping's tables and the engine's control tables; nothing else in the database. */
    async wipeTargetTestData(input: { runId: string; actor: string }): Promise<{ tables: { table: string; rows: number }[] }> {
      return guarded('wipe test data 清除测试数据', async (c) => {
        const names = [...deps.mapping.tables.map((t) => t.target.table), ...CONTROL_TABLES];
        const present: { table: string; rows: number }[] = [];
        for (const name of names) {
          const exists = (await c.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [quoteIdent(name)])).rows[0].ok;
          if (!exists) continue;
          const n = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(name)}`)).rows[0].n);
          present.push({ table: name, rows: n });
        }
        // One statement: all or nothing, and no foreign key between them can block it.
        if (present.length) await c.query(`TRUNCATE ${present.map((p) => quoteIdent(p.table)).join(', ')}`);
        deps.logger.warn({ runId: input.runId, actor: input.actor, wiped: present }, 'target test data wiped 清除测试数据');
        return { tables: present };
      });
    },

    async targetChecksums(): Promise<TableChecksum[]> {
      return guarded('checksum target', checksums);
    },

    /**
     * 快照 A copy of the target as a database of its own (CREATE DATABASE … TEMPLATE), which also serves
     * as the seed's backup of the migrated data. PostgreSQL refuses while anyone is connected to the
     * target: that error is retryable, the connections are expected to close.
     */
    async snapshotTarget(input: { runId: string }): Promise<{ snapshot: string; checksums: TableChecksum[] }> {
      const { adminUrl, database } = admin(TARGET_DATABASE_URL);
      const snapshot = snapshotName(database, input.runId);
      const before = await guarded('snapshot 快照', checksums);
      await withClient(adminUrl, async (c) => {
        const exists = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [snapshot])).rowCount;
        // A retry after the snapshot was created: it is this run's snapshot, keep it.
        if (!exists) await c.query(`CREATE DATABASE ${quoteIdent(snapshot)} TEMPLATE ${quoteIdent(database)}`);
      });
      deps.logger.info({ runId: input.runId, snapshot }, 'target snapshot taken 快照');
      return { snapshot, checksums: before };
    },

    /**
     * 回滚 Replace the target by its snapshot: drop it (closing its connections) and recreate it from the
     * snapshot. Idempotent: a retry after the drop finds no target and only recreates it.
     */
    async rollbackTarget(input: { runId: string }): Promise<{ snapshot: string }> {
      const { adminUrl, database } = admin(TARGET_DATABASE_URL);
      const snapshot = snapshotName(database, input.runId);
      const targetExists = await withClient(adminUrl, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount);
      if (targetExists) await guarded('rollback 回滚', async () => undefined);
      await withClient(adminUrl, async (c) => {
        if (!(await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [snapshot])).rowCount) {
          throw ApplicationFailure.nonRetryable(`rollback refused: snapshot database ${snapshot} does not exist`, 'NoSnapshot');
        }
        if (targetExists) await c.query(`DROP DATABASE ${quoteIdent(database)} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE ${quoteIdent(snapshot)}`);
      });
      deps.logger.warn({ runId: input.runId, snapshot }, 'target rolled back to its snapshot 回滚');
      return { snapshot };
    },
  });
}
