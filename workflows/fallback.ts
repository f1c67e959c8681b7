import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  FALLBACK_STEPS,
  fallbackActionSignal,
  FallbackChoice,
  FallbackInput,
  FallbackState,
  FallbackStepKey,
  FallbackStepState,
  fallbackStateQuery,
} from './fallback-messages';
import { signedMessageSchema, signedStartRefusal } from './kit/admission';
import { keepDecision, refusalsInto, pendingChoiceRefusal, signedHandler, signedInbox } from './kit/decisions';
import { STEP_ICONS } from './cutover-steps';
import { publisher } from './kit/publish';
import { operatorWait, runStep } from './kit/step';
import { leaseHold } from './kit/target-lease';

/**
 * 回退方案 The seed's six fallback steps, in order. Started automatically as a child of a cutover that
 * failed or was rejected, or by hand. A step that still fails after its retries stops the fallback and
 * waits for a person's signed choice — retry the step or abort — and never carries on past the error.
 */
const checkDecision = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 20, maximumInterval: '30 seconds' },
  summary: '审批核验 Verify operator decision signature',
});

const FALLBACK_CHOICE = signedMessageSchema<FallbackChoice>(['retry', 'abort']);

function step(key: FallbackStepKey): Activities {
  const i = FALLBACK_STEPS.findIndex((s) => s.key === key);
  return proxyActivities<Activities>({
    startToCloseTimeout: '2 hours',
    // Every fallback activity heartbeats while it runs (activities/heartbeat.ts): a worker that dies
    // mid-step is replaced within two minutes, in the middle of the weekend window.
    heartbeatTimeout: '2 minutes',
    // A few attempts only: a fallback that keeps failing needs a person, not an hour of backoff.
    retry: { initialInterval: '2s', maximumInterval: '20 seconds', maximumAttempts: 3 },
    summary: `回退 Fallback ${i + 1}/6 · ${FALLBACK_STEPS[i].title.replace(/^\d+ /, '')}`,
  });
}

