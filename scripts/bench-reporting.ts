import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadLegacyDataset, ROWS_PER_ENTITY } from '../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../lib/db';
import { copyChunk } from '../migration/chunk-copy';
import { loadMapping } from '../migration/mapping';
import { PostgresSource } from '../migration/pg-source';
import { ensureTargetSchema } from '../migration/target-schema';
import { ensureReportSchema, ReportContext, runTableCycle } from '../reporting/batch';
import { installCapture } from '../reporting/capture';
import { startReceiver } from '../reporting/receiver';
import { loadReportSpec } from '../reporting/spec';

/**
 * npm run bench:reporting -- [--rows N] [--migrate-rps N] [--fresh] [--prefix NAME] [--keep]
 *
 * On the dataset bench:migrate uses (jm_bench_legacy, generated with the same seed when absent), the
 * registry is the migration's target (built here with the engine's chunk copy, timed, unless it holds
 * the same data already). Then:
 *  (1) the first full aggregation of every reported table: registry → provincial DB (jm_bench_province)
 *      → national batch files POSTed to the reference receiver, each batch verified three ways;
 *  (2) 1% of the entities changed, and an incremental cycle: its wall time and rows (only those rows).
 * Prints rows/s and the ratio to the migration's rows/s on the same data (--migrate-rps: bench:migrate's
 * ours_rps; otherwise the in-process engine copy measured here, said so in the output).
 */
