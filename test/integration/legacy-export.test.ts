import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backupActivities } from '../../activities/backup';
import type { ActivityDeps } from '../../activities/deps';
import { legacyCheckActivities } from '../../activities/legacy-check';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { loadSettings } from '../../lib/settings';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import type { SourceAdapter } from '../../migration/source';
import { inActivity } from '../support/activity-context';

/**
 * The legacy backup and the fallback's check for a legacy database without a native dump here (Oracle):
 * the runbook's own export through the source adapter. No Oracle server runs here, so the adapter path
 * is driven by the PostgreSQL adapter presenting itself as another kind — the same code the Oracle
 * adapter goes through (its own SQL and conversions are unit-tested in test/unit/oracle-*).
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const legacyUrl = `${PG}/lx${randomBytes(4).toString('hex')}_legacy`;
const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-export-'));
const settings = loadSettings({ LEGACY_DATABASE_URL: legacyUrl, BACKUP_DIR: backupDir, LOG_LEVEL: 'warn' }, { signing: false });
const mapping = loadMapping(settings.MAPPING_FILE);
const pg = new PostgresSource(legacyUrl);
const viaAdapter: SourceAdapter = Object.assign(Object.create(pg) as SourceAdapter, { kind: 'oracle' as const });
const deps = { settings, mapping, logger: createLogger('test', 'warn'), legacySource: viaAdapter } as ActivityDeps;

describe('legacy backup through the adapter (Oracle path, 旧库备份)', () => {
  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 60, seed: 5, anomalyRate: 0.05 }));
  });
  afterAll(async () => {
    await pg.close();
    await dropDatabase(legacyUrl);
    fs.rmSync(backupDir, { recursive: true, force: true });
  });

  it('exports every row of every table at one read point, proves it, notices a change and never writes the legacy side', async () => {
    const manifest = await inActivity(backupActivities(deps)).backupLegacy({ runId: 'ora1' });
    const counts = await withClient(legacyUrl, async (c) => {
      const out: Record<string, number> = {};
      for (const t of mapping.tables) out[t.source.table] = Number((await c.query(`SELECT count(*) AS n FROM ${t.source.table}`)).rows[0].n);
      return out;
    });
    expect(Object.fromEntries(manifest.files.map((f) => [f.table, f.rows]))).toEqual(counts);
    const entities = manifest.files.find((f) => f.table === 'e_baseinfo')!;
    // One line per row, the mapping's columns, key order; read-only on disk.
    const lines = fs.readFileSync(entities.file, 'utf8').split('\n').slice(0, -1);
    expect(lines[0].split('\t')).toHaveLength(mapping.tables[0].columns.length);
    expect(lines.map((l) => l.split('\t')[0])).toEqual([...lines.map((l) => l.split('\t')[0])].sort());
    expect(fs.statSync(entities.file).mode & 0o222).toBe(0);

    const check = inActivity(legacyCheckActivities(deps));
    expect((await check.checkLegacyAgainstBackup({ runId: 'ora1' })).every((c) => c.ok)).toBe(true);

    await withClient(legacyUrl, (c) => c.query(`UPDATE e_baseinfo SET entname = entname || '（改）' WHERE pripid = (SELECT min(pripid) FROM e_baseinfo)`));
    const after = await check.checkLegacyAgainstBackup({ runId: 'ora1' });
    expect(after.filter((c) => !c.ok).map((c) => [c.table, c.rows === c.expectedRows, c.sha256 === c.expectedSha256])).toEqual([['e_baseinfo', true, false]]);

    // Restoring into the legacy database is the DBA's job there: refused, naming the table and the files, nothing written.
    await expect(check.restoreLegacyFromBackup({ runId: 'ora1', tables: ['e_baseinfo'] })).rejects.toThrow(
      `the legacy oracle tables e_baseinfo differ from the backup; restore them from ${manifest.dir}`,
    );
    const still = await withClient(legacyUrl, async (c) => (await c.query(`SELECT count(*) AS n FROM e_baseinfo WHERE entname LIKE '%（改）'`)).rows[0].n);
    expect(Number(still)).toBe(1);
  });
});
