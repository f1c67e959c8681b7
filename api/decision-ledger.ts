import type { Pool } from 'pg';
import { ProblemError } from './problems';

/**
 * Idempotent gate decisions. The gate_decision table (lib/runbook-db.ts) holds one row per counted
 * decision, unique per (workflow, Temporal run, gate, person) and per (person, Idempotency-Key): a run
 * started again under the same workflow id is another run, with a ledger of its own. A repeat — the client
 * retrying after a lost answer, a double click, the same person deciding again — is answered with the
 * stored response and never signals the workflow a second time.
 */
export interface DecisionRequest {
  workflowId: string;
  /** the Temporal run (first of its chain) the decision is for */
  runId: string;
  gate: string;
  actor: string;
  role: string;
  decision: 'approve' | 'reject';
  reason?: string;
  idempotencyKey?: string;
  requestId: string;
}

export type DecisionResponse = Record<string, unknown>;

interface Row {
  workflow_id: string;
  run_id: string;
  reason: string | null;
  gate: string;
  decision: string;
  idempotency_key: string | null;
  at: Date;
  response: DecisionResponse;
}

export class DecisionLedger {
  constructor(private readonly pool: Pool) {}

  /**
   * The stored answer when this request repeats one already counted; null when it is new.
   * Throws 422 for a key reused on a different request and 409 for a person changing their decision.
   */
  async replay(r: DecisionRequest, db: Pick<Pool, 'query'> = this.pool): Promise<DecisionResponse | null> {
    const { rows } = await db.query<Row>(
      `SELECT workflow_id, run_id, gate, decision, reason, idempotency_key, at, response FROM gate_decision
        WHERE (workflow_id = $1 AND run_id = $5 AND gate = $2 AND actor = $3) OR (actor = $3 AND idempotency_key = $4)`,
      [r.workflowId, r.gate, r.actor, r.idempotencyKey ?? null, r.runId],
    );
    return this.judge(r, rows);
  }

  private judge(r: DecisionRequest, rows: Row[]): DecisionResponse | null {
    const byKey = rows.find((x) => r.idempotencyKey && x.idempotency_key === r.idempotencyKey);
    // The same key with any other request — another run, gate, decision or reason — is refused, not replayed.
    if (byKey && (byKey.workflow_id !== r.workflowId || byKey.run_id !== r.runId || byKey.gate !== r.gate || byKey.decision !== r.decision || (byKey.reason ?? '') !== (r.reason ?? ''))) {
      throw new ProblemError(
        422,
        'Idempotency-Key reused',
        `Idempotency-Key ${r.idempotencyKey} was already used for "${byKey.decision}" on ${byKey.workflow_id}${byKey.run_id !== r.runId ? ` (run ${byKey.run_id})` : ''} gate ${byKey.gate}${byKey.reason !== (r.reason ?? null) ? ' with another reason' : ''}; use a new key for a different request`,
        'headers.idempotency-key',
      );
    }
    const same = rows.find((x) => x.workflow_id === r.workflowId && x.run_id === r.runId && x.gate === r.gate);
    if (!same) return null;
    if (same.decision !== r.decision) {
      throw new ProblemError(
        409,
        'Already decided',
        `${r.actor} already decided "${same.decision}" on gate ${r.gate} at ${same.at.toISOString()}; a decision cannot be changed`,
        'body.decision',
      );
    }
    return same.response;
  }

  /**
   * Records the decision and runs send (the signal to the workflow) inside one transaction: if the
   * signal fails nothing is recorded, and a concurrent duplicate waits on the unique key until this
   * one commits, then gets its answer. Returns the response and whether it was a replay.
   */
  async record(
    r: DecisionRequest,
    response: DecisionResponse,
    send: () => Promise<void>,
    /** the gate's rule, given what is already counted for it (by others); throws (409) when it is closed */
    stillOpen: (counted: { approvals: number; rejections: number }) => void = () => undefined,
  ): Promise<{ response: DecisionResponse; replayed: boolean }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Decisions on one gate of one run are counted one after the other: a decision arriving after the
      // gate closed is told so (409), not "sent" to a workflow that will refuse it.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`gate-decision/${r.workflowId}/${r.runId}/${r.gate}`]);
      const prior = await this.replay(r, client);
      if (prior) {
        await client.query('ROLLBACK');
        return { response: prior, replayed: true };
      }
      const counted = await client.query<{ approvals: number; rejections: number }>(
        `SELECT count(*) FILTER (WHERE decision = 'approve')::int AS approvals, count(*) FILTER (WHERE decision = 'reject')::int AS rejections
           FROM gate_decision WHERE workflow_id = $1 AND run_id = $2 AND gate = $3`,
        [r.workflowId, r.runId, r.gate],
      );
      stillOpen(counted.rows[0]);
      const inserted = await client.query(
        `INSERT INTO gate_decision (workflow_id, run_id, gate, actor, role, decision, reason, idempotency_key, request_id, response)
         VALUES ($1, $10, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id`,
        [r.workflowId, r.gate, r.actor, r.role, r.decision, r.reason ?? null, r.idempotencyKey ?? null, r.requestId, response, r.runId],
      );
      if (!inserted.rowCount) {
        await client.query('ROLLBACK');
        // On the connection already held: asking the pool for a second one while holding this one
        // deadlocks once concurrent duplicates hold every pooled connection.
        const prior = await this.replay(r, client);
        if (!prior) throw new Error('gate_decision conflict without a prior row');
        return { response: prior, replayed: true };
      }
      await send();
      await client.query('COMMIT');
      return { response, replayed: false };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
