import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { planStateQuery } from '../../workflows/plan-messages';
import { chinaDay } from '../../workflows/plan-progress';
import type { StandbyState } from '../../workflows/standby-messages';
import { pgStandby } from '../../standby/replicas';
import { eventually, TestStack } from '../support/stack';
import { caughtUp, DR_URL, ensureStandbyEnv, PRIMARY_URL, startWriter, STANDBY_URL, TEST_LAYOUT, TEST_PORTS } from '../support/standby-env';

/**
 * The standby run kind end to end: real worker process, real API, real replicas from scripts/pg-standby.sh.
 * Setup proves streaming and schedules the check; a check under a live writer with the worker killed in the
 * middle resumes and reports consistent; a stopped standby alerts through the notification webhook, saying
 * what to do; the DR drill restores, waits for a four-eyes promote, verifies and reports RTO/RPO.
 */
let stack: TestStack;
let operator: string;
let approver: string;
const notifications: { subject: string }[] = [];
let hook: http.Server;

beforeAll(async () => {
  await ensureStandbyEnv();
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      notifications.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-standby-'));
  const config = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'config', 'standby.json'), 'utf8'));
  config.standby.slot = TEST_LAYOUT.slot;
  config.dr.slot = TEST_LAYOUT.drSlot;
  config.consistency.segmentRows = 200;
  config.consistency.catchUpTimeoutSeconds = 30;
  // the killed worker's segments are taken up 5 s after its last heartbeat, not 60
  config.consistency.heartbeatSeconds = 5;
  fs.writeFileSync(path.join(dir, 'standby.json'), JSON.stringify(config));
  // The shipped plan's standby items, alone: replication completes from a setup run, verification from a check run.
  const planItem = (id: string, dependsOn: string[], run: string) => ({ id, title: { zh: `备点库 ${id}`, en: id }, ownerRole: 'operator', dependsOn, dueOffsetDays: 45, deliverable: id, completion: { kind: 'automated', run } });
  fs.writeFileSync(
    path.join(dir, 'plan.json'),
    JSON.stringify({
      name: { zh: '备点库计划', en: 'Standby plan' },
      remindBeforeDays: 3,
      retryAutomatedAfterHours: 24,
      reportEveryDays: 7,
      packages: [{ id: 'standby', title: { zh: '备点库配置', en: 'Standby database' }, items: [planItem('standby-replication', [], 'standby-setup'), planItem('standby-verification', ['standby-replication'], 'standby-check')] }],
      milestones: [{ id: 'standby', title: { zh: '备点库', en: 'Standby' }, dueOffsetDays: 45, deliverable: '备点库', items: ['standby-verification'] }],
    }),
  );
  stack = new TestStack({
    PLAN_FILE: path.join(dir, 'plan.json'),
    STANDBY_FILE: path.join(dir, 'standby.json'),
    STANDBY_PRIMARY_URL: PRIMARY_URL,
    STANDBY_URL,
    STANDBY_DR_URL: DR_URL,
    STANDBY_DIR: TEST_LAYOUT.dir,
    NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
  });
  await stack.start();
  await stack.startWorker();
  operator = await stack.token('alice', 'operator');
  approver = await stack.token('bob', 'approver');
}, 300_000);

afterAll(async () => {
  // A schedule outlives its workflows: delete the setup's even when an assertion failed before its own delete.
  await stack?.temporal.schedule.getHandle(`standby-check-setup-${stack.id}`).delete().catch(() => undefined);
  await stack?.temporal.schedule.getHandle(`standby-check-${stack.id}-plan-standby-replication-1`).delete().catch(() => undefined);
  await stack?.stop();
  hook?.close();
});

const state = async (id: string) => (await stack.http('GET', `/standby/${id}`, operator)).body as StandbyState & { workflowId: string };
const finished = (id: string, timeoutMs = 120_000) =>
  eventually(async () => {
    const s = await state(id);
    return ['completed', 'healthy', 'alerting', 'failed', 'rejected'].includes(s.status) && s.phase === 'finished' ? s : undefined;
  }, `${id} to finish`, timeoutMs);

