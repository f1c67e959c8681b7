import { randomBytes } from 'node:crypto';
import { decideGateSignal } from '../../workflows/cutover-messages';
import { StandbyState, standbyStateQuery } from '../../workflows/standby-messages';
import { fakeActivityWorker } from '../support/fake-activities';
import { eventually } from '../support/stack';

/**
 * 容灾演练审批 The standby drill's decision logic in isolation: the workflow on the real Temporal server (a
 * TestWorkflowEnvironment on the running dev server), its activities fakes in this process — a restore that
 * returns at once, a signature check that accepts only the signature "valid", three segments that agree.
 * Its promote gate goes through the runbook kit (workflows/kit/decisions.ts): every bad message is a recorded
 * refusal with its reason, the initiator cannot decide (four-eyes), and one approval by another approver opens it.
 */
describe('standby drill gate 容灾演练提升审批 (workflow with fake activities)', () => {
  const segmentsChecked: string[] = [];
  const agree = (table: string, id: string) => ({ table, segmentId: id, keyFrom: null, keyTo: null, primaryRows: 10, standbyRows: 10, primarySha256: 'x', standbySha256: 'x', ok: true, clearedOnRecheck: false, recheckRounds: 0, differenceTotals: {}, differences: [], durationMs: 1 });
  const run = fakeActivityWorker('standby-gate', {
    verifyDecision: async ({ decision }: { decision: { signature: string } }) => (decision.signature === 'valid' ? null : 'the signature does not match (test)'),
    standbyDrillRestore: async () => ({ actions: ['restored (test)'], startedAt: new Date().toISOString(), restoredAt: new Date().toISOString() }),
    standbyDrillPromote: async () => ({ actions: ['promoted (test)'], restorePoint: '0/1000', primaryLsn: '0/1000', rpoBytes: 0, rpoSeconds: 0, promotedAt: new Date().toISOString() }),
    standbyPlan: async () => ({ tables: ['a', 'b'], segments: [{ table: 'a', segment: { id: 'a1' } }, { table: 'a', segment: { id: 'a2' } }, { table: 'b', segment: { id: 'b1' } }], point: '0/1000', concurrency: 2 }),
    standbyCatchUp: async () => ({ replayLsn: '0/1000', reached: true, promoted: true, waitedMs: 0 }),
    standbySegment: async ({ table, segment }: { table: string; segment: { id: string } }) => {
      segmentsChecked.push(segment.id);
      return agree(table, segment.id);
    },
    standbyDrillRemove: async () => ({ actions: ['removed (test)'] }),
    writeStandbyReport: async () => ({ markdown: 'r.md', json: 'r.json', html: 'r.html', text: '' }),
  });
  const taskQueue = run.taskQueue;

  beforeAll(() => run.start(), 120_000);
  afterAll(() => run.stop());

  it('refuses every bad decision with its reason and promotes on another approver’s signed approval', async () => {
    const workflowId = `standby-drill-${taskQueue}`;
    const handle = await run.client().workflow.start('standby', { taskQueue, workflowId, args: [{ runId: taskQueue, action: 'drill', requestedBy: 'alice' }] });
    const state = () => handle.query(standbyStateQuery);
    await eventually(async () => (await state()).gates[0]?.status === 'open', 'the promote gate to open');

    const signed = (over: Record<string, unknown>) => ({ workflowId, gate: 'promote', decision: 'approve', actor: 'carol', role: 'approver', issuedAt: new Date().toISOString(), nonce: randomBytes(8).toString('hex'), signature: 'valid', ...over });
    const messages: unknown[] = [
      42,
      signed({ signature: 'forged' }),
      signed({ actor: 'alice' }),
      signed({ actor: 'bob', role: 'operator' }),
      signed({ gate: 'switch' }),
      signed({ reason: '演练 drill' }),
    ];
    for (const [i, m] of messages.entries()) {
      await handle.signal(decideGateSignal, m as never);
      await eventually(async () => ((await state()).decisions.length > i ? true : undefined), `decision ${i + 1} recorded`);
    }
    const final: StandbyState = await handle.result();

    expect(final.decisions.map((d) => [d.actor, d.accepted, d.refusal])).toEqual([
      ['?', false, 'malformed message 消息格式错误: expected a signed decision object, got number'],
      ['carol', false, 'the signature does not match (test)'],
      ['alice', false, 'four-eyes rule: alice started this drill and cannot decide its promote gate'],
      ['bob', false, 'role operator may not decide gate "promote" (allowed: approver, admin)'],
      ['carol', false, 'unknown gate "switch"'],
      ['carol', true, undefined],
    ]);
    expect(final.gates[0]).toMatchObject({ status: 'approved', decidedBy: 'carol', reason: '演练 drill', approvedBy: [expect.objectContaining({ actor: 'carol' })] });
    expect(final.status).toBe('completed');
    expect(final.drill?.verify).toMatchObject({ consistent: true, segments: 3 });
    expect(segmentsChecked.sort()).toEqual(['a1', 'a2', 'b1']);
  }, 120_000);
});
