import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { inTransaction, quoteIdent } from '../lib/db';
import { Dialect, dialectOf, insertFragments, render, run } from '../lib/dialect';
import { snapshotStrategy } from '../lib/settings';
import { withTarget } from '../lib/statement-audit';
import { assertRegisteredTarget, WrongTargetError } from '../lib/target-guard';
import { keyColumns } from '../migration/mapping';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';

/**
 * The destructive steps on the new system's database, each behind the target guard (lib/target-guard.ts):
 * 清除测试数据 wipe the test data, 快照 snapshot, 回滚 roll back to the snapshot, and the checksums that
 * prove a rollback (the business tests between snapshot and rollback are in activities/verification.ts).
 * A wrong database is refused with a non-retryable error naming it.
 *
 * Two snapshot strategies (TARGET_SNAPSHOT_STRATEGY, default per dialect — lib/dialect.ts):
 * - template: CREATE DATABASE … TEMPLATE <target>, a whole copy that is also the seed's backup of the
 *   migrated data; the rollback drops the target and recreates it from the copy. PostgreSQL only:
 *   openGauss takes TEMPLATE template0 only.
 * - undo-log: no copy. Triggers on the mapped tables record, from the snapshot on, the before-image of
 *   every row changed (and the after-image, to find inserted and updated rows again); the rollback
 *   removes the triggers and applies the log in reverse, in one transaction. It costs what the business
 *   tests changed, not what the database holds.
 */
export interface TableChecksum {
  table: string;
  rows: number;
  md5: string;
}

/** The engine's own control tables: wiped with the mapping's tables, nothing else is. */
const CONTROL_TABLES = ['migration_quarantine', 'migration_data_quality', 'migration_chunk', 'migration_remediation'];

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

/** The undo log's own objects in the target: portable SQL (PL/pgSQL trigger, EXECUTE PROCEDURE, row ↔ text casts). */
export const UNDO_TRIGGER = 'runbook_undo';
const UNDO_DDL = [
  `CREATE TABLE IF NOT EXISTS runbook_undo_run (
     run_id text PRIMARY KEY,
     snapshot_at timestamptz NOT NULL DEFAULT now(),
     checksums text NOT NULL,
     rolled_back_at timestamptz,
     rows_undone bigint
   )`,
  `CREATE TABLE IF NOT EXISTS runbook_undo_log (
     seq bigserial PRIMARY KEY,
     run_id text NOT NULL,
     table_name text NOT NULL,
     op text NOT NULL,
     old_row text,
     new_row text,
     date_style text NOT NULL,
     logged_at timestamptz NOT NULL DEFAULT now()
   )`,
  // The row's text form depends on the writer's DateStyle: it is kept with the row and set again to read it back.
  `CREATE OR REPLACE FUNCTION runbook_undo_capture() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP = 'INSERT' THEN
       INSERT INTO runbook_undo_log (run_id, table_name, op, new_row, date_style) VALUES (TG_ARGV[0], TG_TABLE_NAME, 'I', NEW::text, current_setting('DateStyle'));
       RETURN NEW;
     ELSIF TG_OP = 'UPDATE' THEN
       INSERT INTO runbook_undo_log (run_id, table_name, op, old_row, new_row, date_style) VALUES (TG_ARGV[0], TG_TABLE_NAME, 'U', OLD::text, NEW::text, current_setting('DateStyle'));
       RETURN NEW;
     END IF;
     INSERT INTO runbook_undo_log (run_id, table_name, op, old_row, date_style) VALUES (TG_ARGV[0], TG_TABLE_NAME, 'D', OLD::text, current_setting('DateStyle'));
     RETURN OLD;
   END $$`,
];
interface UndoRow {
  seq_text: string;
  table_name: string;
  op: string;
  old_row: string | null;
  new_row: string | null;
  date_style: string;
}
const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
/** Rows of the undo log applied per round trip of the rollback's read. */
const UNDO_BATCH = 1000;

