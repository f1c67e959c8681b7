import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { PlanDecisionKind, planStateQuery, rebaselineItemSignal, signOffItemSignal } from '../../workflows/plan-messages';
import { chinaDay, DAY_MS } from '../../workflows/plan-progress';
import { close, recordingServer } from './loopback';
import { eventually, TestStack } from './stack';

/**
 * Records the fixture test/fixtures/plan-history-signals.json: a project plan on the real stack that takes
 * every kind of signed request the plan's handlers judge — an accepted sign-off, one by the wrong role, an
 * unsigned one, a malformed payload, a replayed one, a refused and an accepted re-baseline, a sign-off of an
 * item already done — then is terminated and its history written (the client's fetchHistory(), JSON).
 * Run with the workflow code whose behaviour the replay test must keep:
 *   node --import tsx test/support/record-plan-history.ts test/fixtures/plan-history-signals.json
 */
const day = (offset: number) => chinaDay(new Date(Date.now() + offset * DAY_MS).toISOString());
const item = (id: string, ownerRole: string, dependsOn: string[], dueOffsetDays: number) => ({
  id, title: { zh: `事项${id}`, en: `Item ${id}` }, ownerRole, dependsOn, dueOffsetDays, deliverable: `${id} done`, completion: { kind: 'signoff' },
});
const plan = {
  name: { zh: '回放计划', en: 'Replay plan' },
  remindBeforeDays: 3,
  retryAutomatedAfterHours: 24,
  reportEveryDays: 7,
  packages: [
    { id: 'kickoff', title: { zh: '项目启动', en: 'Kickoff' }, items: [item('kickoff', 'approver', [], 5)] },
    { id: 'training', title: { zh: '系统培训', en: 'Training' }, items: [item('training', 'operator', ['kickoff'], 60)] },
  ],
  milestones: [{ id: 'start', title: { zh: '启动', en: 'Start' }, dueOffsetDays: 7, deliverable: '项目实施方案', items: ['kickoff'] }],
};

async function main() {
  const out = process.argv[2];
  if (!out) throw new Error('usage: record-plan-history.ts <out.json>');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-plan-record-'));
  fs.writeFileSync(path.join(dir, 'plan.json'), JSON.stringify(plan));
  const hook = await recordingServer();
  const stack = new TestStack({ PLAN_FILE: path.join(dir, 'plan.json'), NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${hook.port}/notify`, REPORTS_DIR: path.join(dir, 'reports') });
  try {
    await stack.start();
    await stack.startWorker();
    const operator = await stack.token('olivia.ops', 'operator');
    const started = await stack.http('POST', '/plans', operator, { t0: day(-1), planId: `${stack.id}-replay` });
    if (started.status !== 201) throw new Error(`plan start: ${started.status} ${JSON.stringify(started.body)}`);
    const workflowId = started.body.workflowId as string;
    const handle = stack.temporal.workflow.getHandle(workflowId);
    const signed = (gate: string, decision: PlanDecisionKind, actor: string, role: string, extra: { reason?: string; dueDate?: string } = {}) =>
      stack.signAsApi({ workflowId, gate, decision, actor, role, issuedAt: new Date().toISOString(), ...extra });
    const sent: unknown[] = [];
    const send = async (signal: typeof signOffItemSignal, payload: unknown) => {
      sent.push(payload);
      await handle.signal(signal, payload as never);
      await eventually(async () => ((await handle.query(planStateQuery)).decisions.length >= sent.length ? true : undefined), `decision ${sent.length} recorded`);
    };
    await send(signOffItemSignal, await signed('kickoff', 'signoff', 'olivia.ops', 'operator')); // wrong role
    await send(signOffItemSignal, { ...(await signed('kickoff', 'signoff', 'li.approver', 'approver')), signature: '' }); // unsigned
    await send(signOffItemSignal, 42); // malformed
    const ok = await signed('kickoff', 'signoff', 'li.approver', 'approver', { reason: '启动会已开 kickoff held' });
    await send(signOffItemSignal, ok); // accepted
    await send(signOffItemSignal, ok); // replayed nonce
    await send(rebaselineItemSignal, await signed('training', 'rebaseline', 'olivia.ops', 'operator', { dueDate: day(90), reason: 'vendor late' })); // wrong role
    await send(rebaselineItemSignal, await signed('training', 'rebaseline', 'li.approver', 'approver', { dueDate: day(90), reason: '讲师延期 trainer late' })); // accepted
    await send(signOffItemSignal, await signed('kickoff', 'signoff', 'li.approver', 'approver')); // already done
    const state = await handle.query(planStateQuery);
    console.log(JSON.stringify(state.decisions.map((d) => [d.item, d.decision, d.accepted, d.refusal])));
    await handle.terminate('fixture recorded');
    const history = await handle.fetchHistory();
    fs.writeFileSync(out, JSON.stringify(temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String })));
    console.log(`${workflowId}: ${history.events?.length} events → ${out}`);
  } finally {
    await stack.stop();
    await close(hook.server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
