import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { withClient } from '../lib/db';
import type { CutoverState } from '../workflows/cutover-messages';
import { TestStack } from '../test/support/stack';

/**
 * npm run bench:api — a bounded load check of the API with a real HTTP load tool (autocannon).
 * It starts its own isolated stack (databases, task queue, worker, and the API as its own process on
 * loopback), parks a few cutovers at their go/no-go gate, then for BENCH_SECONDS drives
 *   - status polling from many clients: run state, the run list, pending approvals;
 *   - approvals from several clients at once: every approver repeats its approval with its
 *     Idempotency-Key, so each gate gets one real decision and a storm of duplicates;
 * and checks afterwards that every gate counted exactly one decision. Loopback only, bounded in
 * connections and time; the last line is `bench:api requests=N errors=N p99_ms=…`.
 */
// autocannon ships no types; this is the part of its API used here.
type Autocannon = (opts: Record<string, unknown>) => Promise<CannonResult> & {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
};
interface CannonResult {
  requests: { total: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
  duration: number;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon has no types for an import; typed by Autocannon above
const autocannon = require('autocannon') as Autocannon;

const bounded = (name: string, fallback: number, max: number) => Math.min(Math.max(1, Number(process.env[name] ?? fallback) || fallback), max);
const SECONDS = bounded('BENCH_SECONDS', 15, 60);
const POLLERS = bounded('BENCH_POLLERS', 32, 100);
const APPROVERS = bounded('BENCH_APPROVERS', 8, 32);
// 目标库租约 One cutover per target database at a time, and the stack has one target: one run is parked,
// and every approver's storm of duplicates lands on its gate (the first counts, the rest are answered from the ledger).
const RUNS = 1;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<number> {
  execFileSync('bash', [path.join(__dirname, 'temporal-dev.sh'), 'start'], { stdio: 'inherit' });
  const stack = new TestStack();
  try {
    await stack.start();
    log(`stack ${stack.id}: seeding legacy data, starting the worker and the API process`);
    await stack.seedLegacy(100);
    await stack.startWorker();
    const api = await stack.startApiProcess({ LOG_LEVEL: 'info' });
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(api.baseUrl)) throw new Error(`refusing to load anything but loopback: ${api.baseUrl}`);
    const operator = await stack.token('bench.ops', 'operator');
    const viewer = await stack.token('bench.viewer', 'viewer');
    const approvers = await Promise.all(Array.from({ length: RUNS }, (_, i) => stack.token(`bench.approver${i}`, 'approver')));

    log(`parking ${RUNS} cutovers at their go/no-go gate`);
    const runs: string[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await stack.startCutoverAtGate(operator, `${stack.id}-bench-${i}`));

    const json = { 'content-type': 'application/json' };
    const polling = [
      ...runs.map((id) => ({ method: 'GET', path: `/cutovers/${id}`, headers: { authorization: `Bearer ${viewer}` } })),
      { method: 'GET', path: '/runs?kind=cutover&pageSize=20', headers: { authorization: `Bearer ${viewer}` } },
      { method: 'GET', path: '/approvals/pending', headers: { authorization: `Bearer ${approvers[0]}` } },
    ];
    const approving = runs.map((id, i) => ({
      method: 'POST',
      path: `/cutovers/${id}/gates/go-no-go/decision`,
      headers: { ...json, authorization: `Bearer ${approvers[i]}`, 'idempotency-key': `bench-${stack.id}-${i}` },
      body: JSON.stringify({ decision: 'approve', reason: '压测 load check' }),
    }));

    log(`load: ${POLLERS} polling + ${APPROVERS} approving connections for ${SECONDS} s against ${api.baseUrl}`);
    const latencies: number[] = [];
    const run = (title: string, connections: number, requests: object[]) => {
      const instance = autocannon({ url: api.baseUrl, title, connections, duration: SECONDS, timeout: 10, requests });
      instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
      return instance;
    };
    const [poll, approve] = await Promise.all([run('status polling', POLLERS, polling), run('approvals', APPROVERS, approving)]);

    for (const r of [poll, approve]) {
      const codes = Object.entries(r.statusCodeStats).map(([c, s]) => `${c}×${s.count}`).join(' ');
      log(`${(r as unknown as { title: string }).title}: ${r.requests.total} requests, ${r.requests.average.toFixed(0)} req/s, errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx} (${codes})`);
    }

    // Correctness under load: each go/no-go gate counted exactly one decision, and each run completed
    // once its switch gate was passed too (outside the measured window).
    let wrong = 0;
    for (const id of runs) {
      await stack.approveGate(id, 'switch', viewer);
      const s = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
      const goNoGo = s.decisions.filter((d) => d.gate === 'go-no-go');
      const counted = goNoGo.filter((d) => d.accepted).length;
      if (s.status !== 'completed' || counted !== 1 || goNoGo.length !== 1) {
        wrong++;
        log(`✗ ${id}: status ${s.status}, ${goNoGo.length} go/no-go decisions received, ${counted} counted`);
      }
    }
    const ledger = await withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) => (await c.query(`SELECT count(*)::int AS n FROM gate_decision WHERE gate = 'go-no-go'`)).rows[0].n as number);
    log(`go/no-go gates: ${runs.length - wrong}/${runs.length} decided exactly once; ledger rows ${ledger} (expected ${runs.length})`);
    if (ledger !== runs.length) wrong++;

    latencies.sort((a, b) => a - b);
    const total = poll.requests.total + approve.requests.total;
    const errors = poll.errors + poll.timeouts + poll.non2xx + approve.errors + approve.timeouts + approve.non2xx + wrong;
    const seconds = Math.max(poll.duration, approve.duration);
    const [p50, p95, p99, max] = [50, 95, 99, 100].map((p) => Math.round(percentile(latencies, p) * 10) / 10);
    log(`overall: ${(total / seconds).toFixed(0)} req/s over ${seconds.toFixed(1)} s; latency p50 ${p50} ms, p95 ${p95} ms, p99 ${p99} ms, max ${max} ms`);
    process.stdout.write(`bench:api requests=${total} errors=${errors} p99_ms=${p99}\n`);
    return errors ? 1 : 0;
  } finally {
    await stack.stop();
  }
}

function log(msg: string) {
  process.stdout.write(`[bench:api] ${msg}\n`);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
