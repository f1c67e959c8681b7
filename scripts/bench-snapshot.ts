import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import type { ActivityDeps } from '../activities/deps';
import { targetActivities } from '../activities/target';
import { loadLegacyDataset, ROWS_PER_ENTITY } from '../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../lib/db';
import { loadSettings, repoRoot } from '../lib/settings';
import { registerTarget } from '../lib/target-guard';
import { copyChunk } from '../migration/chunk-copy';
import { loadMapping } from '../migration/mapping';
import { PostgresSource } from '../migration/pg-source';
import { ensureTargetSchema } from '../migration/target-schema';
import { flag, fmt } from './bench-args';

/**
 * npm run bench:snapshot -- [--rows N (default 1,000,000)] [--changes N (rows the "business tests" change, default 8)] [--fresh]
 *
 * 快照 + 回滚 at scale, both strategies side by side on one migrated target (its own databases,
 * jm_bench_snapshot_*): the template copy (CREATE DATABASE … TEMPLATE, then drop and recreate) and the
 * undo log (triggers, then the log applied in reverse). Between snapshot and rollback a few rows are
 * changed as the business tests would (updates, an insert, a delete); each rollback is proven by the
 * checksums. Both snapshots include the same checksum pass (the rollback proof's "before"), shown apart.
 */
const secs = (ms: number) => (ms / 1000).toFixed(2);

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function main() {
  const rows = flag('rows', 1_000_000);
  const changes = flag('changes', 8);
  const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
  const legacyUrl = `${base}/jm_bench_snapshot_legacy`;
  const targetUrl = `${base}/jm_bench_snapshot_target`;
  const runbookUrl = `${base}/jm_bench_snapshot_runbook`;
  const mapping = loadMapping(path.join(repoRoot, 'config', 'mapping.json'));
  const entities = Math.ceil(rows / ROWS_PER_ENTITY);

  for (const url of [legacyUrl, runbookUrl]) await ensureDatabase(url);
  const reuse =
    !process.argv.includes('--fresh') &&
    (await withClient(targetUrl.replace(/[^/]+$/, 'postgres'), async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', ['jm_bench_snapshot_target'])).rowCount)) &&
    (await withClient(targetUrl, async (c) => (await c.query(`SELECT entities FROM bench_meta`).catch(() => ({ rows: [] as { entities: number }[] }))).rows[0]?.entities === entities));
  if (!reuse) {
    process.stdout.write(`generating ${fmt(entities)} entities and migrating them …\n`);
    await dropDatabase(targetUrl);
    await ensureDatabase(targetUrl);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities, seed: 42, anomalyRate: 0.01 }));
    const source = new PostgresSource(legacyUrl);
    await withClient(targetUrl, (c) => ensureTargetSchema(c, mapping));
    for (const table of mapping.tables) {
      for (const chunk of await source.planChunks(table, 100_000)) {
        await withClient(targetUrl, (target) => copyChunk({ source, target, mapping, table, chunk, runId: 'bench', readPoint: null, attempt: 1 }));
      }
    }
    await source.close();
    await withClient(targetUrl, async (c) => {
      await c.query('CREATE TABLE bench_meta (entities integer NOT NULL)');
      await c.query('INSERT INTO bench_meta VALUES ($1)', [entities]);
    });
  }
  await registerTarget(targetUrl, legacyUrl, 'bench', 'postgresql');
  const targetRows = await withClient(targetUrl, async (c) => {
    let n = 0;
    for (const t of mapping.tables) n += Number((await c.query(`SELECT count(*) AS n FROM "${t.target.table}"`)).rows[0].n);
    return n;
  });

  const env = new MockActivityEnvironment();
  const results: { strategy: string; checksumMs: number; snapshotMs: number; rollbackMs: number; undone: string; proven: boolean }[] = [];
  for (const strategy of ['template', 'undo-log'] as const) {
    const settings = loadSettings({ LEGACY_DATABASE_URL: legacyUrl, TARGET_DATABASE_URL: targetUrl, RUNBOOK_DATABASE_URL: runbookUrl, TARGET_SNAPSHOT_STRATEGY: strategy, LOG_LEVEL: 'silent' }, { signing: false });
    const acts = targetActivities({ settings, mapping, logger: pino({ level: 'silent' }) } as unknown as ActivityDeps);
    const runId = `bench-${strategy}-${Date.now()}`;
    await withClient(targetUrl, (c) => c.query('CHECKPOINT'));
    const checksum = await timed(() => env.run(acts.targetChecksums));
    const snap = await timed(() => env.run(acts.snapshotTarget, { runId }) as ReturnType<typeof acts.snapshotTarget>);
    // What the business tests do: a change and a cancellation per entity, an insert, a delete.
    await withClient(targetUrl, async (c) => {
      const keys = (await c.query(`SELECT pripid FROM market_entity ORDER BY pripid LIMIT $1`, [changes])).rows.map((r) => r.pripid as string);
      for (const k of keys) await c.query(`UPDATE market_entity SET dom = dom || ' 变更', regstate = '4' WHERE pripid = $1`, [k]);
      await c.query(`INSERT INTO entity_change (altid, pripid, altitem) VALUES ($1, $2, '注销')`, [`BENCH-${runId}`.slice(0, 40), keys[0]]);
      await c.query(`DELETE FROM entity_change WHERE altid = (SELECT min(altid) FROM entity_change)`);
    });
    const rolled = await timed(() => env.run(acts.rollbackTarget, { runId }) as ReturnType<typeof acts.rollbackTarget>);
    const after = await env.run(acts.targetChecksums);
    results.push({
      strategy,
      checksumMs: checksum.ms,
      snapshotMs: snap.ms,
      rollbackMs: rolled.ms,
      undone: rolled.value.rowsUndone === undefined ? 'whole database' : `${rolled.value.rowsUndone} rows`,
      proven: JSON.stringify(after) === JSON.stringify(snap.value.checksums),
    });
    if (strategy === 'template') {
      await withClient(`${base}/postgres`, async (c) => {
        for (const r of (await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'jm_bench_snapshot_target_snap_%'`)).rows) await c.query(`DROP DATABASE "${r.datname}"`);
      });
    }
  }

  process.stdout.write(`\n快照 + 回滚 at ${fmt(targetRows)} target rows (${mapping.tables.length} tables), ${changes + 2} rows changed between them:\n\n`);
  process.stdout.write('| strategy | checksum pass (in snapshot) | snapshot | rollback | snapshot + rollback | undone | proof |\n|---|---:|---:|---:|---:|---|---|\n');
  for (const r of results) {
    process.stdout.write(`| ${r.strategy} | ${secs(r.checksumMs)} s | ${secs(r.snapshotMs)} s | ${secs(r.rollbackMs)} s | ${secs(r.snapshotMs + r.rollbackMs)} s | ${r.undone} | ${r.proven ? 'checksums equal' : 'DIFFERENT'} |\n`);
  }
  if (results.some((r) => !r.proven)) process.exitCode = 1;
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => setTimeout(() => process.exit(), 100));
