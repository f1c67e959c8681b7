import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Pool } from 'pg';
import { createClient } from 'redis';
import { buildApp } from '../../api/app';
import { DatasetStats, loadLegacyDataset } from '../../datagen/legacy-generator';
import { startEntryPoint, settingsEnv, RunningProcess } from '../../lib/child-process';
import { dropDatabase, ensureDatabase, resilientPool, withClient } from '../../lib/db';
import { DecisionClaims, signDecision, SignedDecision } from '../../lib/decision-signing';
import { registerTarget } from '../../lib/target-guard';
import type { CutoverState } from '../../workflows/cutover-messages';
import { appRoleUrl, ensureRunbookSchema, issueToken, Role } from '../../lib/runbook-db';
import { loadSettings, repoRoot, Settings } from '../../lib/settings';

/**
 * One isolated copy of the product for a test file: its own legacy, target and runbook databases,
 * its own task queue on the shared Temporal dev server, a real worker process, and the real API
 * listening on a loopback port. Everything it creates, it drops.
 */
const PG = process.env.TEST_PG_URL_BASE ?? 'postgres://postgres@127.0.0.1:5432';

export class TestStack {
  readonly id = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  readonly settings: Settings;
  readonly backupDir: string;
  private worker?: RunningProcess;
  private apiProcess?: RunningProcess;
  app!: FastifyInstance;
  baseUrl = '';
  temporal!: Client;
  private connection!: Connection;
  private pool!: Pool;

  /** the key prefix this stack's in-memory database config owns on the shared Redis (config/memory-db.json's shape) */
  readonly memoryDbPrefix = `${this.id}:app:`;

  /** overrides.MEMORY_DB_FILE, when given, is the memory-db config to start from (a registry of its own has its own tables to warm). */
  constructor(allOverrides: Record<string, string> = {}) {
    const { MEMORY_DB_FILE: memoryDbTemplate, ...overrides } = allOverrides;
    this.backupDir = fs.mkdtempSync(path.join(os.tmpdir(), `jm-backup-${this.id}-`));
    // The memory-db config with this stack's own prefix: tests share one Redis.
    const memoryDb = JSON.parse(fs.readFileSync(memoryDbTemplate ?? path.join(repoRoot, 'config', 'memory-db.json'), 'utf8'));
    const ownPrefix = (memoryDb.prefixes as string[])[0];
    const memoryDbFile = path.join(this.backupDir, 'memory-db.json');
    fs.writeFileSync(
      memoryDbFile,
      JSON.stringify({
        ...memoryDb,
        url: process.env.REDIS_URL ?? memoryDb.url,
        prefixes: [this.memoryDbPrefix],
        warmUp: memoryDb.warmUp.map((w: { keyPrefix: string }) => ({ ...w, keyPrefix: this.memoryDbPrefix + w.keyPrefix.slice(ownPrefix.length) })),
      }),
    );
    // The services config as shipped, but the legacy tables' quiet proof takes the shortest interval allowed
    // (1 s, not 5): every cutover a test runs waits it out; legacy-shutdown.test.ts tests the proof itself.
    const servicesFile = path.join(this.backupDir, 'services.json');
    const services = JSON.parse(fs.readFileSync(path.join(repoRoot, 'config', 'services.json'), 'utf8'));
    fs.writeFileSync(servicesFile, JSON.stringify({ ...services, legacyDatabase: { ...services.legacyDatabase, quietSeconds: 1 } }));
    this.settings = loadSettings({
      MEMORY_DB_FILE: memoryDbFile,
      SERVICES_FILE: servicesFile,
      // the workflows bundled once for the test run (global-setup.ts): a worker start does not run webpack
      WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE ?? '',
      LEGACY_DATABASE_URL: `${PG}/${this.id}_legacy`,
      TARGET_DATABASE_URL: `${PG}/${this.id}_target`,
      RUNBOOK_DATABASE_URL: `${PG}/${this.id}_runbook`,
      ARCHIVE_DATABASE_URL: `${PG}/${this.id}_archive`,
      TASK_QUEUE: `test-${this.id}`,
      BACKUP_DIR: this.backupDir,
      REPORTS_DIR: path.join(this.backupDir, 'reports'),
      LOG_LEVEL: 'warn',
      // a key of this stack's own: tests run with a real key, never the development one
      APPROVAL_SIGNING_KEY: randomBytes(32).toString('base64url'),
      ...overrides,
    });
  }

