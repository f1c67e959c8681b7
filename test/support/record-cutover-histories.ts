import path from 'node:path';
import { registerTarget } from '../../lib/target-guard';
import { CutoverState, decideGateSignal } from '../../workflows/cutover-messages';
import { recordOnStack, saveHistory } from './recording';
import { eventually } from './stack';

/**
 * Records the fixtures of the cutover's own machinery on today's code paths (every patch in force), which the
 * older cutover fixtures (recorded before the patches) never reach — the step runner with the operator's
 * choices, the gates with escalation and a refused decision, the fallback, a cancellation:
 *   - cutover-history-choices.json: the wipe gate escalates, a four-eyes refusal, an approval; the wipe fails
 *     (target not registered), the operator retries, it fails again, the operator continues with a reason; the
 *     go/no-go is rejected and the fallback child runs (its history: fallback-history-choices.json);
 *   - cutover-history-complete.json: every gate approved, the run completes with its evidence pack;
 *   - cutover-history-cancelled.json: cancelled through the API while its wipe gate is open.
 * Run with the workflow code whose command sequences the replays must keep:
 *   node --import tsx test/support/record-cutover-histories.ts test/fixtures
 */
recordOnStack('record-cutover-histories.ts', async (stack, operator, out) => {
  const approver = await stack.token('li.approver', 'approver');
  const get = async (id: string) => (await stack.http('GET', `/cutovers/${id}`, operator)).body as CutoverState;
  const until = (id: string, what: string, ok: (s: CutoverState) => boolean) => eventually(async () => ((s) => (ok(s) ? s : undefined))(await get(id)), `${id}: ${what}`, 180_000);
  const call = async (method: string, url: string, token: string, body: unknown, status: number) => {
    const r = await stack.http(method, url, token, body);
    if (r.status !== status) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  const decide = (id: string, gate: string, decision: 'approve' | 'reject', reason: string) => call('POST', `/cutovers/${id}/gates/${gate}/decision`, approver, { decision, reason }, 202);
  const start = async (runId: string, extra: object = {}) => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId, ...extra });
    if (started.status !== 201) throw new Error(`starting ${runId}: ${started.status} ${JSON.stringify(started.body)}`);
    return started.body.workflowId as string;
  };

  // 1. choices: the target is not registered yet, so the wipe refuses.
  const a = await start(`${stack.id}-choices`, { gates: { wipe: { escalateAfterMinutes: 0.02 } } });
  await until(a, 'the wipe gate to escalate', (s) => (s.gates.find((g) => g.name === 'wipe')?.escalations ?? 0) >= 1);
  const claims = { workflowId: a, gate: 'wipe', decision: 'approve' as const, role: 'approver', issuedAt: new Date().toISOString() };
  await stack.temporal.workflow.getHandle(a).signal(decideGateSignal, await stack.signAsApi({ ...claims, actor: 'olivia.ops' }));
  await until(a, 'the four-eyes refusal', (s) => s.decisions.length === 1);
  await decide(a, 'wipe', 'approve', '测试数据可清除 test data may go');
  await until(a, 'the refused wipe', (s) => s.pendingFailure?.step === 'wipe');
  await call('POST', `/cutovers/${a}/steps/wipe/action`, operator, { action: 'retry' }, 202);
  await until(a, 'the wipe refused again', (s) => s.pendingFailure?.step === 'wipe' && s.operatorActions.length === 1);
  await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup', stack.settings.TARGET_DIALECT);
  await call('POST', `/cutovers/${a}/steps/wipe/action`, operator, { action: 'continue', reason: '目标库已手工清空 emptied by hand' }, 202);
  await until(a, 'the go/no-go gate', (s) => s.gates.find((g) => g.name === 'go-no-go')?.status === 'open');
  await decide(a, 'go-no-go', 'reject', '彩排结束 rehearsal over');
  const ra = (await stack.temporal.workflow.getHandle(a).result()) as CutoverState;
  console.log(`${a}: ${ra.status}, fallback ${ra.fallback?.status}, steps ${ra.steps.map((s) => `${s.key}:${s.status}`).join(' ')}`);
  if (ra.status !== 'rejected' || ra.fallback?.status !== 'completed') throw new Error(`${a} ended ${ra.status}, fallback ${ra.fallback?.status}`);
  await saveHistory(stack.temporal, a, path.join(out, 'cutover-history-choices.json'));
  await saveHistory(stack.temporal, ra.fallback!.workflowId, path.join(out, 'fallback-history-choices.json'));

  // 2. complete: every gate approved.
  const b = await start(`${stack.id}-complete`);
  for (const gate of ['wipe', 'go-no-go', 'switch']) {
    await until(b, `the ${gate} gate`, (s) => s.gates.find((g) => g.name === gate)?.status === 'open');
    await decide(b, gate, 'approve', `${gate} ok`);
  }
  const rb = (await stack.temporal.workflow.getHandle(b).result()) as CutoverState;
  console.log(`${b}: ${rb.status}, steps ${rb.steps.map((s) => `${s.key}:${s.status}`).join(' ')}`);
  if (rb.status !== 'completed') throw new Error(`${b} ended ${rb.status}: ${rb.failure}`);
  await saveHistory(stack.temporal, b, path.join(out, 'cutover-history-complete.json'));

  // 3. cancelled at its wipe gate.
  const c = await start(`${stack.id}-cancelled`);
  await until(c, 'the wipe gate', (s) => s.gates.find((g) => g.name === 'wipe')?.status === 'open');
  await call('POST', `/cutovers/${c}/cancel`, operator, { reason: '彩排取消 rehearsal called off' }, 202);
  await stack.temporal.workflow.getHandle(c).result().then(
    () => { throw new Error(`${c} was not cancelled`); },
    (err: Error) => console.log(`${c}: ${err.name} ${err.message}`),
  );
  await saveHistory(stack.temporal, c, path.join(out, 'cutover-history-cancelled.json'));
});
