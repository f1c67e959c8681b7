import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActivityDeps } from '../../activities/deps';
import { backupActivities } from '../../activities/backup';
import { legacyArchiveActivities } from '../../activities/legacy-archive';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { loadPlanDefinition } from '../../plan/definition';
import { loadSettings } from '../../lib/settings';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { inActivity } from '../support/activity-context';

/**
 * 查询库 on the real PostgreSQL: the legacy backup (with the generator's planted anomalies) restored into
 * an archive database, every table proven equal to the manifest, writes refused; a database of the same
 * name that is not this run's archive is never replaced, and a changed backup file is never restored.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `t${Date.now().toString(36)}ar`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-archive-'));
const legacyUrl = `${PG}/${id}_legacy`;
const archiveUrl = `${PG}/${id}_archive`;
const settings = loadSettings({ LOG_LEVEL: 'silent', LEGACY_DATABASE_URL: legacyUrl, ARCHIVE_DATABASE_URL: archiveUrl, BACKUP_DIR: dir }, { signing: false });
const deps: ActivityDeps = {
  settings,
  mapping: loadMapping(settings.MAPPING_FILE),
  logger: createLogger('test', 'silent'),
  legacySource: new PostgresSource(legacyUrl),
  project: { plan: loadPlanDefinition(settings.PLAN_FILE), flows: { timeoutMs: 1000, flows: [] }, systems: { systems: [] } as never },
  services: { services: [], legacySmokeTests: [] },
};
const a = inActivity({ ...backupActivities(deps), ...legacyArchiveActivities(deps) });

beforeAll(async () => {
  await ensureDatabase(legacyUrl);
  await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 120, seed: 5, anomalyRate: 0.05 }));
});

afterAll(async () => {
  await deps.legacySource.close();
  await dropDatabase(legacyUrl);
  await dropDatabase(archiveUrl);
  fs.chmodSync(dir, 0o755);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('查询库 the legacy archive (real PostgreSQL)', () => {
  it('restores the backup read-only and proves every table equal to the manifest; a retry rebuilds it the same', async () => {
    const manifest = await a.backupLegacy({ runId: 'arc1' });
    const archive = await a.buildLegacyArchive({ runId: 'arc1' });
    expect(archive.database).toBe(`${id}_archive`);
    expect(archive.tables.map((t) => [t.table, t.rows, t.sha256, t.ok])).toEqual(manifest.files.map((f) => [f.table, f.rows, f.sha256, true]));
    expect(archive.readOnlyProof).toMatch(/refused: cannot execute DELETE in a read-only transaction/);
    // Staff query it like the legacy database.
    const counts = await withClient(archiveUrl, async (c) => Number((await c.query('SELECT count(*) FROM e_baseinfo')).rows[0].count));
    expect(counts).toBe(manifest.files.find((f) => f.table === 'e_baseinfo')!.rows);
    const again = await a.buildLegacyArchive({ runId: 'arc1' });
    expect(again.tables).toEqual(archive.tables);
  });

  it('a later run’s backup replaces an earlier run’s archive, but a database of that name that is not an archive is never replaced', async () => {
    await expect(a.buildLegacyArchive({ runId: 'arc2' })).rejects.toThrow(/no pre-migration backup manifest for run arc2/);
    await a.backupLegacy({ runId: 'arc2' });
    expect((await a.buildLegacyArchive({ runId: 'arc2' })).tables.every((t) => t.ok)).toBe(true);
    await withClient(`${PG}/postgres`, (c) => c.query(`COMMENT ON DATABASE "${id}_archive" IS 'staff reports, not ours'`));
    await expect(a.buildLegacyArchive({ runId: 'arc2' })).rejects.toThrow(`database ${id}_archive exists and is not an archive the runbook built (staff reports, not ours): refused to replace it`);
    expect(await withClient(archiveUrl, async (c) => Number((await c.query('SELECT count(*) FROM e_baseinfo')).rows[0].count))).toBeGreaterThan(0);
  });

  it('refuses to build from a backup file that changed since its manifest', async () => {
    await dropDatabase(archiveUrl);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'arc1', 'legacy', 'manifest.json'), 'utf8'));
    const file = manifest.files[0].file as string;
    fs.chmodSync(file, 0o644);
    fs.appendFileSync(file, 'X\tY\n');
    await expect(a.buildLegacyArchive({ runId: 'arc1' })).rejects.toThrow(/does not match its manifest/);
    expect(await withClient(`${PG}/postgres`, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [`${id}_archive`])).rowCount)).toBe(0);
  });
});