  async start(): Promise<void> {
    const s = this.settings;
    for (const url of [s.LEGACY_DATABASE_URL, s.TARGET_DATABASE_URL, s.RUNBOOK_DATABASE_URL]) await ensureDatabase(url);
    await withClient(s.RUNBOOK_DATABASE_URL, ensureRunbookSchema);
    this.connection = await Connection.connect({ address: s.TEMPORAL_ADDRESS });
    this.temporal = new Client({ connection: this.connection, namespace: s.TEMPORAL_NAMESPACE });
    // the API's pool as the application role, as api/main.ts has it: every API test runs with its limited rights
    this.pool = resilientPool({ connectionString: appRoleUrl(s.RUNBOOK_DATABASE_URL), max: 4 });
    this.app = await buildApp({
      temporal: this.temporal,
      pool: this.pool,
      taskQueue: s.TASK_QUEUE,
      uiBaseUrl: 'http://127.0.0.1:8233',
      signingKey: s.APPROVAL_SIGNING_KEY,
      reportsDir: s.REPORTS_DIR,
      logLevel: 'warn',
    });
    await this.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = this.app.server.address() as { port: number };
    this.baseUrl = `http://127.0.0.1:${addr.port}`;
  }

  /** Starts the real worker entry point (worker/main.ts) as a child process and waits until it polls. */
  async startWorker(): Promise<void> {
    this.worker = await startEntryPoint({ entry: 'worker/main.ts', env: settingsEnv(this.settings, { LOG_LEVEL: 'info' }), readyText: 'worker ready' });
  }

  /** Whether the worker process started by startWorker is still running, and what it printed. */
  workerAlive(): boolean {
    return !!this.worker && this.worker.child.exitCode === null && this.worker.child.signalCode === null;
  }
  workerOutput(): string {
    return this.worker?.output() ?? '';
  }

  /** Kills the worker process the hard way (no graceful shutdown), as a crash or an OOM kill would. */
  async killWorker(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.worker?.stop(signal);
    this.worker = undefined;
  }

