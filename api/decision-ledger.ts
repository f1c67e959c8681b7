import type { Pool } from 'pg';
import { ProblemError } from './problems';

/**
 * Idempotent gate decisions. The gate_decision table (lib/runbook-db.ts) holds one row per counted
 * decision, unique per (run, gate, person) and per (person, Idempotency-Key). A repeat — the client
 * retrying after a lost answer, a double click, the same person deciding again — is answered with the
 * stored response and never signals the workflow a second time.
 */
export interface DecisionRequest {
  workflowId: string;
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
      `SELECT workflow_id, gate, decision, idempotency_key, at, response FROM gate_decision
        WHERE (workflow_id = $1 AND gate = $2 AND actor = $3) OR (actor = $3 AND idempotency_key = $4)`,
      [r.workflowId, r.gate, r.actor, r.idempotencyKey ?? null],
    );
    return this.judge(r, rows);
  }

  private judge(r: DecisionRequest, rows: Row[]): DecisionResponse | null {
    const byKey = rows.find((x) => r.idempotencyKey && x.idempotency_key === r.idempotencyKey);
    if (byKey && (byKey.workflow_id !== r.workflowId || byKey.gate !== r.gate || byKey.decision !== r.decision)) {
      throw new ProblemError(
        422,
        'Idempotency-Key reused',
        `Idempotency-Key ${r.idempotencyKey} was already used for "${byKey.decision}" on ${byKey.workflow_id} gate ${byKey.gate}; use a new key for a different request`,
        'headers.idempotency-key',
      );
    }
    const same = rows.find((x) => x.workflow_id === r.workflowId && x.gate === r.gate);
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
  async record(r: DecisionRequest, response: DecisionResponse, send: () => Promise<void>): Promise<{ response: DecisionResponse; replayed: boolean }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const inserted = await client.query(
        `INSERT INTO gate_decision (workflow_id, gate, actor, role, decision, reason, idempotency_key, request_id, response)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id`,
        [r.workflowId, r.gate, r.actor, r.role, r.decision, r.reason ?? null, r.idempotencyKey ?? null, r.requestId, response],
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