function flag(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} expects a positive number, got "${process.argv[i + 1]}"`);
  return v;
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number) => (ms / 1000).toFixed(1) + ' s';

async function main() {
  const rows = flag('rows') ?? 1_000_000;
  const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
  // --prefix: databases of one's own (a trial run beside someone else's benchmark); default bench:migrate's dataset.
  const pi = process.argv.indexOf('--prefix');
  const prefix = pi === -1 ? 'jm_bench' : process.argv[pi + 1];
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix)) throw new Error(`--prefix expects a lower-case name, got "${prefix}"`);
  const db = { legacy: `${base}/${prefix}_legacy`, registry: `${base}/${prefix}_report_registry`, province: `${base}/${prefix}_province` };
  const root = path.resolve(__dirname, path.basename(path.resolve(__dirname, '..')) === 'dist' ? '../..' : '..');
  const mapping = loadMapping(path.join(root, 'config', 'mapping.json'));
  const spec = loadReportSpec(path.join(root, 'config', 'reporting', 'registry.json'));
  const entities = Math.ceil(rows / ROWS_PER_ENTITY);

  await ensureDatabase(db.legacy);
  const reuse = !process.argv.includes('--fresh') && (await withClient(db.legacy, async (c) => {
    const r = await c.query(`SELECT entities FROM bench_meta`).catch(() => ({ rows: [] as { entities: number }[] }));
    return r.rows[0]?.entities === entities;
  }));
  if (!reuse) {
    await withClient(db.legacy, async (c) => {
      await loadLegacyDataset(c, { entities, seed: 42, anomalyRate: 0.01 });
      await c.query('DROP TABLE IF EXISTS bench_meta');
      await c.query('CREATE TABLE bench_meta (entities integer NOT NULL)');
      await c.query('INSERT INTO bench_meta VALUES ($1)', [entities]);
    });
  }

  // The registry = the migration's target, built by the engine (its time is the in-process reference rate).
  await dropDatabase(db.registry);
  await ensureDatabase(db.registry);
  const source = new PostgresSource(db.legacy);
  const m0 = Date.now();
  let migrated = 0;
  await withClient(db.registry, async (target) => {
    await ensureTargetSchema(target, mapping);
    for (const table of mapping.tables) {
      for (const chunk of await source.planChunks(table, 100_000)) {
        const r = await copyChunk({ source, target, mapping, table, chunk, runId: 'bench', readPoint: null, attempt: 1 });
        migrated += r.rowsRead;
      }
    }
  });
  const migrateMs = Date.now() - m0;
  await source.close();
  const migrateRps = flag('migrate-rps') ?? migrated / (migrateMs / 1000);
  const migrateFrom = flag('migrate-rps') ? 'bench:migrate ours_rps (--migrate-rps)' : `the engine's in-process chunk copy here: ${fmt(migrated)} rows in ${seconds(migrateMs)}`;

  await dropDatabase(db.province);
  await ensureDatabase(db.province);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-bench-report-'));
  const receiver = await startReceiver(path.join(dir, 'received'));
  const ctx: ReportContext = { spec, registryUrl: db.registry, provinceUrl: db.province, outboxDir: path.join(dir, 'outbox'), receiverUrl: receiver.url };
  try {
    await withClient(db.registry, (c) => installCapture(c, spec));
    await ensureReportSchema(ctx);
    const registryRows = await withClient(db.registry, async (c) => {
      let n = 0;
      for (const t of spec.tables) n += Number((await c.query(`SELECT count(*) AS n FROM "${t.source.table}"`)).rows[0].n);
      return n;
    });

    // (1) first full aggregation, two tables at a time.
    const t0 = Date.now();
    const results: Awaited<ReturnType<typeof runTableCycle>>[] = [];
    const queue = spec.tables.map((t) => t.name);
    await Promise.all(
      [0, 1].map(async () => {
        for (let t = queue.shift(); t; t = queue.shift()) results.push(await runTableCycle(ctx, t));
      }),
    );
    const fullMs = Date.now() - t0;
    const failed = results.filter((r) => r.state !== 'verified');
    if (failed.length) throw new Error(`not verified: ${failed.map((r) => `${r.table} ${r.state}`).join(', ')}`);
    const delivered = results.reduce((n, r) => n + r.rows, 0);
    const held = results.reduce((n, r) => n + r.rejected, 0);
    if (delivered + held !== registryRows) throw new Error(`rows do not reconcile: registry ${registryRows}, delivered ${delivered}, held ${held}`);
    const reportRps = registryRows / (fullMs / 1000);

    // (2) 1% of the entities change; the incremental cycle must carry exactly those rows.
    const changed = await withClient(db.registry, async (c) =>
      (await c.query(`UPDATE market_entity SET entname = entname || '·' WHERE entname IS NOT NULL AND abs(hashtext(pripid)) % 100 = 0`)).rowCount ?? 0,
    );
    const i0 = Date.now();
    const inc: Awaited<ReturnType<typeof runTableCycle>>[] = [];
    for (const t of spec.tables) inc.push(await runTableCycle(ctx, t.name));
    const incMs = Date.now() - i0;
    const incRows = inc.reduce((n, r) => n + r.rows + r.rejected, 0);
    if (incRows !== changed) throw new Error(`the incremental cycle touched ${incRows} rows; ${changed} changed`);

    console.log(`registry: ${fmt(registryRows)} rows in ${spec.tables.length} reported tables (${reuse ? 'reused' : 'fresh'} dataset of ${fmt(entities)} entities)`);
    console.log('| run | rows | time | rows/s |');
    console.log('|---|---:|---:|---:|');
    console.log(`| first full aggregation (province + national batches, verified) | ${fmt(registryRows)} | ${seconds(fullMs)} | ${fmt(reportRps)} |`);
    console.log(`| incremental after 1% of entities changed | ${fmt(incRows)} | ${seconds(incMs)} | ${fmt(incRows / (incMs / 1000))} |`);
    for (const r of results) console.log(`  ${r.table.padEnd(26)} ${fmt(r.rows).padStart(10)} delivered ${fmt(r.rejected).padStart(7)} held`);
    console.log(`migration reference: ${fmt(migrateRps)} rows/s (${migrateFrom})`);
    console.log(`bench:reporting incremental rows=${incRows} changed=${changed} wall_ms=${incMs}`);
    console.log(`bench:reporting rows=${registryRows} report_rps=${Math.round(reportRps)} ratio_to_migrate=${(reportRps / migrateRps).toFixed(2)}`);
  } finally {
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if (!process.argv.includes('--keep')) {
      await dropDatabase(db.province);
      await dropDatabase(db.registry);
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