  /** A generated legacy registry of n entities (with the generator's planted anomalies). */
  async seedLegacy(entities: number, seed = 7): Promise<DatasetStats> {
    return withClient(this.settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities, seed, anomalyRate: 0.02 }));
  }

  /**
   * Starts a rehearsal cutover through the API and waits until it is parked at its go/no-go gate.
   * One at a time: runs share the stack's target database, and concurrent copies into it would collide.
   */
  /**
   * Starts a rehearsal and brings it to its go/no-go gate: the target is registered and the wipe gate
   * approved by a gate keeper of the stack's own (never the starter), as ops would before the weekend.
   */
  async startCutoverAtGate(token: string, runId: string): Promise<string> {
    await registerTarget(this.settings.TARGET_DATABASE_URL, this.settings.LEGACY_DATABASE_URL, 'test-setup', this.settings.TARGET_DIALECT);
    const started = await this.http('POST', '/cutovers', token, { mode: 'rehearsal', runId });
    if (started.status !== 201) throw new Error(`starting ${runId}: ${started.status} ${JSON.stringify(started.body)}`);
    const id = started.body.workflowId as string;
    await this.approveGate(id, 'wipe', token);
    await eventually(async () => (await this.openGate(id, token)) === 'go-no-go', `${id} to reach its go/no-go gate`);
    return id;
  }

  /** Waits until `gate` is the run's open gate, then approves it as the stack's gate keeper (an approver who did not start the run). */
  async approveGate(id: string, gate: string, viewerToken: string): Promise<void> {
    this.gateKeeper ??= await this.token('gate.keeper', 'approver');
    await eventually(async () => (await this.openGate(id, viewerToken)) === gate, `${id} to reach its ${gate} gate`);
    const res = await this.http('POST', `/cutovers/${id}/gates/${gate}/decision`, this.gateKeeper, { decision: 'approve', reason: 'test setup' });
    if (res.status !== 202) throw new Error(`approving the ${gate} gate of ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  private async openGate(id: string, token: string): Promise<string | undefined> {
    return ((await this.http('GET', `/cutovers/${id}`, token)).body as CutoverState).gates.find((g) => g.status === 'open')?.name;
  }

  private gateKeeper?: string;

  /** A start signed as the API signs one (api/routes/runs/start.ts): the initiator, for this workflow id. */
  signStart(workflowId: string, actor: string, key = this.settings.APPROVAL_SIGNING_KEY): SignedDecision<'start'> {
    return signDecision({ workflowId, gate: 'start', decision: 'start', actor, role: 'operator', nonce: randomBytes(12).toString('hex'), issuedAt: new Date().toISOString() }, key);
  }

  /** Signs claims as the API would: bound to the run's Temporal run id (first of its chain), with a fresh nonce. */
  async signAsApi<D extends string>(claims: Omit<DecisionClaims<D>, 'runId' | 'nonce' | 'keyId'>, key = this.settings.APPROVAL_SIGNING_KEY): Promise<SignedDecision<D>> {
    const d = await this.temporal.workflow.getHandle(claims.workflowId).describe();
    return signDecision({ ...claims, runId: d.raw.workflowExecutionInfo?.firstRunId || d.runId, nonce: randomBytes(12).toString('hex') } as DecisionClaims<D>, key);
  }

  async token(user: string, role: Role): Promise<string> {
    return withClient(this.settings.RUNBOOK_DATABASE_URL, async (c) => (await issueToken(c, user, role)).token);
  }

  async http(
    method: string,
    url: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
    baseUrl = this.baseUrl,
  ): Promise<{ status: number; body: any; contentType: string; headers: Headers }> {
    const res = await fetch(baseUrl + url, {
      method,
      redirect: 'manual',
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: keep the text for the assertion message */
    }
    return { status: res.status, body: parsed, contentType: res.headers.get('content-type') ?? '', headers: res.headers };
  }

  /** The audit trail, oldest first. */
  async auditRows(): Promise<{ actor: string | null; action: string; run_id: string | null; request_id: string; status_code: number; outcome: string; detail: any }[]> {
    return withClient(this.settings.RUNBOOK_DATABASE_URL, async (c) => (await c.query('SELECT actor, action, run_id, request_id, status_code, outcome, detail FROM audit_log ORDER BY id')).rows);
  }

  /**
   * The real API entry point (api/main.ts) as its own process on a free loopback port, for what only a
   * process shows: its log output and its start-up. Returns its base URL and its output so far.
   */
  async startApiProcess(extraEnv: Record<string, string> = {}): Promise<{ baseUrl: string; output: () => string; stop: () => Promise<void>; alive: () => boolean }> {
    const proc = await startEntryPoint({
      entry: 'api/main.ts',
      env: settingsEnv(this.settings, { API_HOST: '127.0.0.1', API_PORT: '0', LOG_LEVEL: 'info', ...extraEnv }),
      readyText: 'api ready',
    });
    const port = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(proc.output())?.[1];
    if (!port) throw new Error(`the API process did not say where it listens:\n${proc.output()}`);
    this.apiProcess = proc;
    return { baseUrl: `http://127.0.0.1:${port}`, output: proc.output, stop: () => proc.stop(), alive: () => proc.child.exitCode === null && proc.child.signalCode === null };
  }

  /**
   * Stops everything start() and the test started, also after a start that failed half-way (each part
   * on its own: one that fails to stop must not keep the others open, or jest never exits).
   */
  async stop(): Promise<void> {
    const problems: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown> | undefined) => {
      try {
        await fn();
      } catch (err) {
        problems.push(err);
      }
    };
    await attempt(() => this.killWorker('SIGTERM'));
    await attempt(() => this.apiProcess?.stop());
    // Runs left open (a failed assertion, a run parked at a gate) would linger on the shared dev server.
    await attempt(async () => {
      if (!this.temporal) return;
      for await (const wf of this.temporal.workflow.list({ query: `TaskQueue = "${this.settings.TASK_QUEUE}" AND ExecutionStatus = "Running"` })) {
        await this.temporal.workflow.getHandle(wf.workflowId, wf.runId).terminate('test finished');
      }
    });
    await attempt(() => this.app?.close());
    await attempt(() => this.pool?.end());
    await attempt(() => this.connection?.close());
    await attempt(() => this.dropAll());
    await attempt(() => this.redis(async (r) => {
      const keys: string[] = [];
      for await (const batch of r.scanIterator({ MATCH: `${this.id}:*`, COUNT: 1000 })) keys.push(...batch);
      if (keys.length) await r.unlink(keys);
    }));
    if (problems.length) throw problems[0];
  }

  /** A client of the shared Redis the stack's memory-db config points at. */
  async redis<T>(fn: (r: SharedRedis) => Promise<T>): Promise<T> {
    const r = sharedRedis();
    r.on('error', () => undefined);
    await r.connect();
    try {
      return await fn(r);
    } finally {
      await r.quit().catch(() => undefined);
    }
  }

  private async dropAll(): Promise<void> {
    const s = this.settings;
    for (const url of [s.LEGACY_DATABASE_URL, s.TARGET_DATABASE_URL, s.RUNBOOK_DATABASE_URL, s.ARCHIVE_DATABASE_URL]) await dropDatabase(url);
    // The cutover's target snapshots (activities/target.ts) are databases of their own.
    const admin = new URL(s.TARGET_DATABASE_URL);
    admin.pathname = '/postgres';
    const snaps = await withClient(admin.toString(), (c) => c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${this.id}\\_target\\_snap\\_%`]));
    for (const { datname } of snaps.rows) {
      admin.pathname = `/${datname}`;
      await dropDatabase(admin.toString());
    }
    fs.rmSync(this.backupDir, { recursive: true, force: true, maxRetries: 2 });
  }
}

const sharedRedis = () => createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', socket: { reconnectStrategy: false } });
type SharedRedis = ReturnType<typeof sharedRedis>;

/** Polls fn until it returns a truthy value or the time runs out (then throws with the last value seen). */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 60000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}
