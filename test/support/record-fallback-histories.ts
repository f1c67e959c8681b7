import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { fallbackActionSignal, FallbackState, fallbackStateQuery } from '../../workflows/fallback-messages';
import { fakeActivityWorker } from './fake-activities';
import { recordInto, saveHistory } from './recording';
import { eventually } from './stack';

/**
 * Records the fixtures of the fallback's own step runner (a failed step waiting for a person's signed choice),
 * which the fallback child of record-cutover-histories.ts never reaches (its steps all pass): two fallbacks
 * started by hand on the Temporal dev server, today's workflow code, its activities fakes in this process
 * (test/support/fake-activities.ts) — a signature check that accepts only the signature "valid":
 *   - fallback-history-retry.json: the legacy smoke tests fail, a choice with a forged signature is refused,
 *     the operator retries, they fail again, the operator retries, they pass and the fallback completes;
 *   - fallback-history-abort.json: the legacy services will not start, the operator aborts.
 * Run with the workflow code whose command sequences the replays must keep:
 *   node --import tsx test/support/record-fallback-histories.ts test/fixtures
 */
recordInto('record-fallback-histories.ts', async (out) => {
  let smokeFailures = 2;
  let recordingNow: 'retry' | 'abort' = 'retry';
  const worker = fakeActivityWorker('fallback', {
    verifyDecision: async ({ decision }: { decision: { signature: string } }) => (decision.signature === 'valid' ? null : 'the signature does not match (test)'),
    takeTargetLease: async () => ({ held: true, targetKey: '1/target', how: 'taken' }),
    releaseTargetLease: async () => ['1/target'],
    controlServices: async ({ side, action }: { side: string; action: string }) => {
      if (side === 'legacy' && action === 'start' && recordingNow === 'abort') throw ApplicationFailure.nonRetryable('start legacy-app refused (test)');
      return [{ name: `${side}-app`, detail: `${action} ok` }];
    },
    flushMemoryDb: async () => ({ total: 0, keys: [] }),
    checkLegacyAgainstBackup: async () => [{ table: 'e_baseinfo', rows: 1, sha256: 'x', ok: true }],
    restoreLegacyFromBackup: async () => [],
    makeLegacyWritable: async () => ({ roles: [], handedOver: 'by the DBA (test)' }),
    switchEndpoints: async () => ({ switched: [], manual: [] }),
    legacySmokeTests: async () => {
      if (smokeFailures-- > 0) throw ApplicationFailure.nonRetryable('legacy smoke tests failed (test)');
      return [{ name: 'home', ok: true, status: 200 }];
    },
    writeFailureReport: async () => ({ markdown: 'failure.md', json: 'failure.json' }),
  });
  await worker.start();
  try {
    for (const recording of ['retry', 'abort'] as const) {
      recordingNow = recording;
      const workflowId = `fallback-${worker.taskQueue}-${recording}`;
      const message = (over: Record<string, unknown>) => ({ workflowId, issuedAt: new Date().toISOString(), nonce: randomBytes(8).toString('hex'), signature: 'valid', actor: 'olivia', role: 'operator', ...over });
      const handle = await worker.client().workflow.start('fallback', {
        taskQueue: worker.taskQueue,
        workflowId,
        args: [{ runId: `${worker.taskQueue}-${recording}`, requestedBy: 'olivia', reason: '演练 drill', start: message({ gate: 'start', decision: 'start' }) }],
      });
      const until = (what: string, ok: (s: FallbackState) => boolean) => eventually(async () => ((s) => (ok(s) ? s : undefined))(await handle.query(fallbackStateQuery)), `${workflowId}: ${what}`);
      const step = recording === 'retry' ? 'smoke' : 'start-legacy';
      const choose = (decision: string, over: Record<string, unknown> = {}) => handle.signal(fallbackActionSignal, message({ gate: `fallback:${step}`, decision, ...over }) as never);
      await until('the failed step', (s) => s.pendingFailure?.step === step);
      if (recording === 'retry') {
        await choose('retry', { signature: 'forged' });
        await until('the forged choice refused', (s) => s.decisions.length === 1);
        await choose('retry');
        await until('the step failed again', (s) => s.decisions.length === 2 && s.pendingFailure?.step === step);
        await choose('retry', { reason: '已修复 fixed' });
      } else {
        await choose('abort', { reason: '放弃 given up' });
      }
      const result = (await handle.result()) as FallbackState;
      console.log(`${workflowId}: ${result.status}, steps ${result.steps.map((s) => `${s.key}:${s.status}`).join(' ')}`);
      if (result.status !== (recording === 'retry' ? 'completed' : 'aborted')) throw new Error(`${workflowId} ended ${result.status}`);
      await saveHistory(worker.client(), workflowId, path.join(out, `fallback-history-${recording}.json`));
    }
  } finally {
    await worker.stop();
  }
});
