import type { Client as TemporalClient } from '@temporalio/client';
import type { ClientBase } from 'pg';
import type { DatabaseIdentity } from './target-guard';

/**
 * 目标库租约 One run (cutover, fallback, remediation) per target database at a time. The lease is a row
 * of the runbook database keyed by the target's registered identity (lib/target-guard.ts: system
 * identifier + database name, dialect-aware), never by URL text: two URLs that reach the same database
 * take the same lease. The row names its holder as a Temporal workflow id and the first run id of its
 * chain, so whether the holder still runs is a question Temporal answers — no heartbeat, no timeout to
 * guess: a holder that completed, failed, was cancelled, timed out or was terminated (its code never ran
 * to release) holds nothing, and the next start takes the lease over, recording from whom and why.
 * A child may act under its parent's lease (a cutover's fallback): it is admitted, the row is unchanged.
 */
export const LEASE_DDL = [
  `CREATE TABLE IF NOT EXISTS target_lease (
     target_key text PRIMARY KEY,
     target_database text NOT NULL,
     target_system text NOT NULL,
     holder_workflow_id text NOT NULL,
     holder_run_id text NOT NULL,
     holder_kind text NOT NULL,
     task_queue text NOT NULL,
     requested_by text,
     taken_at timestamptz NOT NULL DEFAULT now()
   )`,
  // What happened to each lease, append-only: taken, shared with a child, released, taken over from a dead holder, refused.
  `CREATE TABLE IF NOT EXISTS target_lease_event (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     target_key text NOT NULL,
     event text NOT NULL CHECK (event IN ('taken', 'shared', 'released', 'recovered', 'refused')),
     workflow_id text NOT NULL,
     run_id text NOT NULL,
     detail jsonb
   )`,
];

export interface LeaseHolder {
  workflowId: string;
  /** the first Temporal run id of the holder's chain (stable across continue-as-new and reset) */
  runId: string;
  kind: string;
  requestedBy?: string | null;
  takenAt: string;
  targetDatabase: string;
  targetSystem: string;
}

export interface LeaseClaim {
  workflowId: string;
  runId: string;
  kind: string;
  taskQueue: string;
  requestedBy?: string;
  /** the parent run: when it holds the lease, this child acts under it */
  parent?: { workflowId: string; runId: string };
}

export type LeaseOutcome =
  | { held: true; targetKey: string; how: 'taken' | 'already held' | 'shared with parent' | 'recovered' | 'target unreachable'; recoveredFrom?: LeaseHolder & { execution: string } }
  | { held: false; targetKey: string; holder: LeaseHolder & { execution: string } };

/** Whether the holder's workflow still runs: Temporal's word. 'RUNNING' only for the same chain of runs. */
export type Liveness = (holder: Pick<LeaseHolder, 'workflowId' | 'runId'>) => Promise<string>;

export const targetKey = (id: DatabaseIdentity) => `${id.systemIdentifier}/${id.database}`;

/** Asks Temporal for the holder's latest run: RUNNING (same chain), or why it holds nothing (its status, NOT_FOUND, OTHER_RUN). */
export function temporalLiveness(client: TemporalClient): Liveness {
  return async (holder) => {
    try {
      const d = await client.workflow.getHandle(holder.workflowId).describe();
      const first = d.raw.workflowExecutionInfo?.firstRunId || d.runId;
      if (first !== holder.runId && d.runId !== holder.runId) return `OTHER_RUN (the id now runs ${d.runId}, status ${d.status.name})`;
      return d.status.name;
    } catch (err) {
      const e = err as { name?: string; code?: number };
      if (e.name === 'WorkflowNotFoundError' || e.code === 5) return 'NOT_FOUND';
      throw err; // Temporal unreachable: no verdict, the caller retries
    }
  };
}

type Row = { target_key: string; holder_workflow_id: string; holder_run_id: string; holder_kind: string; requested_by: string | null; taken_at: Date; target_database: string; target_system: string };
const holderOf = (r: Row): LeaseHolder => ({
  workflowId: r.holder_workflow_id,
  runId: r.holder_run_id,
  kind: r.holder_kind,
  requestedBy: r.requested_by,
  takenAt: r.taken_at.toISOString(),
  targetDatabase: r.target_database,
  targetSystem: r.target_system,
});

async function event(db: ClientBase, key: string, what: string, who: { workflowId: string; runId: string }, detail?: unknown): Promise<void> {
  await db.query('INSERT INTO target_lease_event (target_key, event, workflow_id, run_id, detail) VALUES ($1, $2, $3, $4, $5)', [key, what, who.workflowId, who.runId, detail === undefined ? null : JSON.stringify(detail)]);
}

/**
 * Takes the lease on a target for a run, or says who holds it. Race-safe without a long transaction:
 * an insert that may conflict, and a take-over that is a compare-and-swap on the holder it found dead.
 */
