import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { withClient } from '../../lib/db';
import { registerTarget } from '../../lib/target-guard';
import { PlanInput, planStateQuery, rebaselineItemSignal, signOffItemSignal } from '../../workflows/plan-messages';
import { chinaDay, DAY_MS, PlanProgress } from '../../workflows/plan-progress';
import { close, listen, recordingServer } from '../support/loopback';
import { eventually, TestStack } from '../support/stack';

/**
 * The project plan on the real Temporal server, with the real worker process, API and PostgreSQL:
 * a small plan (the shipped one's shape) whose T0 lies 15 days back, so some items are overdue at once.
 * Notifications go to a webhook served on 127.0.0.1 by the test; the network flow probed is a
 * port the test listens on.
 */
const day = (offset: number) => chinaDay(new Date(Date.now() + offset * DAY_MS).toISOString());
const T0 = day(-15);

const testPlan = {
  name: { zh: '测试计划', en: 'Test plan' },
  remindBeforeDays: 3,
  retryAutomatedAfterHours: 24,
  reportEveryDays: 7,
  packages: [
    { id: 'kickoff', title: { zh: '项目启动', en: 'Kickoff' }, items: [item('kickoff', 'approver', [], 5)] },
    {
      id: 'environment',
      title: { zh: '系统运行环境搭建', en: 'Runtime environment' },
      items: [item('network-request', 'operator', ['kickoff'], 10), { ...item('network-check', 'operator', ['network-request'], 12), completion: { kind: 'automated', run: 'network-policy-check' } }],
    },
    { id: 'migration', title: { zh: '数据迁移', en: 'Data migration' }, items: [{ ...item('rehearsal', 'operator', ['network-check'], 17), completion: { kind: 'automated', run: 'cutover-rehearsal' } }] },
    { id: 'training', title: { zh: '系统培训', en: 'Training' }, items: [item('training', 'operator', ['kickoff'], 200)] },
    { id: 'go-live', title: { zh: '系统上线', en: 'Go-live' }, items: [item('acceptance', 'approver', ['rehearsal', 'training'], 210)] },
  ],
  milestones: [
    { id: 'start', title: { zh: '启动', en: 'Start' }, dueOffsetDays: 7, deliverable: '项目实施方案', items: ['kickoff'] },
    { id: 'acceptance', title: { zh: '项目验收', en: 'Acceptance' }, dueOffsetDays: 210, deliverable: '验收报告', items: ['acceptance'] },
  ],
};

function item(id: string, ownerRole: string, dependsOn: string[], dueOffsetDays: number) {
  return { id, title: { zh: `事项${id}`, en: `Item ${id}` }, ownerRole, dependsOn, dueOffsetDays, deliverable: `${id} done`, completion: { kind: 'signoff' } };
}