it('setup records scope, frequency and paths, proves both copies stream, and schedules the check (overlap skip)', async () => {
  const res = await stack.http('POST', '/standby', operator, { action: 'setup', runId: `setup-${stack.id}`, checkEveryMinutes: 30 });
  expect(res.status).toBe(201);
  const id = res.body.workflowId as string;
  const s = await finished(id);
  expect(s.status).toBe('completed');
  expect(s.config?.scope.tables.length).toBe(8);
  expect(s.config?.frequency.checkEveryMinutes).toBe(30);
  expect(s.config?.paths.standby).toContain(`:${TEST_PORTS.standby}/`);
  expect(s.proof?.copies.map((c) => [c.copy, c.reached, c.streaming])).toEqual([
    ['standby', true, true],
    ['dr', true, true],
  ]);
  expect(s.setupActions?.join('\n')).toMatch(/left as it is/);
  const handle = stack.temporal.schedule.getHandle(s.scheduleId!);
  try {
    const d = await handle.describe();
    expect(d.policies.overlap).toBe('SKIP');
    expect(d.spec.intervals?.[0].every).toBe(30 * 60_000);
    expect(d.action.type).toBe('startWorkflow');
  } finally {
    await handle.delete();
  }
  const md = await stack.http('GET', `/standby/${id}/reports/standby-report.md`, operator);
  expect(md.status).toBe(200);
  expect(md.body).toMatch(/备份的数据内容范围/);
  expect(md.body).toMatch(/备份路径/);
});

it('a check under a live writer, its worker killed mid-way, resumes and reports consistent without alerts', async () => {
  const writer = startWriter();
  let id = '';
  try {
    const res = await stack.http('POST', '/standby', operator, { action: 'check', runId: `check-${stack.id}` });
    expect(res.status).toBe(201);
    id = res.body.workflowId;
    await eventually(async () => {
      const s = await state(id);
      return s.progress.done >= 2 && s.progress.done < s.progress.total;
    }, 'the check to be part-way through its segments');
    await stack.killWorker('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    await stack.startWorker();
    const s = await finished(id, 240_000);
    expect(s.alerts).toEqual([]);
    expect(s.status).toBe('healthy');
    expect(s.check?.consistent).toBe(true);
    expect(s.check?.segments).toBe(s.progress.total);
    expect(s.check?.tables.every((t) => t.ok && t.primaryRows > 0)).toBe(true);
    expect(s.health?.[0].streaming).toBe(true);
  } finally {
    expect(await writer.stop()).toBeGreaterThan(10);
  }
  const html = await stack.http('GET', `/standby/${id}/reports/standby-report.html`, operator);
  expect(html.status).toBe(200);
  expect(html.body).toMatch(/延迟趋势 Lag trend/);
  const json = await stack.http('GET', `/standby/${id}/reports/standby-report.json`, operator);
  expect(json.body.check.consistent).toBe(true);
}, 300_000);

it('项目计划 the plan\'s standby items complete from the runs they start: replication from a setup, verification from a check', async () => {
  const planId = `${stack.id}-plan`;
  expect((await stack.http('POST', '/plans', operator, { t0: chinaDay(new Date().toISOString()), planId })).status).toBe(201);
  const items = await eventually(
    async () => {
      const p = await stack.temporal.workflow.getHandle(`plan-${planId}`).query(planStateQuery);
      return p.items.every((i) => i.status === 'done' || i.status === 'failed') ? p.items : undefined;
    },
    'both standby items to complete',
    240_000,
  );
  const [setup, check] = ['standby-replication', 'standby-verification'].map((id) => items.find((i) => i.id === id)!);
  expect(setup).toMatchObject({ status: 'done', doneBy: `automated standby-${planId}-standby-replication-1` });
  expect(setup.runs[0]).toMatchObject({ ok: true, summary: '备点库建立 standby setup completed: standby, dr streaming', problems: [] });
  expect(check).toMatchObject({ status: 'done', doneBy: `automated standby-${planId}-standby-verification-1` });
  expect(check.runs[0].summary).toMatch(/^备点库一致性 standby check healthy: \d+ rows in \d+ segments, 0 differing$/);
  // The children are standby runs like any other, readable through the API.
  const child = await state(`standby-${planId}-standby-verification-1`);
  expect(child.check?.consistent).toBe(true);
}, 300_000);

it('a stopped standby raises the alert through the notification path, saying what to do', async () => {
  await pgStandby(TEST_LAYOUT, ['stop', 'standby']);
  try {
    const res = await stack.http('POST', '/standby', operator, { action: 'check', runId: `stopped-${stack.id}` });
    const s = await finished(res.body.workflowId);
    expect(s.status).toBe('alerting');
    expect(s.alerts.map((a) => a.kind)).toEqual(expect.arrayContaining(['not_streaming', 'standby_unreachable']));
    expect(s.check).toBeUndefined();
    const sent = notifications.filter((n) => /未在同步|不可达/.test(n.subject));
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent[0].subject).toMatch(/处置 .*(Start|start)/);
  } finally {
    await pgStandby(TEST_LAYOUT, ['start', 'standby']);
    await caughtUp(STANDBY_URL);
  }
});

