import { ApplicationFailure, Context } from '@temporalio/activity';
import { withClient } from '../lib/db';
import { withTarget } from '../lib/statement-audit';
import { databaseIdentity } from '../lib/target-guard';
import { acquireLease, describeHolder, LEASE_DDL, LeaseClaim, LeaseOutcome, liveLeases, releaseLease, shareParentLease, temporalLiveness } from '../lib/target-lease';
import { CONFIG_ERROR } from './preflight';
import type { ActivityDeps } from './deps';

/** PostgreSQL codes that no retry mends: the database does not exist, the login is refused. */
const NOT_RETRYABLE = new Set(['3D000', '28P01', '28000']);

let schema: Promise<void> | undefined;
const IDENTITY_TIMEOUT_MS = 15_000;

/** 目标库租约 The lease activities (lib/target-lease.ts): taken as a run's first act, released at its end. */
export function targetLeaseActivities(deps: ActivityDeps) {
  const { settings } = deps;
  const ensureSchema = (c: Parameters<Parameters<typeof withClient>[1]>[0]) =>
    (schema ??= (async () => {
      for (const sql of LEASE_DDL) await c.query(sql);
    })().catch((err) => {
      schema = undefined;
      // Two workers creating the table at once: the loser's duplicate is the winner's table.
      if (!['23505', '42P07'].includes((err as { code?: string }).code ?? '')) throw err;
    }));

  return {
    /**
     * Takes the target's lease for the calling run, or returns who holds it; the target is named by its
     * identity, read from the database. A child under its parent's lease needs no target connection.
     * `targetOptional` (the fallback): a target that cannot be read — down, or dropped, which may be why the
     * run falls back — does not stop it; then no live run of this deployment may hold a lease instead.
     */
    async takeTargetLease(input: Omit<LeaseClaim, 'taskQueue'> & { targetOptional?: boolean }): Promise<LeaseOutcome> {
      const { targetOptional, ...claimed } = input;
      const claim: LeaseClaim = { ...claimed, taskQueue: settings.TASK_QUEUE };
      const alive = temporalLiveness(Context.current().client);
      const shared = await withClient(settings.RUNBOOK_DATABASE_URL, async (c) => {
        await ensureSchema(c);
        return shareParentLease(c, claim);
      });
      if (shared) return shared;
      let unreachable: Error | undefined;
      // A target host that swallows packets must not hold the start for the TCP timeout: 15 s, then it is unreachable.
      const answered = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the target database did not answer within ${IDENTITY_TIMEOUT_MS / 1000} s`)), IDENTITY_TIMEOUT_MS).unref());
      const target = await Promise.race([withTarget(settings, (c) => databaseIdentity(c)), answered]).catch((err) => {
        const code = (err as { code?: string }).code;
        if (targetOptional) return void (unreachable = err as Error);
        if (code && NOT_RETRYABLE.has(code)) throw ApplicationFailure.nonRetryable(`the target database cannot be reached as configured (TARGET_DATABASE_URL): ${(err as Error).message}`, CONFIG_ERROR);
        throw err;
      });
      const outcome: LeaseOutcome = await withClient(settings.RUNBOOK_DATABASE_URL, async (c) => {
        if (target) return acquireLease(c, target, claim, alive);
        const [holder] = await liveLeases(c, settings.TASK_QUEUE, alive);
        return holder ? { held: false, targetKey: `${holder.targetSystem}/${holder.targetDatabase}`, holder } : { held: true, targetKey: '', how: 'target unreachable' };
      });
      if (unreachable && outcome.held) deps.logger.warn({ ...input, err: unreachable.message }, 'target unreachable: the run goes on without a lease of its own (no live run of this deployment holds one) 目标库不可达');
      if (!outcome.held) deps.logger.warn({ ...input, holder: outcome.holder }, `target lease refused 目标库已被占用: ${describeHolder(outcome.holder)}`);
      else if (outcome.recoveredFrom) deps.logger.warn({ ...input, recoveredFrom: outcome.recoveredFrom }, `target lease taken over from a run that holds nothing any more (${outcome.recoveredFrom.execution}) 租约已回收`);
      else deps.logger.info({ ...input, targetKey: outcome.targetKey, how: outcome.how }, 'target lease held 目标库租约');
      return outcome;
    },

    /** Releases whatever the run holds; returns the targets released. A retry finds nothing left to release. */
    async releaseTargetLease(input: { workflowId: string; runId: string; outcome: string }): Promise<string[]> {
      const released = await withClient(settings.RUNBOOK_DATABASE_URL, async (c) => {
        await ensureSchema(c);
        return releaseLease(c, input, input.outcome);
      });
      if (released.length) deps.logger.info({ ...input, released }, 'target lease released 目标库租约已释放');
      return released;
    },
  };
}
