import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { CutoverState, cutoverStateQuery, decideGateSignal, operatorActionSignal } from '../../workflows/cutover-messages';
import { fakeActivityWorker } from '../support/fake-activities';
import { eventually } from '../support/stack';

/**
 * 运行手册 The runbook kit's machinery as the cutover uses it (workflows/kit/runbook.ts), in isolation: the cutover on
 * the real Temporal server (a TestWorkflowEnvironment on the running dev server), its activities fakes in this
 * process — a signature check that accepts only the signature "valid", a wipe and an in-memory database check that
 * fail for good. The wipe gate escalates while undecided and refuses the initiator (four-eyes); the failed wipe
 * offers what the step table allows, refuses a choice it does not offer, is retried, fails again and is continued
 * with the operator's reason; a cancellation while the next failure waits ends the run as cancelled, its gates
 * cancelled, with its evidence pack and its lease released.
 */
describe('cutover on the runbook kit (workflow with fake activities)', () => {
  const called: string[] = [];
  const fake =
    <T>(name: string, answer: () => T) =>
    async () => {
      called.push(name);
      return answer();
    };
  const refuse = (name: string, message: string) => async () => {
    called.push(name);
    throw ApplicationFailure.nonRetryable(message);
  };

  const run = fakeActivityWorker('cutover-kit', {
    verifyDecision: async ({ decision }: { decision: { signature: string } }) => (decision.signature === 'valid' ? null : 'the signature does not match (test)'),
    takeTargetLease: fake('takeTargetLease', () => ({ held: true, targetKey: '1/target', how: 'taken' })),
    releaseTargetLease: fake('releaseTargetLease', () => ['1/target']),
    preflightMapping: fake('preflightMapping', () => ({ at: new Date().toISOString(), errors: [], warnings: [], checked: { tables: 0, columns: 0, codeColumns: 0 } })),
    shutDownLegacy: fake('shutDownLegacy', () => ({ stopped: [], roles: [], sessions: [], quietSeconds: 0, tables: [], handedOver: 'by the DBA (test)' })),
    listTables: fake('listTables', () => []),
    backupLegacy: fake('backupLegacy', () => ({ dir: '/backup', files: [], readPoint: null })),
    makeLegacyReadOnly: fake('makeLegacyReadOnly', () => ({ roles: [], handedOver: 'by the DBA (test)' })),
    buildLegacyArchive: fake('buildLegacyArchive', () => ({ database: 'archive', tables: [], readOnlyProof: 'read-only (test)' })),
    notifyPlan: fake('notifyPlan', () => ({ channel: 'log' })),
    wipeTargetTestData: refuse('wipeTargetTestData', 'wipe refused (test)'),
    checkMemoryDb: refuse('checkMemoryDb', 'in-memory database unreachable (test)'),
    writeEvidencePack: fake('writeEvidencePack', () => ({ markdown: 'evidence.md', json: 'evidence.json' })),
  });
  const taskQueue = run.taskQueue;

  beforeAll(() => run.start(), 120_000);
  afterAll(() => run.stop());

  it('escalates, refuses, retries, continues and ends cancelled with its evidence pack', async () => {
    const workflowId = `cutover-${taskQueue}`;
    const message = (over: Record<string, unknown>) => ({ workflowId, issuedAt: new Date().toISOString(), nonce: randomBytes(8).toString('hex'), signature: 'valid', ...over });
    const handle = await run.client().workflow.start('cutover', {
      taskQueue,
      workflowId,
      args: [{ runId: taskQueue, mode: 'rehearsal', requestedBy: 'alice', gates: { wipe: { escalateAfterMinutes: 0.02 } }, start: message({ gate: 'start', decision: 'start', actor: 'alice', role: 'operator' }) }],
    });
    const state = () => handle.query(cutoverStateQuery);
    const until = (what: string, ok: (s: CutoverState) => boolean) => eventually(async () => ((s) => (ok(s) ? s : undefined))(await state()), what);

    // The wipe gate: escalated while undecided, the initiator refused, another approver opens it.
    await until('the wipe gate to escalate', (s) => s.gates[0].escalations >= 1);
    await handle.signal(decideGateSignal, message({ gate: 'wipe', decision: 'approve', actor: 'alice', role: 'approver' }) as never);
    await until('the four-eyes refusal', (s) => s.decisions.length === 1);
    await handle.signal(decideGateSignal, message({ gate: 'wipe', decision: 'approve', actor: 'carol', role: 'approver', reason: 'ok' }) as never);

    // The wipe fails for good: the run waits for the operator with what the step table offers.
    const failed = await until('the failed wipe', (s) => s.pendingFailure?.step === 'wipe');
    expect(failed).toMatchObject({ status: 'waiting_operator', pendingFailure: { error: 'wipe refused (test)', choices: ['retry', 'continue', 'fallback'] } });
    expect(failed.steps.find((s) => s.key === 'wipe')).toMatchObject({ status: 'failed', error: 'wipe refused (test)' });
    const choose = (decision: string, reason?: string) => handle.signal(operatorActionSignal, message({ gate: 'step:wipe', decision, actor: 'olivia', role: 'operator', reason }) as never);
    await choose('skip', 'not offered');
    await until('the refused skip', (s) => s.operatorActions.length === 1);
    await choose('retry');
    await until('the wipe failed again', (s) => s.operatorActions.length === 2 && s.pendingFailure?.step === 'wipe');
    await choose('continue');
    await until('the continue without a reason refused', (s) => s.operatorActions.length === 3);
    await choose('continue', '已手工清空 emptied by hand');

    // The next failure (the in-memory database) waits for the operator; the run is cancelled meanwhile.
    await until('the failed in-memory database check', (s) => s.pendingFailure?.step === 'cache-flush');
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    const final = await state();

    expect(final.operatorActions.map((a) => [a.decision, a.accepted, a.refusal])).toEqual([
      ['skip', false, 'step wipe does not allow "skip" (allowed: retry, continue, fallback)'],
      ['retry', true, undefined],
      ['continue', false, '"continue" needs a recorded reason'],
      ['continue', true, undefined],
    ]);
    expect(final.decisions.map((d) => [d.actor, d.accepted, d.refusal])).toEqual([
      ['alice', false, 'four-eyes rule: alice started this run and cannot decide its wipe gate'],
      ['carol', true, undefined],
    ]);
    const step = (key: string) => final.steps.find((s) => s.key === key)!;
    expect(step('gate-wipe')).toMatchObject({ status: 'done', detail: 'approved by carol' });
    expect(step('wipe')).toMatchObject({ status: 'done', operatorNote: '人工修复后继续 continued after manual fix by olivia: 已手工清空 emptied by hand' });
    expect(step('migrate')).toMatchObject({ status: 'done', detail: '0 rows loaded, 0 quarantined' });
    expect(step('cache-flush')).toMatchObject({ status: 'failed', error: 'in-memory database unreachable (test)' });
    expect(step('evidence')).toMatchObject({ status: 'done', detail: 'evidence.md' });
    expect(final).toMatchObject({ status: 'cancelled', phase: 'finished', failure: 'cancelled on request 已按请求取消', evidence: { markdown: 'evidence.md' } });
    expect(final.gates.map((g) => [g.name, g.status])).toEqual([
      ['wipe', 'approved'],
      ['go-no-go', 'cancelled'],
      ['switch', 'cancelled'],
    ]);
    expect(final.targetLease).toMatchObject({ targetKey: '1/target', how: 'taken', released: '目标库租约已释放 target lease released (1/target)' });
    expect(called.filter((c) => c === 'wipeTargetTestData')).toHaveLength(2);
    expect(called.filter((c) => c === 'notifyPlan').length).toBeGreaterThanOrEqual(1);
    expect(called.slice(-2)).toEqual(['writeEvidencePack', 'releaseTargetLease']);
  });
});
