import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadLegacyDataset, ROWS_PER_ENTITY } from '../datagen/legacy-generator';
import { RunningProcess, settingsEnv, startEntryPoint } from '../lib/child-process';
import { dropDatabase, ensureDatabase, quoteIdent, withClient } from '../lib/db';
import { ensureRunbookSchema, issueToken } from '../lib/runbook-db';
import { loadSettings, repoRoot } from '../lib/settings';
import { registerTarget } from '../lib/target-guard';
import { keyColumn, loadMapping } from '../migration/mapping';
import type { CutoverState } from '../workflows/cutover-messages';

/**
 * npm run drill:faults — 故障演练 the fault drill. On a stack of its own (its own Temporal dev server on
 * other ports with its own state directory, its own three databases, a real worker and API process), it
 * runs rehearsal cutovers of a ≥200k-row registry several times in a row and, at random steps of each (FAULT_STEPS),
 * kills the worker (and starts it again, as a supervisor would), restarts Temporal, and terminates every
 * session of the legacy, target and runbook databases. A step that still fails after its retries gets
 * the operator's "retry", as a person on duty would choose. Per drill it prints whether the run
 * completed, rows lost and duplicated (legacy vs target + quarantine, key by key), and the minutes each
 * fault took to recover from; the last line sums up.
 *
 *   npm run drill:faults -- [--runs 3] [--rows 200000] [--faults 3] [--temporal-port 7433] [--keep]
 *
 * The shared Temporal server (7233) and other databases are never touched.
 */
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? dflt : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} expects a positive whole number, got "${process.argv[i + 1]}"`);
  return v;
};
const RUNS = arg('runs', 3);
const ROWS = arg('rows', 200_000);
const FAULTS = arg('faults', 3);
const TEMPORAL_PORT = arg('temporal-port', 7433);
const KEEP = process.argv.includes('--keep');
const server = process.env.DRILL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const temporalEnv = { ...process.env, TEMPORAL_PORT: String(TEMPORAL_PORT), TEMPORAL_UI_PORT: String(TEMPORAL_PORT + 1000), TEMPORAL_STATE_DIR: path.join(repoRoot, '.data', `drill-temporal-${TEMPORAL_PORT}`) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const temporalDev = (cmd: 'start' | 'stop') => execFileSync('bash', [path.join(repoRoot, 'scripts', 'temporal-dev.sh'), cmd], { env: temporalEnv, stdio: ['ignore', 'ignore', 'inherit'] });

type Fault = 'kill-worker' | 'restart-temporal' | 'terminate-backends';
/** The cutover's steps after the wipe gate, in order, its gates included (a worker may die while the run waits for approval): where a fault may land. */
const FAULT_STEPS = ['wipe', 'migrate', 'cache-flush', 'verify', 'go-no-go', 'snapshot', 'business-tests', 'rollback', 'prove-rollback', 'cache-warm', 'test-addresses', 'gate-switch', 'switch', 'evidence'] as const;
/** Where a fault is planned: any step up to the switch gate, where every run waits (for its approver), so a fault whose step went by between two looks still lands. */
const PLANNED_AT = FAULT_STEPS.indexOf('switch');

async function main(): Promise<void> {
  if (TEMPORAL_PORT === 7233) throw new Error('--temporal-port 7233 is the shared dev server; the drill restarts its server, so it needs one of its own');
  const settings = loadSettings({
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${TEMPORAL_PORT}`,
    TASK_QUEUE: `drill-${process.pid}`,
    LEGACY_DATABASE_URL: `${server}/jm_drill_legacy`,
    TARGET_DATABASE_URL: `${server}/jm_drill_target`,
    RUNBOOK_DATABASE_URL: `${server}/jm_drill_runbook`,
    BACKUP_DIR: path.join(repoRoot, '.data', 'drill', 'backups'),
    REPORTS_DIR: path.join(repoRoot, '.data', 'drill', 'reports'),
    APPROVAL_SIGNING_KEY: randomBytes(36).toString('base64url'),
    LOG_LEVEL: 'warn',
  });
  const dbs = [settings.LEGACY_DATABASE_URL, settings.TARGET_DATABASE_URL, settings.RUNBOOK_DATABASE_URL];
  const dbNames = dbs.map((u) => decodeURIComponent(new URL(u).pathname.slice(1)));
  const mapping = loadMapping(settings.MAPPING_FILE);

  temporalDev('start');
  for (const url of dbs) {
    await dropDatabase(url);
    await ensureDatabase(url);
  }
  const stats = await withClient(settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities: Math.ceil((ROWS * 1.01) / ROWS_PER_ENTITY), anomalyRate: 0.01 }));
  const legacyRows = Object.values(stats).reduce((n, t) => n + t.rows, 0);
  console.log(`· 旧库 legacy registry: ${legacyRows} rows`);
  const [operator, approver] = await withClient(settings.RUNBOOK_DATABASE_URL, async (c) => {
    await ensureRunbookSchema(c);
    return [(await issueToken(c, 'drill.operator', 'operator')).token, (await issueToken(c, 'drill.approver', 'approver')).token];
  });
  await registerTarget(settings.TARGET_DATABASE_URL, settings.LEGACY_DATABASE_URL, 'drill');

  const env = settingsEnv(settings, { API_HOST: '127.0.0.1', API_PORT: '0', LOG_LEVEL: 'warn' });
  // The worker runs as a supervisor keeps it (compose restart policy, systemd Restart=always): the drill's own
  // kills are planned; any other exit is a finding, printed with the worker's last lines, and it is started again.
  let stoppingWorker = false;
  const unplannedExits: string[] = [];
  const startWorker = async (): Promise<RunningProcess> => {
    const p = await startEntryPoint({ entry: 'worker/main.ts', env: { ...env, LOG_LEVEL: 'info' }, readyText: 'worker ready', timeoutMs: 120_000 });
    p.child.once('exit', (code, signal) => {
      if (stoppingWorker) return;
      const last = p.output().trim().split('\n').slice(-12).join('\n');
      unplannedExits.push(`${signal ?? `code ${code}`}`);
      console.error(`! 工作进程意外退出 the worker exited on its own (${signal ?? `code ${code}`}); its last lines:\n${last}`);
      void (async () => {
        for (;;) {
          await sleep(1000);
          if (stoppingWorker) return;
          try {
            worker = await startWorker();
            return;
          } catch (err) {
            console.error(`! restarting the worker failed: ${(err as Error).message.split('\n')[0]}`);
          }
        }
      })();
    });
    return p;
  };
  let worker: RunningProcess = await startWorker();
  const api = await startEntryPoint({ entry: 'api/main.ts', env: { ...env, LOG_LEVEL: 'info' }, readyText: 'api ready', timeoutMs: 120_000 });
  const port = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(api.output())?.[1];
  if (!port) throw new Error(`the API did not say where it listens:\n${api.output()}`);
  const http = async (method: string, url: string, token: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      // A request the API leaves hanging is a finding, not a reason for the drill to hang: it is given up and asked again.
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };
  const state = async (id: string): Promise<(CutoverState & { execution: string }) | undefined> => {
    const r = await http('GET', `/cutovers/${id}`, operator).catch(() => undefined);
    return r?.status === 200 ? (r.body as unknown as CutoverState & { execution: string }) : undefined;
  };
  const progressOf = (s: CutoverState) => JSON.stringify([s.phase, s.status, s.steps.map((x) => x.status), s.tables.length, s.verification?.verdict]);

  const inject = async (fault: Fault) => {
    if (fault === 'kill-worker') {
      stoppingWorker = true;
      await worker.stop('SIGKILL');
      stoppingWorker = false;
      await sleep(1000);
      worker = await startWorker(); // the supervisor's part: a dead worker is started again
    } else if (fault === 'restart-temporal') {
      temporalDev('stop');
      await sleep(1000);
      temporalDev('start');
    } else {
      await withClient(`${server}/postgres`, (c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()', [dbNames]));
    }
  };

  /** Waits for the run to move on from `before` (or end); keeps a waiting operator choice answered. */
  const recover = async (id: string, before: string, deadlineMs: number): Promise<CutoverState | undefined> => {
    while (Date.now() < deadlineMs) {
      const s = await state(id);
      if (s?.pendingFailure) {
        await http('POST', `/cutovers/${id}/steps/${s.pendingFailure.step}/action`, operator, { action: 'retry', reason: '演练 drill: retry after the fault' });
      } else if (s && (progressOf(s) !== before || s.execution !== 'RUNNING' || s.gates.some((g) => g.status === 'open'))) return s;
      await sleep(500);
    }
    return undefined;
  };

  const results: { completed: boolean; lost: number; duplicated: number; landed: number }[] = [];
  for (let i = 1; i <= RUNS; i++) {
    const runId = `drill-${Date.now().toString(36)}-${i}`;
    const started = await http('POST', '/cutovers', operator, { mode: 'rehearsal', runId });
    if (started.status !== 201) throw new Error(`starting drill ${i}: ${started.status} ${JSON.stringify(started.body)}`);
    const id = started.body.workflowId as string;
    const runStarted = Date.now();
    const deadline = runStarted + 60 * 60_000;
    // 故障点 Each fault is planned at a step of the cutover, drawn at random from the steps where the run
    // works (not its gates), and lands a random 0–1.5 s into that step — or, when that step went by between
    // two looks, at the first working step after it. Every planned fault lands: a drill with none is no drill.
    const faults: Fault[] = (['kill-worker', 'restart-temporal', 'terminate-backends'] as Fault[]).flatMap((f) => Array(Math.ceil(FAULTS / 3)).fill(f)).slice(0, FAULTS);
    faults.sort(() => Math.random() - 0.5);
    const plan = faults
      .map((fault) => ({ fault, at: Math.floor(Math.random() * PLANNED_AT) }))
      .sort((a, b) => a.at - b.at);
    const recoveries: string[] = [];
    let end: (CutoverState & { execution: string }) | undefined;
    while (Date.now() < deadline) {
      const s = await state(id);
      if (!s) {
        await sleep(250);
        continue;
      }
      if (s.execution !== 'RUNNING') {
        end = s;
        break;
      }
      if (s.pendingFailure) {
        await http('POST', `/cutovers/${id}/steps/${s.pendingFailure.step}/action`, operator, { action: 'retry', reason: '演练 drill: retry after the fault' });
        await sleep(500);
        continue;
      }
      const here = FAULT_STEPS.indexOf(s.phase as (typeof FAULT_STEPS)[number]);
      if (plan.length && here >= 0 && here >= plan[0].at) {
        const { fault } = plan.shift()!;
        await sleep(Math.random() * 1500);
        const now = (await state(id)) ?? s;
        // The step may have ended meanwhile and the run wait at a gate: the fault lands there (a worker dying while
        // the run waits for approval is a real case too); the recovery then ends when the API shows the gate again.
        const before = progressOf(now);
        const t0 = Date.now();
        await inject(fault);
        const after = await recover(id, before, deadline);
        recoveries.push(`${fault}@${now.phase} ${after ? ((Date.now() - t0) / 60_000).toFixed(2) : 'never'} min`);
        continue;
      }
      const open = s.gates.find((g) => g.status === 'open');
      if (open) {
        await http('POST', `/cutovers/${id}/gates/${open.name}/decision`, approver, { decision: 'approve', reason: '演练 drill' });
        await sleep(250);
        continue;
      }
      await sleep(200);
    }
    if (!end) throw new Error(`drill ${i}: timed out`);
    if (plan.length) recoveries.push(`${plan.length} planned fault(s) did not land: the run ended first`);

    // Nothing lost, nothing twice: per table, legacy rows = distinct target keys + quarantined; target rows = distinct keys.
    let lost = 0;
    let duplicated = 0;
    for (const t of mapping.tables) {
      const source = await withClient(settings.LEGACY_DATABASE_URL, async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${quoteIdent(t.source.table)}`)).rows[0].n as number);
      const key = quoteIdent(keyColumn(t).target);
      const target = await withClient(settings.TARGET_DATABASE_URL, async (c) => (await c.query(`SELECT count(*)::int AS n, count(DISTINCT ${key})::int AS d FROM ${quoteIdent(t.target.table)}`)).rows[0] as { n: number; d: number });
      const held = end.tables.find((x) => x.table === t.name || x.table === t.target.table)?.rowsQuarantined ?? 0;
      lost += Math.max(0, source - target.d - held);
      duplicated += target.n - target.d;
    }
    const completed = end.status === 'completed';
    const landed = recoveries.filter((r) => !r.includes('did not land')).length;
    results.push({ completed, lost, duplicated, landed });
    console.log(`drill ${i}: completed=${completed ? 'yes' : `no (${end.status}: ${end.failure ?? ''})`} rows lost=${lost} duplicated=${duplicated} faults=${landed} recovery: ${recoveries.join('; ') || 'no fault landed'} (${((Date.now() - runStarted) / 60_000).toFixed(1)} min)`);
  }

  stoppingWorker = true;
  await worker.stop('SIGTERM');
  await api.stop();
  temporalDev('stop');
  if (!KEEP) for (const url of dbs) await dropDatabase(url);
  const sum = (k: 'lost' | 'duplicated' | 'landed') => results.reduce((n, r) => n + r[k], 0);
  if (unplannedExits.length) console.log(`worker exits the drill did not cause: ${unplannedExits.length} (${unplannedExits.join(', ')}), each restarted as a supervisor would`);
  console.log(`drill:faults runs=${results.length} completed=${results.filter((r) => r.completed).length} lost=${sum('lost')} duplicated=${sum('duplicated')} faults=${sum('landed')}`);
  process.exit(results.every((r) => r.completed) && !sum('lost') && !sum('duplicated') && sum('landed') === RUNS * FAULTS ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  try {
    temporalDev('stop');
  } catch {
    /* already down */
  }
  process.exit(1);
});