it('the DR drill restores the off-site copy, promotes only on another person’s approval, verifies and reports RTO/RPO', async () => {
  const res = await stack.http('POST', '/standby', operator, { action: 'drill', runId: `drill-${stack.id}`, drillPort: TEST_PORTS.drill });
  expect(res.status).toBe(201);
  const id = res.body.workflowId as string;
  // pg_basebackup of the DR copy into a fresh instance: seconds here; on failure say where the drill stands
  await eventually(async () => (await state(id)).gates.find((g) => g.status === 'open'), 'the promote gate to open', 180_000).catch(async (err: Error) => {
    const s = await state(id).catch((e: Error) => ({ error: e.message }));
    const d = await stack.temporal.workflow.getHandle(id).describe().catch(() => undefined);
    const pending = (d?.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure yet'}`);
    const drillLog = path.join(TEST_LAYOUT.dir, `drill_${`drill-${stack.id}`.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(-12)}.log`);
    const tail = fs.existsSync(drillLog) ? fs.readFileSync(drillLog, 'utf8').slice(-2000) : '(no drill instance log)';
    throw new Error(`${err.message}\nstate: ${JSON.stringify(s).slice(0, 1500)}\npending: ${pending.join('; ')}\ndrill log: ${tail}\nworker: ${stack.workerOutput().slice(-3000)}`);
  });
  // four-eyes: the operator who started the drill cannot approve it, even holding an approver token
  const selfApprover = await stack.token('alice', 'approver');
  const refused = await stack.http('POST', `/standby/${id}/gates/promote/decision`, selfApprover, { decision: 'approve', reason: '自己批准' });
  expect(refused.status).toBe(403);
  const ok = await stack.http('POST', `/standby/${id}/gates/promote/decision`, approver, { decision: 'approve', reason: '演练 drill' });
  expect(ok.status).toBe(202);
  const s = await finished(id, 180_000);
  expect(s.status).toBe('completed');
  expect(s.drill?.rtoSeconds).toBeGreaterThan(0);
  expect(s.drill?.rtoWallSeconds).toBeGreaterThanOrEqual(s.drill!.rtoSeconds!);
  expect(s.drill?.rpoBytes).toBeGreaterThanOrEqual(0);
  expect(s.drill?.restorePoint).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  expect(s.drill?.verify?.consistent).toBe(true);
  expect(s.drill?.verify?.catchUp.promoted).toBe(true);
  expect(s.decisions.filter((d) => d.accepted).map((d) => d.actor)).toEqual(['bob']);
  expect((await pgStandby(TEST_LAYOUT, ['status'])).stdout).not.toMatch(/^drill_/m);
  const md = await stack.http('GET', `/standby/${id}/reports/standby-report.md`, operator);
  expect(md.body).toMatch(/RTO/);
  expect(md.body).toMatch(/RPO/);
}, 300_000);
