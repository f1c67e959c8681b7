import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { dropDatabase, ensureDatabase } from '../../lib/db';
import { registerTarget } from '../../lib/target-guard';
import { CutoverState, decideGateSignal, operatorActionSignal } from '../../workflows/cutover-messages';
import { fallbackActionSignal, FallbackState, fallbackStateQuery } from '../../workflows/fallback-messages';
import { planStateQuery, PlanState, rebaselineItemSignal, signOffItemSignal } from '../../workflows/plan-messages';
import { eventually, TestStack } from '../support/stack';

/**
 * Hostile callers and lasting faults against real runs (real worker process, real Temporal, real
 * PostgreSQL): malformed signals of every shape sent straight to Temporal (no key needed for that), a
 * verification whose database disappears mid-step, and a run that dies without publishing its end.
 * No message may fail a run; no failure may end a cutover without a person's choice.
 */
describe('hostile messages and lasting faults 恶意消息与持续故障', () => {
  const stack = new TestStack();
  let operator: string;
  let approver: string;

  beforeAll(async () => {
    await stack.start();
    await stack.seedLegacy(300);
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    await stack.startWorker();
  });
  afterAll(() => stack.stop());

  const huge = 'x'.repeat(200_000);
  /** Payloads a careless or hostile sender might put in a signal: none of them is a decision the run may count. */
  const handPicked = async (workflowId: string, gate: string, decision: string): Promise<unknown[]> => {
    const signed = await stack.signAsApi({ workflowId, gate, decision, actor: 'li.approver', role: 'approver', issuedAt: new Date().toISOString() });
    const validLooking = (..._: unknown[]) => ({ ...signed, nonce: Math.random().toString(36).slice(2) });
    const unknownGate = await stack.signAsApi({ workflowId, gate: 'no-such-gate-门', decision, actor: 'li.approver', role: 'approver', issuedAt: new Date().toISOString() });
    return [
    null,
    42,
    'approve',
    [],
    [validLooking(workflowId, gate, decision)],
    {},
    { gate: 123, decision: true, actor: null },
    { ...validLooking(workflowId, gate, decision), decision: 'maybe' },
    { ...validLooking(workflowId, gate, decision), reason: huge },
    { ...validLooking(workflowId, gate, decision), actor: huge },
    { ...validLooking(workflowId, gate, decision), signature: undefined },
    { ...validLooking(workflowId, gate, decision), signature: 'forged' },
    // well-formed and correctly signed, but for a gate / step / item that does not exist
    unknownGate,
    // a correctly signed decision replayed: its second use is refused
    unknownGate,
  ];
  };
  /** Random JSON values (fast-check), not shaped for the handler. */
  const randomPayloads = () => fc.sample(fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom('gate', 'decision', 'actor', 'role', 'signature', 'issuedAt', 'workflowId', 'reason'), fc.jsonValue())), { numRuns: 25, seed: 14 });

  it('a cutover: malformed decisions and operator choices are recorded refusals and the run goes on', async () => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-fuzz` });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    await eventually(async () => (await stack.http('GET', `/cutovers/${id}`, approver)).body.status === 'waiting_approval', 'the wipe gate');
    const handle = stack.temporal.workflow.getHandle(id);
    const gatePayloads = [...(await handPicked(id, 'wipe', 'approve')), ...randomPayloads()];
    const stepPayloads = [...(await handPicked(id, 'step:wipe', 'retry')), ...randomPayloads()];
    for (const p of gatePayloads) await handle.signal(decideGateSignal, p as never);
    for (const p of stepPayloads) await handle.signal(operatorActionSignal, p as never);

    const state = await eventually(async () => {
      const s = (await stack.http('GET', `/cutovers/${id}`, approver)).body as CutoverState;
      return s.decisions?.length === gatePayloads.length && s.operatorActions.length === stepPayloads.length ? s : undefined;
    }, 'every message recorded', 90_000);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect(state.status).toBe('waiting_approval');
    expect(state.gates[0].status).toBe('open');
    for (const d of [...state.decisions, ...state.operatorActions]) {
      expect(d.accepted).toBe(false);
      expect(d.refusal).toEqual(expect.any(String));
      // what is kept of a refused message is bounded, whatever was sent
      expect(JSON.stringify(d).length).toBeLessThan(2_000);
    }
    const refusals = state.decisions.map((d) => d.refusal);
    expect(refusals).toContain('malformed message 消息格式错误: expected a signed decision object, got null');
    expect(refusals).toContain('the decision signature is invalid (forged or altered)');
    expect(refusals).toContain('unknown gate "no-such-gate-门"');
    expect(refusals).toContain('the decision was already used once (replayed)');
    expect(refusals.some((r) => /^malformed message .*decision/.test(r!))).toBe(true);

    // A real decision through the API still counts after the flood.
    const ok = await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'approve', reason: 'after the flood' });
    expect(ok.status).toBe(202);
    await eventually(async () => ((await stack.http('GET', `/cutovers/${id}`, approver)).body as CutoverState).gates[0].status === 'approved', 'the wipe gate approved');
    await handle.cancel();
    await eventually(async () => (await handle.describe()).status.name !== 'RUNNING', 'the run to end');
  });

  it('a fallback and a plan: the same flood is refused and recorded, the runs stay up', async () => {
    const fb = await stack.temporal.workflow.start('fallback', {
      taskQueue: stack.settings.TASK_QUEUE,
      workflowId: `fallback-${stack.id}-fuzz`,
      // no backup exists for this run id: step 2 fails and the fallback waits for a person
      args: [{ runId: `${stack.id}-nobackup`, requestedBy: 'olivia.ops', reason: 'fuzz', start: stack.signStart(`fallback-${stack.id}-fuzz`, 'olivia.ops') }],
    });
    const plan = await stack.temporal.workflow.start('plan', {
      taskQueue: stack.settings.TASK_QUEUE,
      workflowId: `plan-${stack.id}-fuzz`,
      args: [{ planId: `${stack.id}-fuzz`, t0: new Date().toISOString().slice(0, 10), startedBy: 'olivia.ops' }],
    });
    await eventually(async () => (await fb.query(fallbackStateQuery)).status === 'waiting_operator', 'the fallback to wait for a person', 90_000);
    await eventually(async () => (await plan.query(planStateQuery)).items.length > 0, 'the plan to load');

    const fbPayloads = [...(await handPicked(fb.workflowId, 'fallback:legacy-data', 'retry')), ...randomPayloads()];
    const planPayloads = [...(await handPicked(plan.workflowId, 'kickoff', 'signoff')), ...randomPayloads()];
    for (const p of fbPayloads) await fb.signal(fallbackActionSignal, p as never);
    for (const p of planPayloads) await plan.signal(signOffItemSignal, p as never);
    for (const p of planPayloads) await plan.signal(rebaselineItemSignal, p as never);

    const fbState = await eventually(async () => {
      const s = (await fb.query(fallbackStateQuery)) as FallbackState;
      return s.decisions.length === fbPayloads.length ? s : undefined;
    }, 'every fallback message recorded', 90_000);
    const planState = await eventually(async () => {
      const s = (await plan.query(planStateQuery)) as PlanState;
      return s.decisions.length === 2 * planPayloads.length ? s : undefined;
    }, 'every plan message recorded', 90_000);
    expect(fbState.decisions.every((d) => !d.accepted && d.refusal)).toBe(true);
    expect(fbState.status).toBe('waiting_operator');
    expect(planState.decisions.every((d) => !d.accepted && d.refusal)).toBe(true);
    expect(planState.items.every((i) => i.status !== 'done')).toBe(true);
    expect((await fb.describe()).status.name).toBe('RUNNING');
    expect((await plan.describe()).status.name).toBe('RUNNING');
    // 目标库租约 The fallback holds the stack's target: ended, it releases it for the cutovers below.
    await fb.cancel();
    await eventually(async () => (await fb.describe()).status.name !== 'RUNNING', 'the fallback to end');
  });

  // A test below drops the target database mid-run; every later cutover starts with the preflight (预检), which
  // reads the target's catalog: the target comes back, registered, as after a repair.
  afterEach(async () => {
    await ensureDatabase(stack.settings.TARGET_DATABASE_URL);
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup', stack.settings.TARGET_DIALECT);
  });

  it('a verification that fails for good waits for the operator; the chosen fallback runs and the run ends with its evidence pack', async () => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-vfail` });
    const id = started.body.workflowId as string;
    await stack.approveGate(id, 'wipe', approver);
    await eventually(async () => (await stack.http('GET', `/cutovers/${id}`, approver)).body.phase === 'verify', 'the verify step', 90_000);
    // The target's database disappears mid-step: the verification's activities fail and retry; then its
    // workflow is ended for good (as an operator would stop a run that cannot succeed).
    await dropDatabase(stack.settings.TARGET_DATABASE_URL);
    const verifyRun = stack.temporal.workflow.getHandle(`${id}/verify`);
    await verifyRun.terminate('test: the verification fails for good');

    const waiting = await eventually(async () => {
      const s = (await stack.http('GET', `/cutovers/${id}`, approver)).body as CutoverState & { execution: string };
      return s.status === 'waiting_operator' ? s : undefined;
    }, 'the cutover to wait for the operator');
    expect(waiting.execution).toBe('RUNNING');
    expect(waiting.pendingFailure).toMatchObject({ step: 'verify', choices: ['retry', 'fallback'] });
    expect(waiting.steps.find((s) => s.key === 'verify')?.status).toBe('failed');

    const chose = await stack.http('POST', `/cutovers/${id}/steps/verify/action`, operator, { action: 'fallback', reason: '目标库不可用 target gone' });
    expect(chose.status).toBe(202);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('fell_back');
    expect(result.fallback).toMatchObject({ workflowId: `fallback-${stack.id}-vfail`, status: 'completed' });
    expect(result.evidence?.markdown).toEqual(expect.any(String));
    expect(result.operatorActions.filter((a) => a.accepted)).toEqual([expect.objectContaining({ gate: 'step:verify', decision: 'fallback', actor: 'olivia.ops' })]);
    // The fallback ran with the target gone: under its parent's lease, which needs no target connection.
    expect(((await stack.temporal.workflow.getHandle(`fallback-${stack.id}-vfail`).result()) as FallbackState).targetLease).toMatchObject({ how: 'shared with parent' });
    // The fault is over: the target database is back for the runs below (a cutover refuses to start on a
    // target that does not exist: its lease names the target by the database's own identity).
    await ensureDatabase(stack.settings.TARGET_DATABASE_URL);
  });

  it('a fallback child that fails for good waits for the operator too; "continue" ends the run with its evidence pack', async () => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-fbfail` });
    const id = started.body.workflowId as string;
    const waitingWipe = await eventually(async () => {
      const s = (await stack.http('GET', `/cutovers/${id}`, approver)).body as CutoverState;
      return s.status === 'waiting_approval' ? s : undefined;
    }, 'the wipe gate');
    // The backup the fallback checks the legacy data against disappears: its step 2 fails and it waits for a person.
    fs.rmSync(path.dirname(waitingWipe.backup!.dir), { recursive: true, force: true });
    expect((await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'reject', reason: '演练 drill' })).status).toBe(202);
    const fb = stack.temporal.workflow.getHandle(`fallback-${stack.id}-fbfail`);
    await eventually(async () => (await fb.query(fallbackStateQuery)).status === 'waiting_operator', 'the fallback to wait', 90_000);
    // ... and is ended for good: the cutover must not fail with it.
    await fb.terminate('test: the fallback fails for good');
    const waiting = await eventually(async () => {
      const s = (await stack.http('GET', `/cutovers/${id}`, approver)).body as CutoverState & { execution: string };
      return s.status === 'waiting_operator' ? s : undefined;
    }, 'the cutover to wait for the operator');
    expect(waiting.execution).toBe('RUNNING');
    expect(waiting.pendingFailure).toMatchObject({ step: 'fallback', choices: ['retry', 'continue'] });
    expect((await stack.http('POST', `/cutovers/${id}/steps/fallback/action`, operator, { action: 'continue', reason: '人工回退 fallback done by hand' })).status).toBe(202);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('rejected');
    expect(result.fallback?.status).toBe('failed; olivia.ops ended the run without it: 人工回退 fallback done by hand');
    expect(result.evidence?.markdown).toEqual(expect.any(String));
  });

  it('a run that died without publishing its end is never shown as running', async () => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-dead` });
    const id = started.body.workflowId as string;
    await eventually(async () => (await stack.http('GET', `/cutovers/${id}`, approver)).body.status === 'waiting_approval', 'the wipe gate');
    await stack.temporal.workflow.getHandle(id).terminate('test: the run dies');
    const detail = await stack.http('GET', `/cutovers/${id}`, approver);
    expect(detail.body).toMatchObject({ execution: 'TERMINATED', status: 'failed' });
    const listed = await eventually(async () => {
      const r = await stack.http('GET', '/runs?kind=cutover&status=failed', approver);
      return r.body.runs?.find((x: { workflowId: string }) => x.workflowId === id);
    }, 'the run in the failed list');
    expect(listed.status).toBe('failed');
    const asRunning = await stack.http('GET', '/runs?kind=cutover&status=waiting_approval', approver);
    expect(asRunning.body.runs.map((x: { workflowId: string }) => x.workflowId)).not.toContain(id);
  });
});