export async function fallback(input: FallbackInput): Promise<FallbackState> {
  const now = () => new Date().toISOString(); // replay-safe inside workflows
  const state: FallbackState = {
    runId: input.runId,
    status: 'running',
    reason: input.reason,
    steps: FALLBACK_STEPS.map((s) => ({ key: s.key, title: s.title, status: 'pending' })),
    decisions: [],
  };
  const waiting = operatorWait<NonNullable<FallbackState['pendingFailure']>, FallbackChoice>(state, () => publish());

  setHandler(fallbackStateQuery, () => state);
  // Admitted by workflows/kit/admission.ts, judged by workflows/kit/decisions.ts: no payload, however malformed, can fail the fallback.
  setHandler(
    fallbackActionSignal,
    signedHandler(FALLBACK_CHOICE, signedInbox(checkDecision), {
      refused: refusalsInto(state.decisions, now, () => publish()),
      admitted: (d) => {
        const refusal = pendingChoiceRefusal(state.pendingFailure, d, { prefix: 'fallback', wording: { step: 'failed fallback step', waitsFor: 'a decision', act: 'decide how a fallback goes on' } });
        keepDecision(state.decisions, d, now(), refusal);
        if (!refusal) waiting.choose(d.decision);
        publish();
      },
    }),
  );

  const publish = publisher('fallback', () => ({
    phase: state.steps.find((s) => s.status === 'running' || s.status === 'failed')?.key ?? 'finished',
    status: state.status,
    details: [
      `### 回退 Fallback ${state.runId} — ${state.status}`,
      `_reason: ${state.reason}_`,
      '',
      ...state.steps.map((s) => `- ${STEP_ICONS[s.status]} ${s.title}${s.error ? ` — ${s.error}` : s.detail ? ` — ${s.detail}` : ''}`),
      state.pendingFailure ? `\n**等待处理 Waiting for a person:** retry or abort step ${state.pendingFailure.step}` : '',
    ].join('\n'),
  }));

  class Aborted extends Error {}

  /** Runs one step (workflows/kit/step.ts); on failure waits for retry or abort. Abort ends the fallback with the error recorded. */
  async function run(key: FallbackStepKey, body: () => Promise<string>): Promise<void> {
    const s = state.steps.find((x) => x.key === key) as FallbackStepState;
    await runStep(() => s, body, {
      begin: () => {
        Object.assign(s, { status: 'running', startedAt: now(), error: undefined });
        state.status = 'running';
        publish();
      },
      done: (detail) => {
        Object.assign(s, { detail, status: 'done', finishedAt: now() });
        publish();
      },
      choose: (message) => waiting.decide({ step: key, error: message, at: now() }),
      after: (choice, message) => {
        if (choice === 'abort') throw new Aborted(message);
        return 'retry';
      },
    });
  }

  // 签名启动 A fallback started by hand must carry the API's signed start; a cutover's child needs none.
  const refusal = await signedStartRefusal(checkDecision, input.start, input.requestedBy);
  if (refusal) {
    await checkDecision.auditRefusedStart({ workflowId: workflowInfo().workflowId, runId: workflowInfo().runId, requestedBy: String(input.requestedBy), refusal });
    state.status = 'aborted';
    state.reason = `未经接口签名的启动 start refused: ${refusal}`;
    publish();
    await condition(allHandlersFinished);
    return state;
  }

  // 目标库租约 One run per target database: a cutover's own fallback acts under its parent's lease; one
  // started by hand while another run holds the target is refused and recorded.
  const lease = leaseHold(state);
  if (patched('target-lease')) {
    // The new side may be down or gone (why it falls back): that never stops a fallback (targetOptional).
    const held = await lease.take('fallback', input.requestedBy, { targetOptional: true });
    if (held) {
      await checkDecision.auditRefusedStart({ workflowId: workflowInfo().workflowId, runId: workflowInfo().runId, requestedBy: String(input.requestedBy), refusal: held, action: 'start refused by the run: target held by another run' });
      state.status = 'aborted';
      state.reason = held;
      publish();
      await condition(allHandlersFinished);
      return state;
    }
  }

  try {
    await run('stop-new', async () => {
      const out = await step('stop-new').controlServices({ side: 'new', action: 'stop', runId: input.runId });
      const stopped = out.length ? out.map((o) => `${o.name}: ${o.detail}`).join('; ') : 'no new-system service is under the runbook’s control';
      // 内存数据库: what the new system cached must not outlive it (deleted before the legacy services start).
      if (!patched('memory-db-fallback-flush')) return stopped;
      const flushed = (state.memoryDbFlush = await step('stop-new').flushMemoryDb({ runId: input.runId, why: 'fallback' }));
      return `${stopped}; 内存数据库 ${'notConfigured' in flushed ? flushed.notConfigured : `${flushed.total} keys deleted`}`;
    });

    await run('legacy-data', async () => {
      const checked = await step('legacy-data').checkLegacyAgainstBackup({ runId: input.runId });
      const modified = checked.filter((c) => !c.ok).map((c) => c.table);
      if (!modified.length) {
        state.legacyProof = checked.map((c) => ({ table: c.table, rows: c.rows, sha256: c.sha256, ok: c.ok }));
        return `${checked.length} tables match the pre-migration backup (counts and SHA-256)`;
      }
      state.legacyModified = modified;
      publish();
      const proof = await step('legacy-data').restoreLegacyFromBackup({ runId: input.runId, tables: modified });
      state.legacyProof = proof.map((c) => ({ table: c.table, rows: c.rows, sha256: c.sha256, ok: c.ok }));
      return `restored ${modified.join(', ')} from the backup; all ${proof.length} tables now match it`;
    });

    await run('start-legacy', async () => {
      // The legacy application needs its write privileges back (taken for the go-live's 只可查询) before it starts.
      const writable = patched('legacy-writable-before-start') ? (state.legacyWritable = await step('start-legacy').makeLegacyWritable({ runId: input.runId })) : undefined;
      const out = await step('start-legacy').controlServices({ side: 'legacy', action: 'start', runId: input.runId });
      const started = out.length ? out.map((o) => `${o.name}: ${o.detail}`).join('; ') : 'no legacy service is under the runbook’s control';
      return writable ? `旧库可写 ${writable.handedOver ?? writable.roles.map((r) => r.proof).join('; ')}; ${started}` : started;
    });

    await run('endpoints', async () => {
      const r = await step('endpoints').switchEndpoints({ runId: input.runId, to: 'legacy', actor: `fallback by ${input.requestedBy}` });
      state.switchedBack = r.switched.map((s) => ({ id: s.id, from: s.from, to: s.to, changed: s.changed, verifiedBy: s.verifiedBy }));
      const moved = r.switched.filter((s) => s.changed).length;
      return `${r.switched.length} systems on legacy (${moved} switched back, ${r.switched.length - moved} already there); ${r.manual.length} switched by hand`;
    });

    await run('smoke', async () => {
      const results = await step('smoke').legacySmokeTests();
      state.smoke = results.map((r) => ({ name: r.name, ok: r.ok, status: r.status, error: r.error }));
      const failed = results.filter((r) => !r.ok);
      if (failed.length) throw ApplicationFailure.create({ message: `legacy smoke tests failed: ${failed.map((f) => `${f.name} (${f.error ?? f.status})`).join('; ')}` });
      return `${results.length} legacy smoke tests passed`;
    });

    await run('report', async () => {
      state.report = await step('report').writeFailureReport({ fallback: state, cutover: input.cutover, cutoverWorkflowId: input.cutoverWorkflowId, cutoverLookup: input.cutoverLookup, fallbackRunId: workflowInfo().runId });
      return state.report.markdown;
    });
    state.status = 'completed';
  } catch (err) {
    if (!(err instanceof Aborted)) throw err;
    state.status = 'aborted';
  } finally {
    // Completed, aborted, failed or cancelled: the target is free again.
    await lease.release(state.status);
  }
  publish();
  await condition(allHandlersFinished);
  return state;
}
