import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { loadLegacyDataset, ROWS_PER_ENTITY } from '../datagen/legacy-generator';
import { settingsEnv, startEntryPoint } from '../lib/child-process';
import { dropDatabase, ensureDatabase, quoteIdent, withClient } from '../lib/db';
import { loadSettings } from '../lib/settings';
import { loadMapping, loadSteps } from '../migration/mapping';
import { ensureTargetSchema } from '../migration/target-schema';
import type { TableOutcome } from '../workflows/cutover-messages';
import { inLoadOrder } from '../workflows/load-order';
import { commandCpuMs, describeBusy, processCpuMs, sampleMachine } from './cpu-budget';

/**
 * npm run bench:migrate -- [--rows N] [--chunk N] [--concurrency N] [--tables-in-parallel N] [--workers N] [--worker-heap-mb N] [--fresh] [--skip-pgloader]
 *
 * On one generated legacy dataset (reused between runs unless --fresh), measures side by side:
 *  (a) ceiling  — PostgreSQL's own server-side COPY FROM file into the same target tables;
 *  (b) pgloader — Debian's pgloader copying the legacy tables PostgreSQL → PostgreSQL;
 *  (c) ours     — the engine through Temporal: --workers worker processes on one task queue (default 1;
 *                 a chunk's conversion runs on one Node.js thread, so a process per core is how a deployment
 *                 uses its cores), a workflow per table started in the cutover's load order (inLoadOrder),
 *                 chunk activities in --concurrency lanes per table.
 * Prints rows/s for each, the ratios, the projection for 96,976,195 rows and the largest worker peak RSS.
 * The worker runs with a capped V8 heap (--worker-heap-mb, default 160), as in production: an uncapped
 * heap grows lazily with the rows seen even though the engine streams, which would hide a real leak.
 */
