import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import { findTable, loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';

/**
 * The engine's chunk copy on real PostgreSQL, without Temporal: rows the target itself refuses (a
 * constraint the mapping does not know about) are bisected out into quarantine while the rest loads,
 * and a chunk copied twice leaves the target exactly as copying it once did.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `cc${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;
const mapping = loadMapping(path.join(__dirname, '..', '..', 'config', 'mapping.json'));
const table = findTable(mapping, 'name_reservation');

describe('chunk copy', () => {
  const source = new PostgresSource(legacyUrl);

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 2000, seed: 3 }));
    await withClient(targetUrl, async (c) => {
      await ensureTargetSchema(c, mapping);
      // A rule of the new system that the mapping does not model: only the target can refuse these rows.
      await c.query(`ALTER TABLE name_reservation ADD CONSTRAINT no_enping CHECK (regorg <> '440785')`);
    });
  });
  afterAll(async () => {
    await source.close();
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
  });

  const copyAll = async (rowsPerChunk: number, attempt: number) => {
    const chunks = await source.planChunks(table, rowsPerChunk);
    return withClient(targetUrl, async (target) => {
      const results = [];
      for (const chunk of chunks) results.push(await copyChunk({ source, target, mapping, table, chunk, runId: 'r1', readPoint: null, attempt }));
      return results;
    });
  };
  const targetState = () =>
    withClient(targetUrl, async (c) => ({
      loaded: (await c.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE regorg = '440785')::int AS enping FROM name_reservation`)).rows[0],
      quarantine: (await c.query(`SELECT rule, count(*)::int AS n, min(detail) AS detail FROM migration_quarantine GROUP BY rule`)).rows,
      ledger: (await c.query(`SELECT count(*)::int AS chunks, sum(rows_read)::int AS read, max(attempt) AS attempt FROM migration_chunk`)).rows[0],
    }));

  it('quarantines exactly the rows the target refuses and loads the rest', async () => {
    const [legacy] = await withClient(legacyUrl, async (c) =>
      (await c.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE regorg = '440785')::int AS enping FROM e_name_reservation`)).rows,
    );
    expect(legacy.enping).toBeGreaterThan(0);
    const results = await copyAll(150, 1);
    expect(results.length).toBeGreaterThan(2);
    expect(results.some((r) => r.carefulMode)).toBe(true);
    const state = await targetState();
    expect(state.loaded).toEqual({ n: legacy.n - legacy.enping, enping: 0 });
    expect(state.quarantine).toEqual([{ rule: 'rejected_by_target', n: legacy.enping, detail: expect.stringContaining('violates check constraint "no_enping"') }]);
    expect(state.ledger).toEqual({ chunks: results.length, read: legacy.n, attempt: 1 });
  });

  it('copies a chunk again (a retry) without duplicating or losing a row', async () => {
    const before = await targetState();
    await copyAll(150, 2);
    const after = await targetState();
    expect(after.loaded).toEqual(before.loaded);
    expect(after.quarantine).toEqual(before.quarantine);
    expect(after.ledger).toEqual({ ...before.ledger, attempt: 2 });
  });
});
