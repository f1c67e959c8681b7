import { loadLegacyDataset, ROWS_PER_ENTITY } from '../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, quoteIdent, withClient } from '../lib/db';
import { repoRoot } from '../lib/settings';
import { copyChunk } from '../migration/chunk-copy';
import { findTable, loadMapping, loadSteps } from '../migration/mapping';
import { PostgresSource } from '../migration/pg-source';
import type { Chunk } from '../migration/source';
import { ensureTargetSchema } from '../migration/target-schema';
import { summariseContent } from '../verification/report';
import { verifyContentInProcess } from '../verification/run-content';
import { inLoadOrder } from '../workflows/load-order';
import { describeBusy, MachineSample, sampleMachine } from './cpu-budget';
import path from 'node:path';
import { flag, fmt } from './bench-args';

/**
 * npm run bench:verify -- [--rows N] [--prefix NAME (databases NAME_legacy / NAME_target; default jm_bench_verify)] [--chunk N] [--segment N (verification segment rows; default --chunk)] [--concurrency N] [--verify-concurrency N (default --concurrency)] [--threads N (source-side worker threads; 0 = none)] [--fresh]
 *
 * On one generated legacy dataset (its own databases, jm_bench_verify_*, so a bench:migrate running
 * meanwhile is not disturbed), in this one process: (1) the migration engine's chunk copy, all tables,
 * `concurrency` chunks at a time; (2) the full-content verification of the result, `concurrency`
 * segments at a time. Both without Temporal, same machine, same dataset, same parallelism — so the
 * ratio compares the work itself (bench:migrate measures the migration through Temporal, which is slower,
 * so this ratio is the harder one).
 */
/** The machine's and this process's CPU since the two samples were taken. */
const budgetSince = (machine: MachineSample, cpu: NodeJS.CpuUsage) => {
  const own = process.cpuUsage(cpu);
  return `machine ${describeBusy(machine, sampleMachine())}, this process ${((own.user + own.system) / 1e6).toFixed(2)} CPU-s`;
};