const run = promisify(execFile);
const LIVE_ROWS = 96_976_195;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} expects a positive whole number, got "${process.argv[i + 1]}"`);
  return v;
}
const has = (name: string) => process.argv.includes(`--${name}`);
/**
 * Each run starts with the WAL of the one before flushed: otherwise the checkpoint that the previous
 * run's gigabytes of WAL set off lands in the middle of the next one and is counted against it.
 */
const checkpoint = () => withClient(`${process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432'}/postgres`, (c) => c.query('CHECKPOINT'));
const seconds = (ms: number) => (ms / 1000).toFixed(1) + ' s';
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main() {
  const rows = flag('rows', 1_000_000);
  const rowsPerChunk = flag('chunk', 100_000);
  const concurrency = flag('concurrency', 2);
  const tablesInParallel = flag('tables-in-parallel', 2);
  const heapMb = flag('worker-heap-mb', 160);
  const workerCount = flag('workers', 1);
  const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
  const db = { legacy: `${base}/jm_bench_legacy`, ours: `${base}/jm_bench_ours`, ceiling: `${base}/jm_bench_ceiling`, pgloader: `${base}/jm_bench_pgloader`, runbook: `${base}/jm_bench_runbook` };
  const settings = loadSettings({ ...process.env, LEGACY_DATABASE_URL: db.legacy, TARGET_DATABASE_URL: db.ours, RUNBOOK_DATABASE_URL: db.runbook, TASK_QUEUE: `bench-${process.pid}`, LOG_LEVEL: 'warn', APPROVAL_SIGNING_KEY: randomBytes(36).toString('base64url') }); // the worker it starts refuses to run without a signing key of its own
  const mapping = loadMapping(settings.MAPPING_FILE);
  const entities = Math.ceil(rows / ROWS_PER_ENTITY);

  // The dataset: reused when the same size was generated before, since generating it is not what we measure.
  await ensureDatabase(db.legacy);
  await ensureDatabase(db.runbook); // the worker files each run's target statements there (语句审计)
  const reuse = !has('fresh') && (await withClient(db.legacy, async (c) => {
    const r = await c.query(`SELECT entities FROM bench_meta`).catch(() => ({ rows: [] as { entities: number }[] }));
    return r.rows[0]?.entities === entities;
  }));
  if (!reuse) {
    const t0 = Date.now();
    await withClient(db.legacy, async (c) => {
      await loadLegacyDataset(c, { entities, seed: 42, anomalyRate: 0.01 });
      await c.query('DROP TABLE IF EXISTS bench_meta');
      await c.query('CREATE TABLE bench_meta (entities integer NOT NULL)');
      await c.query('INSERT INTO bench_meta VALUES ($1)', [entities]);
    });
    console.log(`dataset: generated ${entities} entities in ${seconds(Date.now() - t0)}`);
  }
  const sourceRows = await withClient(db.legacy, async (c) => {
    let n = 0;
    for (const t of mapping.tables) n += Number((await c.query(`SELECT count(*) FROM ${quoteIdent(t.source.table)}`)).rows[0].count);
    return n;
  });
  console.log(`dataset: ${fmt(sourceRows)} legacy rows in ${mapping.tables.length} tables (${reuse ? 'reused' : 'fresh'})`);

  // (c) ours, through Temporal.
  await dropDatabase(db.ours);
  await ensureDatabase(db.ours);
  const workers = await Promise.all(
    Array.from({ length: workerCount }, () =>
      startEntryPoint({ entry: 'worker/main.ts', env: settingsEnv(settings, { LOG_LEVEL: 'info', NODE_OPTIONS: `--max-old-space-size=${heapMb}` }), readyText: 'worker ready' }),
    ),
  );
  const connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
  const outcomes: TableOutcome[] = [];
  let oursMs: number;
  let peakRssMb = 0;
  await checkpoint();
  const machineBefore = sampleMachine();
  const workerCpuBefore = workers.map((w) => processCpuMs(w.child.pid!));
  const temporalCpuBefore = commandCpuMs('temporal');
  let temporalCpuMs: number;
  let machineBusy: string;
  let workerCpuMs = 0;
  const t0 = Date.now();
  try {
    const done = await inLoadOrder(loadSteps(mapping), tablesInParallel, (table) =>
      client.workflow.execute('migrateTable', {
        taskQueue: settings.TASK_QUEUE,
        workflowId: `bench-${process.pid}-${Date.now()}/${table}`,
        args: [{ runId: `bench-${process.pid}`, table, rowsPerChunk, concurrency, heartbeatSeconds: 120, stepLabel: 'bench' }],
      }),
    );
    for (const table of mapping.tables) outcomes.push(done.get(table.name)!);
  } finally {
    oursMs = Date.now() - t0;
    machineBusy = describeBusy(machineBefore, sampleMachine());
    workers.forEach((w, i) => (workerCpuMs += processCpuMs(w.child.pid!) - workerCpuBefore[i]));
    temporalCpuMs = commandCpuMs('temporal') - temporalCpuBefore;
    for (const w of workers) peakRssMb = Math.max(peakRssMb, Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${w.child.pid}/status`, 'utf8'))![1]) / 1024);
    await Promise.all(workers.map((w) => w.stop()));
    await connection.close();
  }
  const oursRead = outcomes.reduce((n, o) => n + o.rowsRead, 0);
  const oursLoaded = outcomes.reduce((n, o) => n + o.rowsLoaded, 0);
  const quarantined = outcomes.reduce((n, o) => n + o.rowsQuarantined, 0);
  if (oursRead !== sourceRows || oursLoaded + quarantined !== oursRead) throw new Error(`rows do not reconcile: source ${sourceRows}, read ${oursRead}, loaded ${oursLoaded}, quarantined ${quarantined}`);
  const oursRps = oursRead / (oursMs / 1000);

  // (a) ceiling: the loaded rows, dumped by the server to files, loaded back by the server into fresh copies of the same tables.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-bench-'));
  fs.chmodSync(dir, 0o777);
  await withClient(db.ours, async (c) => {
    for (const t of mapping.tables) await c.query(`COPY ${quoteIdent(t.target.table)} TO '${path.join(dir, t.name)}.copy'`);
  });
  await dropDatabase(db.ceiling);
  await ensureDatabase(db.ceiling);
  let ceilingBusy = '';
  const ceilingMs = await withClient(db.ceiling, async (c) => {
    await ensureTargetSchema(c, mapping);
    await checkpoint();
    const before = sampleMachine();
    const start = Date.now();
    for (const t of mapping.tables) await c.query(`COPY ${quoteIdent(t.target.table)} FROM '${path.join(dir, t.name)}.copy'`);
    const ms = Date.now() - start;
    ceilingBusy = describeBusy(before, sampleMachine());
    return ms;
  });
  fs.rmSync(dir, { recursive: true, force: true });
  const ceilingRps = oursLoaded / (ceilingMs / 1000);

  // (b) pgloader, PostgreSQL to PostgreSQL, the legacy tables as they are (no mapping: it has no equivalent of ours).
  let pgloaderRps = NaN;
  let pgloaderMs = NaN;
  if (!has('skip-pgloader')) {
    await dropDatabase(db.pgloader);
    await ensureDatabase(db.pgloader);
    const load = path.join(os.tmpdir(), `jm-bench-${process.pid}.load`);
    const tables = mapping.tables.map((t) => `'${t.source.table}'`).join(', ');
    fs.writeFileSync(
      load,
      `LOAD DATABASE FROM ${db.legacy.replace('postgres://', 'pgsql://')} INTO ${db.pgloader.replace('postgres://', 'pgsql://')}
       WITH include drop, create tables, create indexes, reset sequences, workers = 4, concurrency = 1, batch rows = 25000
       INCLUDING ONLY TABLE NAMES MATCHING ${tables} IN SCHEMA 'public';\n`,
    );
    await checkpoint();
    const start = Date.now();
    // SBCL's default heap is too small for large batches: give it 4 GiB explicitly.
    await run('pgloader', ['--dynamic-space-size', '4096', '--quiet', load], { maxBuffer: 64 * 1024 * 1024 }).catch(async (err) => {
      if (!/dynamic-space-size/.test(String(err.stderr))) throw err;
      await run('pgloader', ['--quiet', load], { maxBuffer: 64 * 1024 * 1024 });
    });
    pgloaderMs = Date.now() - start;
    fs.rmSync(load, { force: true });
    const copied = await withClient(db.pgloader, async (c) => {
      let n = 0;
      for (const t of mapping.tables) n += Number((await c.query(`SELECT count(*) FROM ${quoteIdent(t.source.table)}`)).rows[0].count);
      return n;
    });
    if (copied !== sourceRows) throw new Error(`pgloader copied ${copied} of ${sourceRows} rows`);
    pgloaderRps = sourceRows / (pgloaderMs / 1000);
  }

  console.log('');
  console.log('| run | rows | time | rows/s |');
  console.log('|---|---:|---:|---:|');
  console.log(`| (a) ceiling: server-side COPY FROM file | ${fmt(oursLoaded)} | ${seconds(ceilingMs)} | ${fmt(ceilingRps)} |`);
  console.log(`| (b) pgloader PG→PG | ${fmt(sourceRows)} | ${seconds(pgloaderMs)} | ${fmt(pgloaderRps)} |`);
  console.log(`| (c) ours via Temporal (${workerCount} worker${workerCount > 1 ? 's' : ''}, chunk ${fmt(rowsPerChunk)}, ${concurrency} lanes × ${tablesInParallel} tables) | ${fmt(oursRead)} | ${seconds(oursMs)} | ${fmt(oursRps)} |`);
  console.log('');
  console.log(`CPU: (a) machine ${ceilingBusy}; (c) machine ${machineBusy}, of which worker processes ${(workerCpuMs / 1000).toFixed(2)} and the Temporal server ${(temporalCpuMs / 1000).toFixed(2)} CPU-s (the rest: PostgreSQL)`);
  console.log(`ours: ${fmt(oursLoaded)} loaded + ${fmt(quarantined)} quarantined = ${fmt(oursRead)} read; largest worker peak RSS ${peakRssMb.toFixed(0)} MB (V8 heap capped at ${heapMb} MB)`);
  for (const o of outcomes) console.log(`  ${o.table.padEnd(22)} ${fmt(o.rowsRead).padStart(11)} rows  ${String(o.chunks).padStart(4)} chunks  ${seconds(o.durationMs).padStart(8)}  careful chunks ${o.carefulChunks}`);
  const projectedH = LIVE_ROWS / oursRps / 3600;
  console.log(`projected for ${fmt(LIVE_ROWS)} rows at this rate: ${projectedH.toFixed(2)} h (ceiling ${(LIVE_ROWS / ceilingRps / 3600).toFixed(2)} h)`);
  console.log(
    `bench:migrate rows=${oursRead} ours_rps=${Math.round(oursRps)} ceiling_ratio=${(oursRps / ceilingRps).toFixed(2)} pgloader_ratio=${(oursRps / pgloaderRps).toFixed(2)} peak_rss_mb=${peakRssMb.toFixed(0)}`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