export async function acquireLease(db: ClientBase, target: DatabaseIdentity, claim: LeaseClaim, alive: Liveness): Promise<LeaseOutcome> {
  const key = targetKey(target);
  const me = { workflowId: claim.workflowId, runId: claim.runId };
  for (let attempt = 0; attempt < 20; attempt++) {
    const inserted = await db.query(
      `INSERT INTO target_lease (target_key, target_database, target_system, holder_workflow_id, holder_run_id, holder_kind, task_queue, requested_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (target_key) DO NOTHING`,
      [key, target.database, target.systemIdentifier, claim.workflowId, claim.runId, claim.kind, claim.taskQueue, claim.requestedBy ?? null],
    );
    if (inserted.rowCount) {
      await event(db, key, 'taken', me, { kind: claim.kind, requestedBy: claim.requestedBy });
      return { held: true, targetKey: key, how: 'taken' };
    }
    const row = (await db.query<Row>('SELECT * FROM target_lease WHERE target_key = $1', [key])).rows[0];
    if (!row) continue; // released in between: try to insert again
    const holder = holderOf(row);
    if (holder.workflowId === me.workflowId && holder.runId === me.runId) return { held: true, targetKey: key, how: 'already held' };
    if (claim.parent && holder.workflowId === claim.parent.workflowId && holder.runId === claim.parent.runId) {
      await event(db, key, 'shared', me, { parent: claim.parent, kind: claim.kind });
      return { held: true, targetKey: key, how: 'shared with parent' };
    }
    const execution = await alive(holder);
    if (execution === 'RUNNING') {
      await event(db, key, 'refused', me, { kind: claim.kind, requestedBy: claim.requestedBy, holder });
      return { held: false, targetKey: key, holder: { ...holder, execution } };
    }
    // The holder is gone without releasing (terminated, timed out, or its release failed): take it over.
    const swapped = await db.query(
      `UPDATE target_lease SET holder_workflow_id = $4, holder_run_id = $5, holder_kind = $6, task_queue = $7, requested_by = $8, taken_at = now()
        WHERE target_key = $1 AND holder_workflow_id = $2 AND holder_run_id = $3`,
      [key, holder.workflowId, holder.runId, claim.workflowId, claim.runId, claim.kind, claim.taskQueue, claim.requestedBy ?? null],
    );
    if (swapped.rowCount) {
      await event(db, key, 'recovered', me, { from: holder, execution });
      return { held: true, targetKey: key, how: 'recovered', recoveredFrom: { ...holder, execution } };
    }
  }
  throw new Error(`the lease on target ${key} kept changing hands while it was being taken`);
}

/**
 * A child under its parent's lease: found by the parent's name alone, so a fallback needs no connection to
 * the target (which may be down or gone: that may be why it falls back). Undefined when the parent holds none.
 */
export async function shareParentLease(db: ClientBase, claim: LeaseClaim): Promise<LeaseOutcome | undefined> {
  if (!claim.parent) return undefined;
  const row = (await db.query<Row>('SELECT * FROM target_lease WHERE holder_workflow_id = $1 AND holder_run_id = $2 ORDER BY target_key LIMIT 1', [claim.parent.workflowId, claim.parent.runId])).rows[0];
  if (!row) return undefined;
  await event(db, row.target_key, 'shared', { workflowId: claim.workflowId, runId: claim.runId }, { parent: claim.parent, kind: claim.kind });
  return { held: true, targetKey: row.target_key, how: 'shared with parent' };
}

/** Releases what this run holds (nothing, when it acted under its parent's lease or held none). Idempotent. */
export async function releaseLease(db: ClientBase, holder: { workflowId: string; runId: string }, outcome: string): Promise<string[]> {
  const { rows } = await db.query<{ target_key: string }>('DELETE FROM target_lease WHERE holder_workflow_id = $1 AND holder_run_id = $2 RETURNING target_key', [holder.workflowId, holder.runId]);
  for (const r of rows) await event(db, r.target_key, 'released', holder, { outcome });
  return rows.map((r) => r.target_key);
}

/** The leases this deployment's runs hold (task queue), each with Temporal's word on its holder: what the API checks before a start. */
export async function liveLeases(db: Pick<ClientBase, 'query'>, taskQueue: string, alive: Liveness): Promise<(LeaseHolder & { execution: string })[]> {
  const { rows } = await db.query<Row>('SELECT * FROM target_lease WHERE task_queue = $1 ORDER BY taken_at', [taskQueue]);
  const out: (LeaseHolder & { execution: string })[] = [];
  for (const r of rows) {
    const execution = await alive(holderOf(r));
    if (execution === 'RUNNING') out.push({ ...holderOf(r), execution });
  }
  return out;
}

/** One line naming the holder, for a 409 and for the refused run's record. */
export function describeHolder(h: LeaseHolder): string {
  return `${h.kind} ${h.workflowId} (Temporal run ${h.runId}${h.requestedBy ? `, started by ${h.requestedBy}` : ''}, holding since ${h.takenAt}) holds the target database "${h.targetDatabase}" (system ${h.targetSystem})`;
}
