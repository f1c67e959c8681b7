import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backupActivities } from '../../activities/backup';
import type { ActivityDeps } from '../../activities/deps';
import { migrateActivities } from '../../activities/migrate';
import { runReadPoint } from '../../activities/read-point';
import { dropDatabase, ensureDatabase } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { loadSettings } from '../../lib/settings';
import type { Mapping } from '../../migration/mapping';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { inActivity } from '../support/activity-context';
import { legacyTable, rowsInChunk, ScriptedOracle, scriptedResultSet } from './oracle-scripted';

/**
 * 读取点 One read point for the run: the backup pins the SCN, and every table's plan and chunks (and the
 * verification) read AS OF that same SCN, even though the scripted server's SCN moves on every call (the
 * legacy application still writes). The target is a real PostgreSQL database (planTable prepares it).
 */
const ENTITY = legacyTable(
  [
    { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
    { target: 'entname', type: 'text', source: 'entname', required: true },
  ],
  { target: { table: 'rp_market_entity', checks: [] } },
);
const APPROVAL = legacyTable(
  [
    { target: 'apprno', type: 'text', source: 'apprno', required: true },
    { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
  ],
  { name: 'approval', category: 'approval', source: { table: 'e_approval', key: 'apprno' }, target: { table: 'rp_approval', checks: [] } },
);
const mapping: Mapping = { tables: [ENTITY, APPROVAL], codeTables: new Map() };

const targetUrl = `postgres://postgres@127.0.0.1:5432/rp${randomBytes(4).toString('hex')}_target`;
/** the worker files each target statement in the runbook database's statement audit (语句审计) */
const runbookUrl = `${targetUrl}_runbook`;
const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-readpoint-'));

function scriptedLegacy(): { db: ScriptedOracle; scn: () => string } {
  let scn = 8_124_650_000;
  const db = new ScriptedOracle([
    {
      match: /FROM all_tab_columns/,
      rows: (b) =>
        b.table_name === 'E_BASEINFO'
          ? [
              ['PRIPID', 'NUMBER', 'N', 20, 0],
              ['ENTNAME', 'VARCHAR2', 'N', null, null],
            ]
          : [
              ['APPRNO', 'VARCHAR2', 'N', null, null],
              ['PRIPID', 'NUMBER', 'N', 20, 0],
            ],
    },
    // the legacy application still writes: every read of the SCN is later than the last
    { match: /DBMS_FLASHBACK\.GET_SYSTEM_CHANGE_NUMBER/, rows: () => [[String(++scn)]] },
    { match: /ROW_NUMBER\(\)/, rows: (b) => (b.read_scn ? [['100'], ['200']] : [['150']]) },
    { match: /^SELECT "PRIPID", "ENTNAME"/, resultSet: (b) => scriptedResultSet(rowsInChunk([['1', '江门甲'], ['2', '江门乙']], b, true)) },
    { match: /^SELECT "APPRNO", "PRIPID"/, resultSet: (b) => scriptedResultSet(rowsInChunk([['A1', '1']], b, false)) },
  ]);
  return { db, scn: () => String(scn) };
}

function depsFor(db: ScriptedOracle): ActivityDeps {
  const settings = loadSettings({ TARGET_DATABASE_URL: targetUrl, RUNBOOK_DATABASE_URL: runbookUrl, BACKUP_DIR: backupDir, LOG_LEVEL: 'warn' }, { signing: false });
  const legacySource = new OracleSource({ user: 'jmlegacy', password: 'pw', connectString: 'db/JMREG' }, db.driver());
  return { settings, mapping, logger: createLogger('test', 'warn'), legacySource } as unknown as ActivityDeps;
}

beforeAll(async () => {
  await ensureDatabase(targetUrl);
  await ensureDatabase(runbookUrl);
});
afterAll(async () => {
  await dropDatabase(targetUrl);
  await dropDatabase(runbookUrl);
  fs.rmSync(backupDir, { recursive: true, force: true });
});

describe('the run’s one read point 读取点', () => {
  it('is pinned once: workers racing to pin agree on the first, and a later call does not move it', async () => {
    const { db } = scriptedLegacy();
    const deps = depsFor(db);
    const pins = await Promise.all(Array.from({ length: 6 }, () => runReadPoint(deps, 'race1')));
    expect(new Set(pins.map((p) => p.readPoint)).size).toBe(1);
    const first = pins[0].readPoint;
    expect(first).toMatch(/^\d+$/);
    expect((await runReadPoint(deps, 'race1')).readPoint).toBe(first);
    expect(fs.readdirSync(path.join(backupDir, 'race1'))).toEqual(['read-point.json']);
    expect(fs.statSync(path.join(backupDir, 'race1', 'read-point.json')).mode & 0o222).toBe(0);
  });

  it('refuses a worker that reads another kind of legacy database than the run was pinned on', async () => {
    const { db } = scriptedLegacy();
    const deps = depsFor(db);
    await runReadPoint(deps, 'mixed1');
    const pgWorker = { ...deps, legacySource: { kind: 'postgres', readPoint: async () => null } } as unknown as ActivityDeps;
    await expect(runReadPoint(pgWorker, 'mixed1')).rejects.toThrow(/pins run mixed1 to a oracle legacy database, but this worker reads postgres/);
  });

  it('refuses a run id that would climb out of the backup folder', async () => {
    const { db } = scriptedLegacy();
    await expect(runReadPoint(depsFor(db), '../etc')).rejects.toThrow(/cannot name a backup folder/);
  });

  it('the backup, every table’s plan and every chunk read AS OF the same SCN while the server’s SCN moves on', async () => {
    const { db, scn } = scriptedLegacy();
    const deps = depsFor(db);
    const manifest = await inActivity(backupActivities(deps)).backupLegacy({ runId: 'run7' });
    const pinned = manifest.readPoint!;
    expect(pinned).toMatch(/^\d+$/);
    expect(manifest.files.map((f) => [f.table, f.rows])).toEqual([
      ['e_baseinfo', 2],
      ['e_approval', 1],
    ]);

    const migrate = inActivity(migrateActivities(deps));
    const plans = [];
    for (const t of mapping.tables) plans.push(await migrate.planTable({ table: t.name, rowsPerChunk: 100, runId: 'run7' }));
    expect(BigInt(scn())).toBe(BigInt(pinned)); // nothing asked the server for a new SCN after the pin
    expect(plans.map((p) => p.readPoint)).toEqual([pinned, pinned]);
    expect(plans[0].chunks.map((c) => [c.keyFrom, c.keyTo])).toEqual([
      [null, '100'],
      ['100', '200'],
      ['200', null],
    ]);
    // every statement that reads table data did so AS OF the pinned SCN
    const reads = db.executed.filter((e) => /FROM "E_|FROM \(SELECT/.test(e.sql));
    expect(reads.length).toBeGreaterThanOrEqual(4);
    for (const r of reads) {
      expect(r.sql).toContain('AS OF SCN :read_scn');
      expect(r.binds.read_scn).toBe(pinned);
    }
    // without a run, a table is still planned and read at its own SCN (the standalone path)
    const own = await migrate.planTable({ table: 'approval', rowsPerChunk: 100 });
    expect(BigInt(own.readPoint!)).toBeGreaterThan(BigInt(pinned));
    await deps.legacySource.close();
  });
});

describe('旧库未变更 the legacy did not move after the read point', () => {
  it('per table: counts at the SCN and now, and rows in blocks changed since; a write after the SCN is named', async () => {
    const { db } = scriptedLegacy();
    const answers: Record<string, unknown[]> = { E_BASEINFO: [2, 2, 0], E_APPROVAL: [1, 2, 1] };
    db.answers.unshift({ match: /ORA_ROWSCN > :read_scn/, rows: () => [answers[/FROM "(E_\w+)"/.exec(db.executed.at(-1)!.sql)![1]]] });
    const deps = depsFor(db);
    const acts = inActivity(backupActivities(deps));
    const { readPoint } = await runReadPoint(deps, 'still1');
    const checks = await acts.proveLegacyUnchanged({ runId: 'still1' });
    expect(checks).toEqual([
      { table: 'e_baseinfo', rowsAtReadPoint: 2, rowsNow: 2, rowsInChangedBlocks: 0, unchanged: true },
      { table: 'e_approval', rowsAtReadPoint: 2, rowsNow: 1, rowsInChangedBlocks: 1, unchanged: false },
    ]);
    const probe = db.executed.find((e) => /ORA_ROWSCN/.test(e.sql))!;
    expect(probe.sql).toBe(
      'SELECT (SELECT COUNT(*) FROM "E_BASEINFO") AS rows_now, (SELECT COUNT(*) FROM "E_BASEINFO" AS OF SCN :read_scn) AS rows_then, (SELECT COUNT(*) FROM "E_BASEINFO" WHERE ORA_ROWSCN > :read_scn) AS rows_changed FROM DUAL',
    );
    expect(probe.binds).toEqual({ read_scn: readPoint });
    await deps.legacySource.close();
  });
});
