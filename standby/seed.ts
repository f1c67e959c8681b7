import { loadLegacyDataset } from '../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, quoteIdent, withClient } from '../lib/db';
import { copyChunk } from '../migration/chunk-copy';
import type { Mapping } from '../migration/mapping';
import { loadSteps, findTable } from '../migration/mapping';
import { PostgresSource } from '../migration/pg-source';
import { ensureTargetSchema } from '../migration/target-schema';
import { inLoadOrder } from '../workflows/load-order';

/**
 * A migrated registry on a primary, for tests, the demo and bench:standby: the generated legacy dataset
 * (datagen, as bench:verify uses) copied into the target schema by the migration engine's chunk copy.
 * The legacy database is dropped afterwards: only the target replicates into what the check compares.
 */
export async function seedMigratedRegistry(opts: { legacyUrl: string; targetUrl: string; mapping: Mapping; entities: number; seed?: number; rowsPerChunk?: number }): Promise<number> {
  await dropDatabase(opts.legacyUrl);
  await dropDatabase(opts.targetUrl);
  await ensureDatabase(opts.legacyUrl);
  await ensureDatabase(opts.targetUrl);
  await withClient(opts.legacyUrl, (c) => loadLegacyDataset(c, { entities: opts.entities, seed: opts.seed ?? 42, anomalyRate: 0.01 }).then(() => undefined));
  await withClient(opts.targetUrl, (c) => ensureTargetSchema(c, opts.mapping));
  const source = new PostgresSource(opts.legacyUrl);
  try {
    await inLoadOrder(loadSteps(opts.mapping), 2, async (name) => {
      const table = findTable(opts.mapping, name);
      const chunks = await source.planChunks(table, opts.rowsPerChunk ?? 100_000);
      await withClient(opts.targetUrl, async (target) => {
        for (const chunk of chunks) await copyChunk({ source, target, mapping: opts.mapping, table, chunk, runId: 'standby-seed', readPoint: null, attempt: 1 });
      });
    });
  } finally {
    await source.close();
  }
  await dropDatabase(opts.legacyUrl);
  // what the target holds (the chunk results count per attempt, the quarantine apart)
  return withClient(opts.targetUrl, async (c) => {
    await c.query('ANALYZE');
    let rows = 0;
    for (const t of opts.mapping.tables) rows += Number((await c.query(`SELECT count(*) AS n FROM ${quoteIdent(t.target.table)}`)).rows[0].n);
    return rows;
  });
}
