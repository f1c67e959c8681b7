import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import { columnKeyCollate } from '../../migration/key-order';
import { findTable, loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { verifyContentInProcess } from '../../verification/run-content';

/**
 * A PostgreSQL legacy table whose key sorts in a linguistic collation (ICU: case-insensitive first,
 * so "n…1" sits between "N…0" and "N…2"), not in code-point order as the target's keys do. Chunks and
 * segments are key ranges: if the two sides disagreed on what a range holds, a retried chunk's cleanup
 * on the target would remove rows of its neighbours, and a correct copy would fail verification.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `ko${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;
const mapping = loadMapping(path.join(__dirname, '..', '..', 'config', 'mapping.json'));
const table = findTable(mapping, 'name_reservation');

describe('key order across collations', () => {
  const source = new PostgresSource(legacyUrl);
  let legacyKeys: string[] = [];

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    legacyKeys = await withClient(legacyUrl, async (c) => {
      await loadLegacyDataset(c, { entities: 1500, seed: 11 });
      await c.query(`ALTER TABLE e_name_reservation ALTER COLUMN nameid TYPE varchar(20) COLLATE "en-x-icu"`);
      await c.query(`UPDATE e_name_reservation SET nameid = lower(nameid) WHERE right(nameid, 1) IN ('1', '4', '7')`);
      await c.query('ANALYZE e_name_reservation');
      return (await c.query<{ k: string }>(`SELECT nameid AS k FROM e_name_reservation ORDER BY nameid COLLATE "C"`)).rows.map((r) => r.k);
    });
    await withClient(targetUrl, (c) => ensureTargetSchema(c, mapping));
  });
  afterAll(async () => {
    await source.close();
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
  });

  it('the legacy key really sorts otherwise, and the adapter sees that it must spell out code-point order', async () => {
    const linguistic = await withClient(legacyUrl, async (c) => (await c.query<{ k: string }>(`SELECT nameid AS k FROM e_name_reservation ORDER BY nameid`)).rows.map((r) => r.k));
    expect(linguistic).not.toEqual(legacyKeys);
    expect(await withClient(legacyUrl, (c) => columnKeyCollate(c, 'e_name_reservation', 'nameid'))).toBe(' COLLATE "C"');
    expect(await withClient(legacyUrl, (c) => columnKeyCollate(c, 'e_name_reservation', 'regorg'))).toBe(''); // the database's C.UTF-8
    expect(await withClient(targetUrl, (c) => columnKeyCollate(c, 'name_reservation', 'nameid'))).toBe('');
  });

  it('chunks copied and copied again (a retry) leave every legacy row loaded or quarantined exactly once, and the copy verifies', async () => {
    const rowsPerChunk = Math.ceil(legacyKeys.length / 6);
    const chunks = await source.planChunks(table, rowsPerChunk);
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    for (const attempt of [1, 2]) {
      await withClient(targetUrl, async (target) => {
        for (const chunk of chunks) await copyChunk({ source, target, mapping, table, chunk, runId: 'r1', readPoint: null, attempt });
      });
    }
    const { loaded, quarantined } = await withClient(targetUrl, async (c) => ({
      loaded: (await c.query<{ k: string }>(`SELECT nameid AS k FROM name_reservation ORDER BY nameid`)).rows.map((r) => r.k),
      quarantined: (await c.query<{ k: string }>(`SELECT source_key AS k FROM migration_quarantine WHERE table_name = 'name_reservation'`)).rows.map((r) => r.k),
    }));
    expect(loaded.length + quarantined.length).toBe(legacyKeys.length);
    expect([...loaded, ...quarantined].sort()).toEqual([...legacyKeys].sort());
    // the target's own order is code-point order, the legacy's as the adapter reads it
    expect(loaded).toEqual(legacyKeys.filter((k) => !quarantined.includes(k)));

    const segments = await verifyContentInProcess({ source, targetUrl, mapping, tables: ['name_reservation'], segmentRows: rowsPerChunk, concurrency: 2 });
    expect(segments.filter((s) => !s.ok)).toEqual([]);
    expect(segments.reduce((n, s) => n + s.sourceRows + s.quarantinedRows, 0)).toBe(legacyKeys.length);
  });
});
