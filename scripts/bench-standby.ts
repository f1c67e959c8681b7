import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROWS_PER_ENTITY } from '../datagen/legacy-generator';
import { withClient } from '../lib/db';
import { repoRoot } from '../lib/settings';
import { loadMapping } from '../migration/mapping';
import { waitForReplay } from '../standby/consistency';
import { DIALECTS } from '../standby/dialect';
import { primaryPosition } from '../standby/health';
import { pgStandby, ReplicaLayout } from '../standby/replicas';
import { checkConsistencyInProcess } from '../standby/run-check';
import { seedMigratedRegistry } from '../standby/seed';
import { flag } from './bench-args';
import { describeBusy, sampleMachine } from './cpu-budget';

/**
 * npm run bench:standby -- [--rows N (default 1,000,000)] [--segment N] [--concurrency N] [--verify-rps N (skip running bench:verify)]
 *
 * The consistency check of the generated registry (datagen, the dataset bench:verify uses), primary vs a
 * streaming standby, both real instances made by scripts/pg-standby.sh under .data/bench-standby (ports
 * 25462-25464). In the same run, bench:verify on the same row count (its own databases on the main
 * cluster), and the ratio of the two rows/s. The check does a verification pass's work on two live servers
 * plus the catch-up wait.
 */
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const LAYOUT: ReplicaLayout = { dir: path.join(repoRoot, '.data', 'bench-standby'), primaryPort: 25462, standbyPort: 25463, drPort: 25464, slot: 'jm_bench_standby', drSlot: 'jm_bench_dr' };

function benchVerify(rows: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(repoRoot, 'dist', 'scripts', 'bench-verify.js'), '--rows', String(rows), '--prefix', 'jm_bench_standby_verify'], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`bench:verify failed: ${stderr.slice(-1000) || err.message}`));
      process.stdout.write(stdout.split('\n').map((l) => (l ? `  [bench:verify] ${l}` : l)).join('\n'));
      const m = /bench:verify rows=\d+ verify_rps=(\d+)/.exec(stdout);
      if (!m) return reject(new Error('bench:verify printed no result line'));
      resolve(Number(m[1]));
    });
  });
}

async function main() {
  const rows = flag('rows', 1_000_000);
  const segmentRows = flag('segment', 100_000);
  const concurrency = flag('concurrency', 2);
  const mapping = loadMapping(path.join(repoRoot, 'config', 'mapping.json'));
  const entities = Math.ceil(rows / ROWS_PER_ENTITY);
  const verifyGiven = process.argv.includes('--verify-rps') ? flag('verify-rps', 1) : 0;

  const up = await pgStandby(LAYOUT, ['up']);
  for (const a of up.actions) console.log(`replicas: ${a}`);
  const url = (port: number, db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const primaryUrl = url(LAYOUT.primaryPort, 'jm_bench_target');
  const standbyUrl = url(LAYOUT.standbyPort, 'jm_bench_target');
  const reuse = await withClient(url(LAYOUT.primaryPort, 'postgres'), async (c) => {
    if (!(await c.query(`SELECT 1 FROM pg_database WHERE datname = 'jm_bench_target'`)).rowCount) return false;
    return withClient(primaryUrl, async (t) => (await t.query('SELECT entities FROM bench_meta').catch(() => ({ rows: [] as { entities: number }[] }))).rows[0]?.entities === entities);
  });
  if (!reuse) {
    const t0 = Date.now();
    const loaded = await seedMigratedRegistry({ legacyUrl: url(LAYOUT.primaryPort, 'jm_bench_legacy'), targetUrl: primaryUrl, mapping, entities });
    await withClient(primaryUrl, (c) => c.query(`CREATE TABLE bench_meta (entities integer NOT NULL); INSERT INTO bench_meta VALUES (${entities})`));
    console.log(`dataset: ${fmt(loaded)} rows migrated into the primary in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else console.log('dataset: reused');

  // The standby replays what seeding wrote before the clock starts: the check's own catch-up is timed, not the seed's.
  const seeded = await withClient(primaryUrl, (c) => primaryPosition(c, DIALECTS.postgresql));
  const pre = await withClient(standbyUrl, (c) => waitForReplay(c, DIALECTS.postgresql, seeded, 600_000));
  if (!pre.reached) throw new Error(`the standby did not replay the seeded data within 10 minutes (at ${pre.replayLsn} of ${seeded})`);
  console.log(`standby: replayed the seeded data (waited ${pre.waitedMs} ms)`);

  const verifyRps = verifyGiven || (await benchVerify(rows));

  await withClient(primaryUrl, (c) => c.query('CHECKPOINT'));
  const machine = sampleMachine();
  const cpu = process.cpuUsage();
  const t0 = Date.now();
  const result = await checkConsistencyInProcess({ primaryUrl, standbyUrl, mapping, dialect: DIALECTS.postgresql, segmentRows, concurrency, recheckRounds: 3, catchUpTimeoutMs: 600_000 });
  const ms = Date.now() - t0;
  const bad = result.segments.filter((s) => !s.ok);
  const compared = result.tables.reduce((n, t) => n + t.primaryRows, 0);
  if (bad.length || !result.catchUp.reached) throw new Error(`the check of an untouched standby failed: ${bad.length} segments differ, caught up ${result.catchUp.reached}`);
  const rps = compared / (ms / 1000);
  const own = process.cpuUsage(cpu);
  console.log(`check: ${fmt(compared)} rows in ${(ms / 1000).toFixed(1)} s = ${fmt(rps)} rows/s (${result.segments.length} segments of ~${fmt(segmentRows)}, ${concurrency} lanes; caught up in ${result.catchUp.waitedMs} ms)`);
  console.log(`       machine ${describeBusy(machine, sampleMachine())}, this process ${((own.user + own.system) / 1e6).toFixed(2)} CPU-s`);
  for (const t of result.tables) console.log(`  ${t.table.padEnd(22)} ${fmt(t.primaryRows).padStart(10)} rows  ${String(t.segments).padStart(3)} segments  equal`);
  console.log(`bench:standby rows=${compared} check_rps=${Math.round(rps)} ratio_to_verify=${(rps / verifyRps).toFixed(2)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
