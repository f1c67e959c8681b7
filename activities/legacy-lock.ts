import { ApplicationFailure } from '@temporalio/activity';
import { withClient } from '../lib/db';
import { legacyDatabaseOf } from '../lib/services';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';
import { controlSide, ServiceOutcome } from './services';

/**
 * 上线步骤0 关停旧系统: the legacy application is stopped for the weekend (非国产化市场准入信息系统应用保持
 * 关停状态) before anything reads the legacy data, and the step proves that nothing writes any more:
 * (1) no session of the application's database roles remains (after a drain time for its pools), and
 * (2) the mapped legacy tables' change counters (inserts + updates + deletes) stay unchanged over a quiet
 * interval — which also catches a writer under another role. The services stay stopped until the
 * fallback starts them. A PostgreSQL legacy is proven here; an Oracle legacy's proof is handed to its DBA
 * with the statements to run (the runbook holds no DBA session on a production Oracle).
 */
export interface LegacySession {
  pid: number;
  role: string;
  application: string;
  client: string;
  state: string;
}

export interface LegacyShutdown {
  stopped: ServiceOutcome[];
  roles: string[];
  /** sessions of the application roles still open when the proof was taken (must be none) */
  sessions: LegacySession[];
  quietSeconds: number;
  /** per mapped legacy table: inserts+updates+deletes counted before and after the quiet interval */
  tables: { table: string; before: number; after: number }[];
  /** set when the proof is not the runbook's to make (Oracle): what the DBA must confirm */
  handedOver?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function legacyLockActivities(deps: ActivityDeps) {
  const cfg = () => legacyDatabaseOf(deps.services);
  const legacyTables = () => deps.mapping.tables.map((t) => t.source.table);

  async function sessions(roles: string[]): Promise<LegacySession[]> {
    if (!roles.length) return [];
    return withClient(deps.settings.LEGACY_DATABASE_URL, async (c) =>
      (
        await c.query<LegacySession>(
          `SELECT pid, usename AS role, coalesce(application_name, '') AS application, coalesce(client_addr::text, 'local') AS client, coalesce(state, '') AS state
             FROM pg_stat_activity
            WHERE datname = current_database() AND usename = ANY($1::text[]) AND pid <> pg_backend_pid()
            ORDER BY pid`,
          [roles],
        )
      ).rows,
    );
  }

  /** Inserts + updates + deletes per mapped legacy table, as PostgreSQL's statistics count them. */
  async function changeCounters(): Promise<Map<string, number>> {
    return withClient(deps.settings.LEGACY_DATABASE_URL, async (c) => {
      // The statistics a session reads are a snapshot per transaction: read them fresh each time.
      await c.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await c.query<{ relname: string; changes: string }>(
        `SELECT relname, (n_tup_ins + n_tup_upd + n_tup_del)::text AS changes
           FROM pg_stat_user_tables WHERE relname = ANY($1::text[])`,
        [legacyTables()],
      );
      return new Map(rows.map((r) => [r.relname, Number(r.changes)]));
    });
  }

  return beating({
    /** Stops the legacy application's services and proves nothing writes to the legacy database any more. */
    async shutDownLegacy(input: { runId: string }): Promise<LegacyShutdown> {
      const { applicationRoles: roles, quietSeconds, drainSeconds } = cfg();
      const stopped = await controlSide(deps, { side: 'legacy', action: 'stop', runId: input.runId, kind: 'app' });
      if (deps.legacySource.kind !== 'postgres') {
        const list = roles.map((r) => `'${r.toUpperCase()}'`).join(', ') || '<the application users>';
        return {
          stopped,
          roles,
          sessions: [],
          quietSeconds,
          tables: [],
          handedOver: `DBA: confirm no session remains — SELECT sid, serial#, username, program FROM v$session WHERE username IN (${list}); — and that DBA_TAB_MODIFICATIONS (after DBMS_STATS.FLUSH_DATABASE_MONITORING_INFO) shows no change to ${legacyTables().join(', ')} over ${quietSeconds} s`,
        };
      }
      // The application's pools take a moment to close once its services stopped.
      let open = await sessions(roles);
      for (let waited = 0; open.length && waited < drainSeconds * 1000; waited += 500) {
        await sleep(500);
        open = await sessions(roles);
      }
      if (open.length) {
        throw ApplicationFailure.create({
          type: 'LegacyStillConnected',
          message: `关停未完成 the legacy application still has ${open.length} session(s) on the legacy database ${drainSeconds} s after its services stopped: ${open
            .map((s) => `pid ${s.pid} ${s.role}@${s.client} (${s.application || 'no application name'}, ${s.state})`)
            .join('; ')} — stop whatever holds them, then retry`,
        });
      }
      const before = await changeCounters();
      await sleep(quietSeconds * 1000);
      const after = await changeCounters();
      const late = await sessions(roles);
      const tables = legacyTables().map((table) => ({ table, before: before.get(table) ?? 0, after: after.get(table) ?? 0 }));
      const changed = tables.filter((t) => t.after !== t.before);
      if (changed.length || late.length) {
        throw ApplicationFailure.create({
          type: 'LegacyStillWritten',
          message: `关停未证实 the legacy database is still being written after its application stopped: ${[
            ...changed.map((t) => `${t.table} +${t.after - t.before} changes in ${quietSeconds} s`),
            ...late.map((s) => `a new session pid ${s.pid} of ${s.role}@${s.client}`),
          ].join('; ')} — find the writer (pg_stat_activity), stop it, then retry`,
        });
      }
      deps.logger.warn({ runId: input.runId, stopped: stopped.map((s) => s.name), roles, quietSeconds }, '旧系统已关停 legacy application stopped; nothing writes to the legacy database');
      return { stopped, roles, sessions: [], quietSeconds, tables };
    },
  });
}
