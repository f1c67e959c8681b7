import { withClient } from '../../lib/db';
import { registerTarget } from '../../lib/target-guard';
import type { CutoverState } from '../../workflows/cutover-messages';
import { eventually, TestStack } from '../support/stack';

/**
 * 连接中断 Every connection can drop: backends of the legacy, target and runbook databases are
 * terminated (pg_terminate_backend, as a restart, a failover or a network blip would end them) again
 * and again during a migration, a verification and a storm of API requests, against the real worker
 * process and the real API process. Both processes must stay up, the run must complete, and every
 * legacy row must be in the target or held in quarantine with a reason.
 */
describe('dropped database connections 数据库连接中断', () => {
  const stack = new TestStack();
  let operator: string;
  let approver: string;
  let legacyRows: number;

  beforeAll(async () => {
    await stack.start();
    const stats = await stack.seedLegacy(4000, 11);
    legacyRows = Object.values(stats).reduce((a, t) => a + t.rows, 0);
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    await stack.startWorker();
  });
  afterAll(() => stack.stop());

  /** Ends every session of this stack's three databases but ours (never anybody else's database). */
  async function terminateBackends(): Promise<number> {
    const s = stack.settings;
    const names = [s.LEGACY_DATABASE_URL, s.TARGET_DATABASE_URL, s.RUNBOOK_DATABASE_URL].map((u) => decodeURIComponent(new URL(u).pathname.slice(1)));
    const admin = new URL(s.LEGACY_DATABASE_URL);
    admin.pathname = '/postgres';
    return withClient(admin.toString(), async (c) => {
      const r = await c.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()`, [names]);
      return r.rows[0].n as number;
    });
  }

  it('terminated backends during migration, verification and an API storm: both processes stay up and the run completes whole', async () => {
    const api = await stack.startApiProcess();
    const call = (method: string, url: string, token: string, body?: unknown) => stack.http(method, url, token, body, {}, api.baseUrl);
    const started = await call('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-drops`, migration: { rowsPerChunk: 1000 } });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    await eventually(async () => (await call('GET', `/cutovers/${id}`, approver)).body.status === 'waiting_approval', 'the wipe gate', 90_000);
    expect((await call('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'approve', reason: '清除 ok' })).status).toBe(202);

    // Until the run reaches its go/no-go gate: kill every session of the three databases every 400 ms
    // while 8 callers read the run through the API without pause.
    let terminated = 0;
    const phases = new Set<string>();
    const statuses: Record<number, number> = {};
    let done = false;
    const storm = Array.from({ length: 8 }, async () => {
      while (!done) {
        const r = await call('GET', `/cutovers/${id}`, approver).catch(() => ({ status: 0, body: {}, headers: new Headers() }));
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 200) phases.add(r.body.phase);
        if (r.status === 503) expect(r.headers.get('retry-after')).toBe('5');
      }
    });
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      terminated += await terminateBackends();
      const s = await call('GET', `/cutovers/${id}`, approver).catch(() => undefined);
      if (s?.status === 200 && (s.body as CutoverState).phase === 'go-no-go') break;
      await new Promise((r) => setTimeout(r, 400));
    }
    done = true;
    await Promise.all(storm);

    // a process that died says why: the last of what it printed
    if (!stack.workerAlive()) console.error(`the worker exited:\n${stack.workerOutput().slice(-6000)}`);
    expect(stack.workerAlive()).toBe(true);
    expect(api.alive()).toBe(true);
    expect(terminated).toBeGreaterThan(10);
    expect([...phases]).toEqual(expect.arrayContaining(['migrate', 'verify']));
    // A request whose session was ended is told to come back (503), never left with a bare 500.
    expect(statuses[500] ?? 0).toBe(0);
    expect(statuses[200]).toBeGreaterThan(0);

    const atGate = (await call('GET', `/cutovers/${id}`, approver)).body as CutoverState;
    expect(atGate.phase).toBe('go-no-go');
    expect(['passed', 'incomplete']).toContain(atGate.verification?.verdict);
    // Nothing lost: per table, legacy rows = loaded + quarantined, and the target holds what was loaded.
    const loaded = atGate.tables.reduce((n, t) => n + t.rowsLoaded, 0);
    const held = atGate.tables.reduce((n, t) => n + t.rowsQuarantined, 0);
    expect(loaded + held).toBe(legacyRows);
    expect(atGate.tables.every((t) => t.countsReconciled)).toBe(true);

    expect((await call('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'approve', reason: '通过 go' })).status).toBe(202);
    await eventually(async () => (await call('GET', `/cutovers/${id}`, approver)).body.phase === 'gate-switch', 'the switch gate', 120_000);
    expect((await call('POST', `/cutovers/${id}/gates/switch/decision`, approver, { decision: 'approve', reason: '切换 switch' })).status).toBe(202);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');
    // a process that died says why: the last of what it printed
    if (!stack.workerAlive()) console.error(`the worker exited:\n${stack.workerOutput().slice(-6000)}`);
    expect(stack.workerAlive()).toBe(true);
    expect(api.alive()).toBe(true);
    expect(stack.workerOutput()).not.toMatch(/Unhandled 'error' event/);
    // Its own loops allow 240 s to the gate and 120 s to the switch: jest must not end it sooner and leave the storm
    // running into the next suites (on a loaded machine it then met other servers on the API's old port).
  }, 480_000);
});