async function main() {
  const rows = flag('rows', 1_000_000);
  const rowsPerChunk = flag('chunk', 100_000);
  const concurrency = flag('concurrency', 2);
  const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
  // --prefix: databases of one's own (bench:standby runs this beside a bench:verify of someone else's).
  const pi = process.argv.indexOf('--prefix');
  const prefix = pi === -1 ? 'jm_bench_verify' : process.argv[pi + 1];
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`--prefix expects a lower-case name, got "${prefix}"`);
  const legacyUrl = `${base}/${prefix}_legacy`;
  const targetUrl = `${base}/${prefix}_target`;
  const mappingFile = path.join(repoRoot, 'config', 'mapping.json');
  const mapping = loadMapping(mappingFile);
  const entities = Math.ceil(rows / ROWS_PER_ENTITY);

  await ensureDatabase(legacyUrl);
  const reuse = !process.argv.includes('--fresh') && (await withClient(legacyUrl, async (c) => {
    const r = await c.query(`SELECT entities FROM bench_meta`).catch(() => ({ rows: [] as { entities: number }[] }));
    return r.rows[0]?.entities === entities;
  }));
  if (!reuse) {
    await withClient(legacyUrl, async (c) => {
      // The same generator, seed and anomaly rate as bench:migrate's dataset.
      await loadLegacyDataset(c, { entities, seed: 42, anomalyRate: 0.01 });
      await c.query('DROP TABLE IF EXISTS bench_meta');
      await c.query('CREATE TABLE bench_meta (entities integer NOT NULL)');
      await c.query('INSERT INTO bench_meta VALUES ($1)', [entities]);
    });
  }
  const sourceRows = await withClient(legacyUrl, async (c) => {
    let n = 0;
    for (const t of mapping.tables) n += Number((await c.query(`SELECT count(*) FROM ${quoteIdent(t.source.table)}`)).rows[0].count);
    return n;
  });
  console.log(`dataset: ${fmt(sourceRows)} legacy rows in ${mapping.tables.length} tables (${reuse ? 'reused' : 'generated'})`);

  const source = new PostgresSource(legacyUrl);
  try {
    // (1) migration as the engine runs it: tables in the load order, two side by side where it allows
    // (inLoadOrder, as the cutover's migrate step), chunks of a table in parallel lanes.
    await dropDatabase(targetUrl);
    await ensureDatabase(targetUrl);
    await withClient(targetUrl, (c) => ensureTargetSchema(c, mapping));
    let migrated = 0;
    const checkpoint = () => withClient(targetUrl, (c) => c.query('CHECKPOINT'));
    await checkpoint();
    let machine = sampleMachine();
    let nodeCpu = process.cpuUsage();
    const m0 = Date.now();
    await inLoadOrder(loadSteps(mapping), 2, async (name) => {
      const table = findTable(mapping, name);
      const chunks: Chunk[] = await source.planChunks(table, rowsPerChunk);
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, () =>
          withClient(targetUrl, async (target) => {
            while (next < chunks.length) {
              const r = await copyChunk({ source, target, mapping, table, chunk: chunks[next++], runId: 'bench-verify', readPoint: null, attempt: 1 });
              migrated += r.rowsRead;
            }
          }),
        ),
      );
    });
    const migrateMs = Date.now() - m0;
    const migrateRps = migrated / (migrateMs / 1000);
    const migrateBudget = budgetSince(machine, nodeCpu);
    console.log(`migrate: ${fmt(migrated)} rows in ${(migrateMs / 1000).toFixed(1)} s = ${fmt(migrateRps)} rows/s (engine chunk copy, ${concurrency} lanes × 2 tables, chunk ${fmt(rowsPerChunk)})`);
    console.log(`         ${migrateBudget}`);
    await withClient(targetUrl, (c) => c.query('VACUUM ANALYZE'));

    // (2) full-content verification of the same data.
    await checkpoint();
    machine = sampleMachine();
    nodeCpu = process.cpuUsage();
    const v0 = Date.now();
    const threads = flag('threads', 0, 0);
    const segmentRows = flag('segment', rowsPerChunk);
    const verifyConcurrency = flag('verify-concurrency', concurrency);
    const segments = await verifyContentInProcess({ source, targetUrl, mapping, segmentRows, concurrency: verifyConcurrency, threads: { size: threads, legacyUrl, mappingFile } });
    const verifyMs = Date.now() - v0;
    const verifyBudget = budgetSince(machine, nodeCpu);
    const summary = summariseContent(segments);
    const verified = summary.reduce((n, s) => n + s.sourceRows + s.quarantinedRows, 0);
    const failed = segments.filter((s) => !s.ok);
    if (failed.length || verified !== sourceRows) throw new Error(`verification of a correct migration failed: ${failed.length} segments differ, ${verified} of ${sourceRows} rows accounted for`);
    const verifyRps = verified / (verifyMs / 1000);
    console.log(`verify:  ${fmt(verified)} rows in ${(verifyMs / 1000).toFixed(1)} s = ${fmt(verifyRps)} rows/s (${segments.length} segments of ~${fmt(segmentRows)} rows, ${verifyConcurrency} lanes, source side on ${threads} worker threads; source via adapter + transform, target COPY TO + sha256)`);
    console.log(`         ${verifyBudget}`);
    for (const s of summary) console.log(`  ${s.table.padEnd(22)} ${fmt(s.sourceRows + s.quarantinedRows).padStart(10)} rows  ${String(s.segments).padStart(3)} segments  all equal`);
    console.log(`bench:verify rows=${verified} verify_rps=${Math.round(verifyRps)} ratio_to_migrate=${(verifyRps / migrateRps).toFixed(2)}`);
  } finally {
    await source.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
