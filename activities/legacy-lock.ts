import type { TableMapping } from '../migration/mapping';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { inTransaction, quoteIdent, quoteQualified, withClient } from '../lib/db';
import { legacyDatabaseOf } from '../environment/services';
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

/**
 * 只可查询 The legacy database made read-only for the application's roles after the backup: the write
 * privileges they held on the mapped tables are revoked (and recorded beside the backup, so the fallback
 * grants back exactly those), default_transaction_read_only is set for their new sessions, and a write
 * attempted as each role must be refused. The fallback reverses it before the legacy services start.
 */
export interface LegacyReadOnly {
  roles: { role: string; revoked: { table: string; privileges: string[] }[]; proof: string }[];
  /** Oracle, or no application role declared: what a DBA must do instead */
  handedOver?: string;
}

const WRITE_PRIVILEGES = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'];

/** A write as `role` that changes nothing (WHERE false): refused without the privilege, allowed with it. */
/** The column a write probe sets to itself: the key, or a keyless table's (无键表) first mapped column. */
function writeProbeColumn(t: TableMapping): string {
  return t.source.keyless ? t.columns[0].source : t.source.key;
}

async function tryWrite(c: Client, role: string, table: string, key: string): Promise<string | undefined> {
  try {
    await inTransaction(c, async () => {
      await c.query(`SET LOCAL ROLE ${quoteIdent(role)}`);
      await c.query(`UPDATE ${quoteQualified(table)} SET ${quoteIdent(key)} = ${quoteIdent(key)} WHERE false`);
      throw new Rollback();
    });
  } catch (err) {
    if (err instanceof Rollback) return undefined;
    return (err as Error).message;
  }
  return undefined;
}
class Rollback extends Error {}

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
        // by the table's own oid: a schema-qualified name (registry.e_baseinfo) or a bare one on the search path
        `SELECT x AS relname, (s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::text AS changes
           FROM unnest($1::text[]) x JOIN pg_stat_user_tables s ON s.relid = to_regclass(x)`,
        [legacyTables()],
      );
      return new Map(rows.map((r) => [r.relname, Number(r.changes)]));
    });
  }

  const grantsFile = (runId: string) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId)) throw ApplicationFailure.nonRetryable(`invalid run id ${runId}`, 'BadRunId');
    return path.join(deps.settings.BACKUP_DIR, runId, 'legacy-readonly.json');
  };

  return beating({
    /** 只可查询 Revokes the application roles' write privileges on the legacy tables and proves a write is refused. */
    async makeLegacyReadOnly(input: { runId: string }): Promise<LegacyReadOnly> {
      const { applicationRoles: roles } = cfg();
      const tables = deps.mapping.tables.map((t) => ({ table: t.source.table, key: writeProbeColumn(t) }));
      if (deps.legacySource.kind !== 'postgres' || !roles.length) {
        const who = roles.join(', ') || '<the application users>';
        return {
          roles: [],
          handedOver: !roles.length
            ? 'no application role declared (services.json legacyDatabase.applicationRoles): the legacy database was not made read-only by the runbook'
            : `DBA: ${tables.map((t) => `REVOKE INSERT, UPDATE, DELETE ON ${t.table.toUpperCase()} FROM ${who};`).join(' ')} (or ALTER TABLESPACE <the registry's tablespaces> READ ONLY;) then prove with an UPDATE … WHERE 1=0 as ${who} (ORA-01031 / ORA-00372 expected)`,
        };
      }
      const file = grantsFile(input.runId);
      return withClient(deps.settings.LEGACY_DATABASE_URL, async (c) => {
        // What each role may write today, directly granted: recorded once (a retry must not record the revoked state).
        let recorded: LegacyReadOnly['roles'];
        if (fs.existsSync(file)) recorded = (JSON.parse(fs.readFileSync(file, 'utf8')) as LegacyReadOnly).roles;
        else {
          recorded = [];
          for (const role of roles) {
            const { rows } = await c.query<{ table: string; privileges: string[] }>(
              `SELECT x AS table, array_agg(DISTINCT a.privilege_type ORDER BY a.privilege_type) AS privileges
                 FROM unnest($1::text[]) x JOIN pg_class c ON c.oid = to_regclass(x)
                 CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                 JOIN pg_roles r ON r.oid = a.grantee
                WHERE c.relkind = 'r' AND r.rolname = $2 AND a.privilege_type = ANY($3::text[])
                GROUP BY x ORDER BY x`,
              [tables.map((t) => t.table), role, WRITE_PRIVILEGES],
            );
            recorded.push({ role, revoked: rows, proof: '' });
          }
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, JSON.stringify({ roles: recorded }, null, 2));
        }
        const out: LegacyReadOnly['roles'] = [];
        for (const r of recorded) {
          const { rows } = await c.query<{ rolsuper: boolean }>(`SELECT rolsuper FROM pg_roles WHERE rolname = $1`, [r.role]);
          if (!rows.length) throw ApplicationFailure.nonRetryable(`application role ${r.role} does not exist on the legacy database`, 'UnknownRole');
          if (rows[0].rolsuper) throw ApplicationFailure.nonRetryable(`application role ${r.role} is a superuser: no privilege can be revoked from it; have the DBA give the application an ordinary role`, 'SuperuserRole');
          await inTransaction(c, async () => {
            for (const t of tables) await c.query(`REVOKE ${WRITE_PRIVILEGES.join(', ')} ON ${quoteQualified(t.table)} FROM ${quoteIdent(r.role)}`);
            await c.query(`ALTER ROLE ${quoteIdent(r.role)} SET default_transaction_read_only = on`);
          });
          const writable = [];
          for (const t of tables) if ((await tryWrite(c, r.role, t.table, t.key)) === undefined) writable.push(t.table);
          if (writable.length) {
            throw ApplicationFailure.nonRetryable(`只读未生效 ${r.role} can still write ${writable.join(', ')} after the revoke (a grant through another role or PUBLIC?)`, 'StillWritable');
          }
          const refusal = (await tryWrite(c, r.role, tables[0].table, tables[0].key))!;
          out.push({ ...r, proof: `UPDATE ${tables[0].table} as ${r.role} refused: ${refusal}` });
        }
        deps.logger.warn({ runId: input.runId, roles: out.map((r) => r.role) }, '旧库只读 legacy database made read-only for the application');
        return { roles: out };
      });
    },

    /** The fallback's reverse: grants back exactly what was revoked, resets read-only, and proves a write is allowed. */
    async makeLegacyWritable(input: { runId: string }): Promise<LegacyReadOnly> {
      const file = grantsFile(input.runId);
      if (deps.legacySource.kind !== 'postgres') return { roles: [], handedOver: `DBA: GRANT back the write privileges revoked for the go-live (and ALTER TABLESPACE … READ WRITE) before the legacy application starts` };
      if (!fs.existsSync(file)) return { roles: [], handedOver: 'the legacy database was not made read-only by this run: nothing to reverse' };
      const recorded = (JSON.parse(fs.readFileSync(file, 'utf8')) as LegacyReadOnly).roles;
      const keyOf = new Map(deps.mapping.tables.map((t) => [t.source.table, writeProbeColumn(t)]));
      return withClient(deps.settings.LEGACY_DATABASE_URL, async (c) => {
        const out: LegacyReadOnly['roles'] = [];
        for (const r of recorded) {
          await inTransaction(c, async () => {
            for (const g of r.revoked) await c.query(`GRANT ${g.privileges.join(', ')} ON ${quoteQualified(g.table)} TO ${quoteIdent(r.role)}`);
            await c.query(`ALTER ROLE ${quoteIdent(r.role)} RESET default_transaction_read_only`);
          });
          const refused = [];
          for (const g of r.revoked.filter((x) => x.privileges.includes('UPDATE'))) {
            const e = await tryWrite(c, r.role, g.table, keyOf.get(g.table)!);
            if (e) refused.push(`${g.table}: ${e}`);
          }
          if (refused.length) throw new Error(`${r.role} still cannot write after the grants were restored: ${refused.join('; ')}`);
          out.push({ ...r, proof: `${r.revoked.filter((x) => x.privileges.includes('UPDATE')).length} tables writable again as ${r.role}` });
        }
        deps.logger.warn({ runId: input.runId, roles: out.map((r) => r.role) }, '旧库恢复可写 legacy database writable again for the application');
        return { roles: out };
      });
    },

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