describe('project plan 项目计划 (API → Temporal → worker)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-plan-'));
  const flowServer = net.createServer((s) => s.end());
  let hook: Awaited<ReturnType<typeof recordingServer>>;
  let stack: TestStack;
  let operator: string;
  let approver: string;
  const planA = () => `plan-${stack.id}-a`;

  const received = (workflowId: string) =>
    hook.received.map((r) => ({ key: r.headers['idempotency-key'] as string, ...JSON.parse(r.body) })).filter((n) => n.workflowId === workflowId);
  const progressOf = async (workflowId: string) => (await stack.http('GET', `/plans/${workflowId}`, approver)).body as PlanProgress & { execution: string };
  const itemOf = (p: PlanProgress, id: string) => p.items.find((i) => i.id === id)!;

  beforeAll(async () => {
    hook = await recordingServer();
    const flowPort = await listen(flowServer);
    const file = (name: string, value: unknown) => {
      fs.writeFileSync(path.join(dir, name), JSON.stringify(value));
      return path.join(dir, name);
    };
    stack = new TestStack({
      PLAN_FILE: file('plan.json', testPlan),
      NETWORK_FLOWS_FILE: file('flows.json', { timeoutMs: 2000, flows: [{ name: 'city-app-to-db', description: '应用至数据库 App to DB', host: '127.0.0.1', port: flowPort, side: 'city' }] }),
      NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${hook.port}/notify`,
      REPORTS_DIR: path.join(dir, 'reports'),
    });
    await stack.start();
    await withClient(stack.settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities: 300, seed: 11, anomalyRate: 0.02 }));
    // The rehearsal child cutover wipes the target: only a registered one.
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack.stop();
    await close(hook.server);
    await close(flowServer);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('escalates the overdue items at once when T0 lies in the past, and reminds of the one due soon', async () => {
    const started = await stack.http('POST', '/plans', operator, { t0: T0, planId: `${stack.id}-a` });
    expect(started.status).toBe(201);
    expect(started.body.workflowId).toBe(planA());

    const sent = await eventually(async () => (received(planA()).length >= 5 ? received(planA()) : undefined), 'the first notifications');
    expect(sent.map((n) => `${n.kind} ${n.subject.match(/\((.+)\)$/)?.[1] ?? n.subject}`).sort()).toEqual(
      ['escalation kickoff', 'escalation network-check', 'escalation network-request', 'milestone-late 里程碑逾期 Milestone late: 启动 Start', 'reminder rehearsal'].sort(),
    );
    const kickoff = sent.find((n) => n.subject.includes('(kickoff)'))!;
    expect(kickoff).toMatchObject({ ownerRole: 'approver', waitingFor: 'approver 签字 sign-off', planId: `${stack.id}-a` });
    expect(kickoff.key).toBe(`${planA()}:escalation:kickoff:${kickoff.dueAt}`);

    const p = await progressOf(planA());
    expect(p.percent).toBe(0);
    expect(p.late.map((i) => [i.id, i.daysLate, i.waitingFor])).toEqual([
      ['kickoff', 10, 'approver 签字 sign-off'],
      ['network-request', 5, '依赖 dependencies: kickoff (approver sign-off)'],
      ['network-check', 3, '依赖 dependencies: network-request (operator sign-off)'],
    ]);
    expect(p.milestones.map((m) => [m.id, m.status])).toEqual([
      ['start', 'late'],
      ['acceptance', 'pending'],
    ]);
    expect(p.packages.find((k) => k.id === 'environment')).toMatchObject({ done: 0, total: 2, percent: 0 });

    // The plan is a run like the others: listed across kinds, and its ready sign-offs wait in "pending approvals".
    const listed = (await stack.http('GET', '/runs?kind=plan', operator)).body.runs;
    expect(listed).toEqual([expect.objectContaining({ kind: 'plan', workflowId: planA(), status: 'running', requestedBy: 'olivia.ops', href: `/plans/${planA()}` })]);
    const forApprover = (await stack.http('GET', '/approvals/pending', approver)).body.pending;
    expect(forApprover).toEqual([
      expect.objectContaining({ kind: 'plan', workflowId: planA(), gate: 'kickoff', gateTitle: '事项kickoff Item kickoff', decide: `/plans/${planA()}/items/kickoff/signoff` }),
    ]);
    // Operators own no ready item yet (theirs wait for the kickoff).
    expect((await stack.http('GET', '/approvals/pending', operator)).body.pending).toEqual([]);

    // The Web UI can filter plans by phase and sort by % complete.
    const desc = await stack.temporal.workflow.getHandle(planA()).describe();
    expect(desc.searchAttributes).toMatchObject({ RunbookKind: ['plan'], RunbookPhase: ['kickoff'], RunbookStatus: ['running'], RunbookProgress: [0] });

    // The first weekly report is on disk, and the API serves the same report.
    const reportDir = path.join(stack.settings.REPORTS_DIR, planA());
    await eventually(async () => fs.existsSync(path.join(reportDir, `status-${day(0)}.md`)), 'the first status report');
    expect(fs.readFileSync(path.join(reportDir, `status-${day(0)}.html`), 'utf8')).toContain('<td>事项kickoff Item kickoff</td><td>approver</td>');
    const report = await stack.http('GET', `/plans/${planA()}/reports/status.md`, operator);
    expect(report.contentType).toContain('text/markdown');
    expect(report.body).toContain('## 逾期事项 Late items');
    expect(report.body).toContain('| 事项kickoff Item kickoff | approver |');
  });

  it('refuses a sign-off by the wrong role, at the API and in the workflow', async () => {
    const byOperator = await stack.http('POST', `/plans/${planA()}/items/kickoff/signoff`, operator, { note: '我来签 I sign' });
    expect(byOperator.status).toBe(403);
    expect(byOperator.body).toMatchObject({ detail: 'role operator may not sign off "kickoff"; its owner role is approver', field: 'params.itemId' });

    // Straight to Temporal, bypassing the API: correctly signed, but for an operator.
    const claims = { workflowId: planA(), gate: 'kickoff', decision: 'signoff' as const, actor: 'olivia.ops', role: 'operator', issuedAt: new Date().toISOString() };
    const handle = stack.temporal.workflow.getHandle(planA());
    await handle.signal(signOffItemSignal, await stack.signAsApi(claims));
    await handle.signal(signOffItemSignal, { ...claims, role: 'approver', signature: '' });
    const state = await eventually(async () => {
      const s = await handle.query(planStateQuery);
      return s.decisions.length === 2 ? s : undefined;
    }, 'two refused sign-offs');
    expect(state.decisions.map((d) => [d.accepted, d.refusal]).sort()).toEqual([
      [false, 'role operator may not sign off "kickoff"; its owner role is approver'],
      [false, 'the decision is not signed (it did not come through the API)'],
    ]);
    expect(state.items.find((i) => i.id === 'kickoff')!.status).toBe('ready');

    const automated = await stack.http('POST', `/plans/${planA()}/items/network-check/signoff`, operator, {});
    expect(automated.status).toBe(409);
    const unknown = await stack.http('POST', `/plans/${planA()}/items/no-such-item/signoff`, approver, {});
    expect(unknown.status).toBe(404);
    const badDate = await stack.http('POST', `/plans/${planA()}/items/training/rebaseline`, approver, { dueDate: '2026-02-30', reason: 'vendor late' });
    expect(badDate.body).toMatchObject({ status: 400, field: 'body.dueDate' });
    const noReason = await stack.http('POST', `/plans/${planA()}/items/training/rebaseline`, approver, { dueDate: day(30) });
    expect(noReason.body).toMatchObject({ status: 400, detail: 'body.reason is required' });
    const operatorRebaseline = await stack.http('POST', `/plans/${planA()}/items/training/rebaseline`, operator, { dueDate: day(30), reason: 'vendor late' });
    expect(operatorRebaseline.status).toBe(403);
  });

  it('unblocks dependants on sign-off, runs the network check, and completes the rehearsal from its child cutover', async () => {
    const blocked = await stack.http('POST', `/plans/${planA()}/items/network-request/signoff`, operator, {});
    expect(blocked.status).toBe(409);
    expect(blocked.body.detail).toBe('item "network-request" waits for 依赖 dependencies: kickoff (approver sign-off)');

    expect((await stack.http('POST', `/plans/${planA()}/items/kickoff/signoff`, approver, { note: '方案已确认 plan accepted' })).status).toBe(202);
    const unblocked = await eventually(async () => {
      const p = await progressOf(planA());
      return itemOf(p, 'network-request').status === 'ready' ? p : undefined;
    }, 'network-request to become ready');
    expect(itemOf(unblocked, 'kickoff')).toMatchObject({ status: 'done', doneBy: 'li.approver' });
    expect(itemOf(unblocked, 'training')).toMatchObject({ status: 'ready', waitingFor: 'operator 签字 sign-off' });
    expect(itemOf(unblocked, 'network-check').status).toBe('blocked');
    // Now the operator's items wait for them, including on the plan they started themselves (sign-offs are not four-eyes gates).
    const forOperator = (await stack.http('GET', '/approvals/pending', operator)).body.pending.map((p: any) => [p.gate, p.decide]).sort();
    expect(forOperator).toEqual([
      ['network-request', `/plans/${planA()}/items/network-request/signoff`],
      ['training', `/plans/${planA()}/items/training/signoff`],
    ]);
    expect(unblocked.milestones[0].status).toBe('reached');
    await eventually(async () => received(planA()).some((n) => n.kind === 'milestone-reached'), 'the milestone-reached notification');

    expect((await stack.http('POST', `/plans/${planA()}/items/network-request/signoff`, operator, {})).status).toBe(202);
    // The network check runs by itself against the declared (loopback) flow; then the rehearsal child starts.
    const childId = `cutover-${stack.id}-a-rehearsal-1`;
    const gateOpen = (gate: string, timeoutMs?: number) =>
      eventually(async () => (await stack.http('GET', `/cutovers/${childId}`, approver)).body.gates?.find((g: { name: string }) => g.name === gate)?.status === 'open', `the rehearsal cutover at its ${gate} gate`, timeoutMs);
    await gateOpen('wipe', 90_000);
    expect((await stack.http('POST', `/cutovers/${childId}/gates/wipe/decision`, approver, { decision: 'approve' })).status).toBe(202);
    await gateOpen('go-no-go');
    const mid = await stack.temporal.workflow.getHandle(planA()).query(planStateQuery);
    const check = mid.items.find((i) => i.id === 'network-check')!;
    expect(check).toMatchObject({ status: 'done', doneBy: 'automated network-policy-check #1' });
    expect(check.runs[0]).toMatchObject({ ok: true, summary: '1/1 网络策略已通 flows open', problems: [] });
    expect(mid.items.find((i) => i.id === 'rehearsal')).toMatchObject({ status: 'running', runs: [{ attempt: 1, ref: childId }] });

    expect((await stack.http('POST', `/cutovers/${childId}/gates/go-no-go/decision`, approver, { decision: 'approve', reason: '彩排通过 rehearsal fine' })).status).toBe(202);
    await gateOpen('switch');
    expect((await stack.http('POST', `/cutovers/${childId}/gates/switch/decision`, approver, { decision: 'approve' })).status).toBe(202);
    const done = await eventually(async () => {
      const p = await progressOf(planA());
      return itemOf(p, 'rehearsal').status === 'done' ? p : undefined;
    }, 'the rehearsal item to complete from its child run');
    expect(itemOf(done, 'rehearsal').doneBy).toBe(`automated ${childId}`);
    const after = await stack.temporal.workflow.getHandle(planA()).query(planStateQuery);
    expect(after.items.find((i) => i.id === 'rehearsal')!.runs[0]).toMatchObject({ ok: true, summary: '割接 cutover completed · go/no-go approved by li.approver' });
    expect(done.percent).toBe(Math.floor((100 * 4) / 6));
  });

  it('loses nothing across a worker kill and continue-as-new: sign-offs, re-baselines, notifications sent once', async () => {
    const workflowId = `plan-${stack.id}-b`;
    const input: PlanInput = { planId: `${stack.id}-b`, t0: T0, startedBy: 'olivia.ops', continueAsNewAfterEvents: 40 };
    const first = await stack.temporal.workflow.start('plan', { workflowId, taskQueue: stack.settings.TASK_QUEUE, args: [input] });
    await eventually(async () => received(workflowId).length >= 5, 'the first notifications of plan b');

    expect((await stack.http('POST', `/plans/${workflowId}/items/kickoff/signoff`, approver, {})).status).toBe(202);
    await eventually(async () => itemOf(await progressOf(workflowId), 'training').status === 'ready', 'training to be unblocked');
    const rebaselined = await stack.http('POST', `/plans/${workflowId}/items/acceptance/rebaseline`, approver, { dueDate: day(2), reason: '省局要求提前验收 province asks for early acceptance' });
    expect(rebaselined.status).toBe(202);
    await eventually(async () => (await progressOf(workflowId)).rebaselines.length === 1, 'the re-baseline');

    // The worker dies; a sign-off arrives meanwhile (signed as the API would), and is processed once it is back.
    await stack.killWorker('SIGKILL');
    const handle = stack.temporal.workflow.getHandle(workflowId);
    await handle.signal(
      signOffItemSignal,
      await stack.signAsApi({ workflowId, gate: 'training', decision: 'signoff', actor: 'olivia.ops', role: 'operator', reason: '培训完成 trained', issuedAt: new Date().toISOString() }),
    );
    await handle.signal(
      rebaselineItemSignal,
      await stack.signAsApi({ workflowId, gate: 'rehearsal', decision: 'rebaseline', actor: 'li.approver', role: 'approver', reason: '等待网络 waiting for the network', dueDate: day(20), issuedAt: new Date().toISOString() }),
    );
    await stack.startWorker();

    const state = await eventually(async () => {
      const s = await handle.query(planStateQuery);
      return s.items.find((i) => i.id === 'training')!.status === 'done' && s.rebaselines.length === 2 && s.generation >= 1 ? s : undefined;
    }, 'the sign-off, the second re-baseline and a continue-as-new');

    // The first run continued as new; the latest run carries the whole state.
    expect((await stack.temporal.workflow.getHandle(workflowId, first.firstExecutionRunId).describe()).status.name).toBe('CONTINUED_AS_NEW');
    expect(state.items.filter((i) => i.status === 'done').map((i) => [i.id, i.doneBy])).toEqual([
      ['kickoff', 'li.approver'],
      ['training', 'olivia.ops'],
    ]);
    // The two signals sent while the worker was down are checked concurrently: their order is free.
    expect(state.rebaselines.map((r) => [r.item, chinaDay(r.to), r.by, r.reason]).sort()).toEqual([
      ['acceptance', day(2), 'li.approver', '省局要求提前验收 province asks for early acceptance'],
      ['rehearsal', day(20), 'li.approver', '等待网络 waiting for the network'],
    ]);
    expect(state.decisions.map((d) => [d.item, d.decision, d.accepted]).sort()).toEqual([
      ['acceptance', 'rebaseline', true],
      ['kickoff', 'signoff', true],
      ['rehearsal', 'rebaseline', true],
      ['training', 'signoff', true],
    ]);
    expect(state.items.find((i) => i.id === 'rehearsal')!.dueAt).toBe(new Date(Date.parse(`${day(20)}T00:00:00+08:00`)).toISOString());

    // Every notification was delivered once: none repeated by the restart or the new run; the
    // re-baselined acceptance (now due in 2 days) got its reminder.
    const sent = await eventually(async () => {
      const n = received(workflowId);
      return n.some((x) => x.kind === 'reminder' && x.subject.includes('(acceptance)')) ? n : undefined;
    }, 'the reminder for the re-baselined acceptance');
    const keys = sent.map((n) => n.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(state.notifications.map((n) => n.key).sort()).toEqual(expect.arrayContaining(keys.slice(0, 5).sort()));
    // The re-baselined rehearsal is no longer within its reminder window: no new notification for it.
    expect(sent.filter((n) => n.subject.includes('(rehearsal)')).map((n) => n.kind)).toEqual(['reminder']);
  });
});
