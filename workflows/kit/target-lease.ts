import { ActivityFailure, ApplicationFailure, CancellationScope, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { describeHolder, LeaseOutcome } from '../../lib/target-lease';
import type { TargetLeaseRecord } from '../cutover-messages';

/**
 * 目标库租约 One cutover, fallback or remediation per target database at a time (lib/target-lease.ts).
 * A run that acts on the target calls takeTargetLease as its first act after the signed-start check and
 * releaseTargetLease at its end, in a finally, so completion, failure and cancellation all release it;
 * a terminated run (no code runs) is recovered by the next start, which asks Temporal whether the holder
 * still runs. A child whose parent holds the lease acts under it (a cutover's fallback).
 */
const lease = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  // The target or the runbook database unreachable: keep trying (the pending activity shows the cause);
  // a configuration error (no such database, login refused) is non-retryable and ends the start.
  retry: { initialInterval: '2s', maximumInterval: '1 minute' },
  summary: '目标库租约 Take the target lease (one run per target database)',
});
const release = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10 },
  summary: '释放目标库租约 Release the target lease',
});

export type TargetLease = { ok: true; record: TargetLeaseRecord; own: boolean } | { ok: false; refusal: string };

function recordOf(o: Extract<LeaseOutcome, { held: true }>): TargetLeaseRecord {
  const r = o.recoveredFrom;
  return { targetKey: o.targetKey, how: o.how, ...(r ? { recoveredFrom: { workflowId: r.workflowId, runId: r.runId, execution: r.execution } } : {}) };
}

/** Takes the lease for this run (or shares its parent's); a refusal names the holder. Never throws but for cancellation. */
export async function takeTargetLease(kind: string, requestedBy: string, options: { targetOptional?: boolean } = {}): Promise<TargetLease> {
  const info = workflowInfo();
  try {
    const outcome = await lease.takeTargetLease({
      workflowId: info.workflowId,
      runId: info.firstExecutionRunId,
      kind,
      requestedBy,
      parent: info.parent ? { workflowId: info.parent.workflowId, runId: info.parent.runId } : undefined,
      ...options,
    });
    // Under its parent's lease a child holds nothing of its own, so it releases nothing either.
    if (outcome.held) return { ok: true, record: recordOf(outcome), own: outcome.how !== 'shared with parent' && outcome.how !== 'target unreachable' };
    return { ok: false, refusal: `目标库已被占用 the target is held by another run: ${describeHolder(outcome.holder)} — one cutover, fallback or remediation per target at a time; wait for it to end or cancel it` };
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return { ok: false, refusal: `目标库租约 the target lease could not be taken: ${err.cause.message}` };
    throw err;
  }
}

/**
 * Releases this run's lease, also when the run is being cancelled. A release that fails for good is
 * said, not thrown: the row then names a closed run, which the next start recovers.
 */
export async function releaseTargetLease(outcome: string): Promise<string> {
  const info = workflowInfo();
  return CancellationScope.nonCancellable(async () => {
    try {
      const released = await release.releaseTargetLease({ workflowId: info.workflowId, runId: info.firstExecutionRunId, outcome });
      return released.length ? `目标库租约已释放 target lease released (${released.join(', ')})` : 'no target lease of its own to release';
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
      return `目标库租约未能释放 the lease could not be released (${cause}); the next start recovers it once this run has ended`;
    }
  });
}

/**
 * A run's hold on the target: `take` takes the lease (or shares its parent's) and keeps its record in the run's
 * state, or says why the start is refused; `release` releases it once, at the run's end — nothing when the run
 * took none of its own (a child under its parent's lease, a run refused before it took one).
 */
export function leaseHold(state: { targetLease?: TargetLeaseRecord }) {
  let own = false;
  return {
    async take(kind: string, requestedBy: string, options: { targetOptional?: boolean } = {}): Promise<string | undefined> {
      const lease = await takeTargetLease(kind, requestedBy, options);
      if (!lease.ok) return lease.refusal;
      state.targetLease = lease.record;
      own = lease.own;
      return undefined;
    },
    async release(outcome: string): Promise<void> {
      if (!own) return;
      own = false;
      state.targetLease!.released = await releaseTargetLease(outcome);
    },
  };
}
