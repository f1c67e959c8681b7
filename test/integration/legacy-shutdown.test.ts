import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActivityDeps } from '../../activities/deps';
import { legacyLockActivities } from '../../activities/legacy-lock';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { loadPlanDefinition } from '../../plan/definition';
import { loadServices } from '../../environment/services';
import { loadSettings } from '../../lib/settings';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { inActivity } from '../support/activity-context';
import { legacyWriter, LegacyWriter } from '../support/legacy-writer';

/**
 * 关停旧系统 on the real PostgreSQL: a legacy application that keeps writing through its own role is
 * stopped by the step and the step proves the writes ended; a writer that does not stop, or a write that
 * still arrives from elsewhere during the quiet interval, fails the proof with its cause.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `t${Date.now().toString(36)}ls`;
const legacyUrl = `${PG}/${id}_legacy`;
const role = `${id}_app`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-shutdown-'));
const writers: LegacyWriter[] = [];

function depsFor(writer: LegacyWriter, drainSeconds = 5, quietSeconds = 2): ActivityDeps {
  const file = path.join(dir, `services-${writer.port}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      services: [
        {
          name: 'legacy-app',
          title: '非国产化准入系统应用 legacy application',
          side: 'legacy',
          kind: 'app',
          stop: { http: { method: 'POST', url: `http://127.0.0.1:${writer.port}/admin/stop` } },
          start: { command: ['true'] },
        },
      ],
      legacyDatabase: { applicationRoles: [role], quietSeconds, drainSeconds },
      legacySmokeTests: [],
    }),
  );
  const settings = loadSettings({ LOG_LEVEL: 'silent', LEGACY_DATABASE_URL: legacyUrl, BACKUP_DIR: path.join(dir, 'backups') }, { signing: false });
  return {
    settings,
    mapping: loadMapping(settings.MAPPING_FILE),
    logger: createLogger('test', 'silent'),
    legacySource: new PostgresSource(legacyUrl),
    project: { plan: loadPlanDefinition(settings.PLAN_FILE), flows: { timeoutMs: 1000, flows: [] }, systems: { systems: [] } as never },
    services: loadServices(file),
  };
}

const appSessions = () => withClient(legacyUrl, async (c) => Number((await c.query(`SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, [role])).rows[0].count));

beforeAll(async () => {
  await ensureDatabase(legacyUrl);
  await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 50, seed: 3, anomalyRate: 0 }));
  await withClient(legacyUrl, async (c) => {
    await c.query(`DROP ROLE IF EXISTS ${role}`);
    await c.query(`CREATE ROLE ${role} LOGIN`);
    await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
  });
});

afterAll(async () => {
  for (const w of writers) await w.close().catch(() => undefined);
  await dropDatabase(legacyUrl);
  await withClient(`${PG}/postgres`, (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function writing(opts: { stubborn?: boolean } = {}): Promise<LegacyWriter> {
  const w = await legacyWriter(`${PG.replace('postgres@', `${role}@`)}/${id}_legacy`, opts);
  writers.push(w);
  const n = w.writes();
  while (w.writes() < n + 3) await new Promise((r) => setTimeout(r, 20));
  return w;
}

const grants = () =>
  withClient(legacyUrl, async (c) =>
    (
      await c.query(
        `SELECT c.relname, a.privilege_type FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN pg_roles r ON r.oid = a.grantee
          WHERE r.rolname = $1 ORDER BY 1, 2`,
        [role],
      )
    ).rows,
  );

describe('只可查询 the legacy database read-only for the application, and writable again in the fallback (real PostgreSQL)', () => {
  it('revokes the role’s writes (a write as the role is refused), records what it took, and the fallback grants back exactly that', async () => {
    const w = await writing();
    await w.close(); // the application is shut down before the backup
    const before = await grants();
    expect(before.map((g) => g.privilege_type)).toEqual(expect.arrayContaining(['DELETE', 'INSERT', 'SELECT', 'UPDATE']));
    const a = inActivity(legacyLockActivities(depsFor(w)));
    const ro = await a.makeLegacyReadOnly({ runId: 'ro1' });
    expect(ro.roles).toHaveLength(1);
    expect(ro.roles[0].proof).toMatch(/^UPDATE e_baseinfo as \S+ refused: permission denied for table e_baseinfo$/);
    expect(ro.roles[0].revoked.map((r) => r.table).sort()).toEqual(loadMapping(loadSettings({}, { signing: false }).MAPPING_FILE).tables.map((t) => t.source.table).sort());
    // As the application itself would connect: reads work, writes are refused.
    await withClient(`${PG.replace('postgres@', `${role}@`)}/${id}_legacy`, async (c) => {
      expect(Number((await c.query('SELECT count(*) FROM e_baseinfo')).rows[0].count)).toBeGreaterThan(0);
      expect((await c.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe('on');
      await expect(c.query(`DELETE FROM e_alter`)).rejects.toThrow(/read-only transaction|permission denied/);
      await c.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE'); // the app cannot talk its way out
      await expect(c.query(`DELETE FROM e_alter`)).rejects.toThrow(/permission denied for table e_alter/);
    });
    expect((await grants()).map((g) => g.privilege_type)).toEqual(before.filter((g) => g.privilege_type === 'SELECT').map((g) => g.privilege_type));
    // A retry records nothing new (the revoked state is not taken for the original).
    expect((await a.makeLegacyReadOnly({ runId: 'ro1' })).roles[0].revoked).toEqual(ro.roles[0].revoked);

    const rw = await a.makeLegacyWritable({ runId: 'ro1' });
    expect(rw.roles[0].proof).toMatch(/8 tables writable again/);
    expect(await grants()).toEqual(before);
    await withClient(`${PG.replace('postgres@', `${role}@`)}/${id}_legacy`, async (c) => {
      expect((await c.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe('off');
      const r = await c.query(`UPDATE e_baseinfo SET entname = entname WHERE pripid = (SELECT min(pripid) FROM e_baseinfo)`);
      expect(r.rowCount).toBe(1);
    });
  });
});

describe('关停旧系统 legacy shutdown (real PostgreSQL)', () => {
  it('stops a legacy application that keeps writing and proves the legacy tables stopped changing', async () => {
    const w = await writing();
    expect(await appSessions()).toBe(1);
    const r = await inActivity(legacyLockActivities(depsFor(w))).shutDownLegacy({ runId: 'r1' });
    expect(r.stopped.map((s) => s.name)).toEqual(['legacy-app']);
    expect(r.sessions).toEqual([]);
    expect(r.tables.map((t) => t.table)).toContain('e_baseinfo');
    expect(r.tables.every((t) => t.before === t.after)).toBe(true);
    // The writer really stopped: no session of its role, no write since.
    expect(await appSessions()).toBe(0);
    const n = w.writes();
    await new Promise((r) => setTimeout(r, 300));
    expect(w.writes()).toBe(n);
  });

  it('fails the proof when the application still holds sessions after its services "stopped"', async () => {
    const w = await writing({ stubborn: true });
    await expect(inActivity(legacyLockActivities(depsFor(w, 1))).shutDownLegacy({ runId: 'r2' })).rejects.toThrow(
      new RegExp(`still has 1 session\\(s\\) on the legacy database 1 s after its services stopped: pid \\d+ ${role}@127\\.0\\.0\\.1/32 \\(scztj-app`),
    );
    await w.close();
  });

  it('fails the proof when a write still arrives during the quiet interval, naming the table', async () => {
    const w = await writing();
    const a = inActivity(legacyLockActivities(depsFor(w, 5, 4)));
    const proof = a.shutDownLegacy({ runId: 'r3' });
    proof.catch(() => undefined);
    // Once the application is gone, a write from elsewhere (another role, a forgotten batch job).
    while ((await appSessions()) > 0) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500));
    await withClient(legacyUrl, (c) => c.query(`DELETE FROM e_alter WHERE altid = (SELECT min(altid) FROM e_alter)`));
    await expect(proof).rejects.toThrow(/still being written after its application stopped: e_alter \+1 changes in 4 s/);
  });
});