export function targetActivities(deps: ActivityDeps) {
  const { settings } = deps;
  const { TARGET_DATABASE_URL, LEGACY_DATABASE_URL } = settings;
  const strategy = snapshotStrategy(settings);
  // a union's members share one target table (migration/union.ts): each table once
  const mappedTables = () => [...new Set(deps.mapping.tables.map((t) => t.target.table))];
  /** The server's maintenance database, for CREATE/DROP DATABASE: audited and dialect-checked like the target. */
  const onServer = <T>(fn: (c: Client) => Promise<T>) => withTarget({ ...settings, TARGET_DATABASE_URL: admin(TARGET_DATABASE_URL).adminUrl }, fn);

  /** Runs fn on the target only after the guard passed; a refusal never retries. */
  async function guarded<T>(action: string, fn: (c: Client) => Promise<T>): Promise<T> {
    return withTarget(settings, async (c) => {
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

  async function exists(c: Client, relation: string): Promise<boolean> {
    const [r] = await run<{ ok: boolean }>(c, render(dialectOf(c), 'relationExists', {}, [relation]));
    return r.ok;
  }

  async function checksums(c: Client): Promise<TableChecksum[]> {
    const out: TableChecksum[] = [];
    for (const t of deps.mapping.tables.filter((m, i, all) => all.findIndex((o) => o.target.table === m.target.table) === i)) {
      const { rows } = await c.query<{ n: string; md5: string | null }>(
        `SELECT count(*) AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY ${t.source.keyless ? 'x::text' : keyColumns(t).map((k) => `x.${quoteIdent(k.target)}`).join(', ')}), '')) AS md5
         FROM ${quoteIdent(t.target.table)} x`,
      );
      out.push({ table: t.target.table, rows: Number(rows[0].n), md5: rows[0].md5 ?? '' });
    }
    return out;
  }

  /** Removes the undo triggers from the mapped tables (those that exist); returns the tables it found them on. */
  async function dropUndoTriggers(c: Client): Promise<void> {
    for (const t of mappedTables()) if (await exists(c, t)) await c.query(`DROP TRIGGER IF EXISTS ${UNDO_TRIGGER} ON ${quoteIdent(t)}`);
  }

  /**
   * 快照 (undo log) In one transaction: the mapped tables locked against writers, the triggers installed
   * and the checksums taken, so the checksums and the log start from the same rows. A retry returns the
   * checksums of the first attempt: anything written since is in the log and will be undone.
   */
  async function undoSnapshot(c: Client, runId: string): Promise<TableChecksum[]> {
    const dialect = dialectOf(c);
    return inTransaction(c, async () => {
      for (const ddl of UNDO_DDL) await c.query(ddl);
      const earlier = await c.query<{ checksums: string; rolled_back_at: Date | null }>('SELECT checksums, rolled_back_at FROM runbook_undo_run WHERE run_id = $1', [runId]);
      if (earlier.rows[0]?.rolled_back_at) throw ApplicationFailure.nonRetryable(`snapshot refused: run ${runId} was already rolled back; a new snapshot needs a new run`, 'SnapshotUsed');
      if (earlier.rows.length) return JSON.parse(earlier.rows[0].checksums) as TableChecksum[];
      await c.query(`LOCK TABLE ${mappedTables().map(quoteIdent).join(', ')} IN SHARE ROW EXCLUSIVE MODE`);
      for (const t of mappedTables()) {
        await c.query(`DROP TRIGGER IF EXISTS ${UNDO_TRIGGER} ON ${quoteIdent(t)}`);
        await c.query(`CREATE TRIGGER ${UNDO_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${quoteIdent(t)} FOR EACH ROW EXECUTE PROCEDURE runbook_undo_capture(${sqlString(runId)})`);
      }
      const sums = await checksums(c);
      await run(c, render(dialect, 'insertIfAbsent', insertFragments('runbook_undo_run', ['run_id', 'checksums'], ['run_id']), [runId, JSON.stringify(sums)]));
      return sums;
    });
  }

  /**
   * 回滚 (undo log) In one transaction: triggers removed, the log applied newest first (an insert deleted,
   * an update's row put back, a delete's row re-inserted), the log cleared and the run marked. A retry
   * after the commit finds the run marked and does nothing.
   */
  async function undoRollback(c: Client, runId: string): Promise<number> {
    return inTransaction(c, async () => {
      if (!(await exists(c, 'runbook_undo_run'))) throw ApplicationFailure.nonRetryable(`rollback refused: no undo log in the target (run ${runId} took no snapshot)`, 'NoSnapshot');
      const marker = (await c.query<{ rolled_back_at: Date | null; rows_undone: string | null }>('SELECT rolled_back_at, rows_undone FROM runbook_undo_run WHERE run_id = $1 FOR UPDATE', [runId])).rows[0];
      if (!marker) throw ApplicationFailure.nonRetryable(`rollback refused: run ${runId} took no undo-log snapshot of this target`, 'NoSnapshot');
      if (marker.rolled_back_at) return Number(marker.rows_undone ?? 0);
      await c.query(`LOCK TABLE ${mappedTables().map(quoteIdent).join(', ')} IN EXCLUSIVE MODE`);
      await dropUndoTriggers(c);
      const byName = new Map(deps.mapping.tables.map((t) => [t.target.table, t]));
      const originalStyle = (await c.query<{ s: string }>(`SELECT current_setting('DateStyle') AS s`)).rows[0].s;
      let style = originalStyle;
      let undone = 0;
      let below: string | null = null;
      for (;;) {
        const rows: UndoRow[] = (await c.query<UndoRow>(
          // Ordered by the bigint column, not by its text (an output alias would sort '10' before '9').
          `SELECT l.seq::text AS seq_text, l.table_name, l.op, l.old_row, l.new_row, l.date_style FROM runbook_undo_log l
           WHERE l.run_id = $1 AND ($2::bigint IS NULL OR l.seq < $2::bigint) ORDER BY l.seq DESC LIMIT ${UNDO_BATCH}`,
          [runId, below],
        )).rows;
        if (!rows.length) break;
        for (const r of rows) {
          const t = byName.get(r.table_name);
          if (!t) throw ApplicationFailure.nonRetryable(`rollback refused: the undo log names table ${r.table_name}, which the mapping does not hold`, 'UndoLogForeign');
          if (r.date_style !== style) {
            await c.query(`SELECT set_config('DateStyle', $1, true)`, [r.date_style]);
            style = r.date_style;
          }
          const table = quoteIdent(t.target.table);
          // every column of a composite key (复合主键): the one row, never its siblings; 无键表 a keyless table: one row equal to it, never its duplicates
          const match = t.source.keyless
            ? `ctid = (SELECT ctid FROM ${table} x WHERE x IS NOT DISTINCT FROM ($1)::${table} LIMIT 1)`
            : keyColumns(t).map((k) => `${quoteIdent(k.target)} = (($1)::${table}).${quoteIdent(k.target)}`).join(' AND ');
          if (r.new_row !== null) await c.query(`DELETE FROM ${table} WHERE ${match}`, [r.new_row]);
          if (r.old_row !== null) await c.query(`INSERT INTO ${table} SELECT (($1)::${table}).*`, [r.old_row]);
          undone++;
        }
        below = rows[rows.length - 1].seq_text;
      }
      if (style !== originalStyle) await c.query(`SELECT set_config('DateStyle', $1, true)`, [originalStyle]);
      await c.query('DELETE FROM runbook_undo_log WHERE run_id = $1', [runId]);
      await c.query('UPDATE runbook_undo_run SET rolled_back_at = now(), rows_undone = $2 WHERE run_id = $1', [runId, undone]);
      return undone;
    });
  }

  return beating({
    /** 清除测试数据 Empty the mapping's tables and the engine's control tables; nothing else in the database. */
    async wipeTargetTestData(input: { runId: string; actor: string }): Promise<{ tables: { table: string; rows: number }[] }> {
      return guarded('wipe test data 清除测试数据', async (c) => {
        // An earlier run that never rolled back must not leave its undo triggers logging the migration.
        await dropUndoTriggers(c);
        const names = [...mappedTables(), ...CONTROL_TABLES];
        const present: { table: string; rows: number }[] = [];
        for (const name of names) {
          if (!(await exists(c, name))) continue;
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
     * 快照 template: a copy of the target as a database of its own (CREATE DATABASE … TEMPLATE), which also
     * serves as the seed's backup of the migrated data; PostgreSQL refuses while anyone is connected to the
     * target: that error is retryable, the connections are expected to close. undo-log: triggers from here on.
     */
    async snapshotTarget(input: { runId: string }): Promise<{ snapshot: string; checksums: TableChecksum[]; strategy: 'template' | 'undo-log' }> {
      const { database } = admin(TARGET_DATABASE_URL);
      if (strategy === 'undo-log') {
        const sums = await guarded('snapshot 快照', (c) => undoSnapshot(c, input.runId));
        deps.logger.info({ runId: input.runId, strategy }, 'target snapshot taken (undo log) 快照');
        return { snapshot: `undo log in ${database}`, checksums: sums, strategy };
      }
      const snapshot = snapshotName(database, input.runId);
      const before = await guarded('snapshot 快照', checksums);
      await onServer(async (c) => {
        const exists = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [snapshot])).rowCount;
        // A retry after the snapshot was created: it is this run's snapshot, keep it.
        if (!exists) await run(c, render(dialectOf(c), 'copyDatabase', { database: quoteIdent(snapshot), template: quoteIdent(database) }));
      });
      deps.logger.info({ runId: input.runId, snapshot }, 'target snapshot taken 快照');
      return { snapshot, checksums: before, strategy };
    },

    /**
     * 回滚 template: replace the target by its snapshot — drop it (closing its connections) and recreate it
     * from the snapshot; a retry after the drop finds no target and only recreates it. undo-log: the log
     * applied in reverse. Both idempotent.
     */
    async rollbackTarget(input: { runId: string }): Promise<{ snapshot: string; strategy: 'template' | 'undo-log'; rowsUndone?: number }> {
      const { database } = admin(TARGET_DATABASE_URL);
      if (strategy === 'undo-log') {
        const rowsUndone = await guarded('rollback 回滚', (c) => undoRollback(c, input.runId));
        deps.logger.warn({ runId: input.runId, rowsUndone }, 'target rolled back from its undo log 回滚');
        return { snapshot: `undo log in ${database} (${rowsUndone} row changes undone)`, strategy, rowsUndone };
      }
      const snapshot = snapshotName(database, input.runId);
      const targetExists = await onServer(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount);
      if (targetExists) await guarded('rollback 回滚', async () => undefined);
      await onServer(async (c) => {
        if (!(await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [snapshot])).rowCount) {
          throw ApplicationFailure.nonRetryable(`rollback refused: snapshot database ${snapshot} does not exist`, 'NoSnapshot');
        }
        const dialect: Dialect = dialectOf(c);
        if (targetExists) await run(c, render(dialect, 'dropDatabase', { database: quoteIdent(database) }, [database]));
        await run(c, render(dialect, 'copyDatabase', { database: quoteIdent(database), template: quoteIdent(snapshot) }));
      });
      deps.logger.warn({ runId: input.runId, snapshot }, 'target rolled back to its snapshot 回滚');
      return { snapshot, strategy };
    },
  });
}
