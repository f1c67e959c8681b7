import { createHash, randomBytes } from 'node:crypto';
import type { Client } from 'pg';

/**
 * The runbook's own database (not the legacy, not the target): API tokens, stored only as hashes,
 * the append-only audit trail of every state-changing request, and the ledger of counted gate decisions.
 */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const DDL = [
  `CREATE TABLE IF NOT EXISTS api_token (
     token_hash text PRIMARY KEY,
     user_name text NOT NULL,
     role text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
     created_at timestamptz NOT NULL DEFAULT now(),
     revoked_at timestamptz
   )`,
  `CREATE TABLE IF NOT EXISTS audit_log (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     actor text,
     role text,
     action text NOT NULL,
     run_id text,
     source_ip text,
     request_id text,
     status_code integer NOT NULL,
     outcome text NOT NULL,
     detail jsonb
   )`,
  // One row per counted gate decision: the unique keys are what make a repeated approval count once
  // (same person, same gate; or the same Idempotency-Key), and the stored response is what a repeat
  // is answered with.
  `CREATE TABLE IF NOT EXISTS gate_decision (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     workflow_id text NOT NULL,
     gate text NOT NULL,
     actor text NOT NULL,
     role text NOT NULL,
     decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
     reason text,
     idempotency_key text,
     request_id text,
     response jsonb NOT NULL,
     UNIQUE (workflow_id, gate, actor),
     UNIQUE (actor, idempotency_key)
   )`,
  // Append-only: the trail and the decisions cannot be edited or pruned through the database either.
  `CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$`,
  ...['audit_log', 'gate_decision'].flatMap((t) => [
    `DROP TRIGGER IF EXISTS ${t}_no_change ON ${t}`,
    `CREATE TRIGGER ${t}_no_change BEFORE UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
  ]),
];

export async function ensureRunbookSchema(client: Client): Promise<void> {
  await client.query('SELECT pg_advisory_lock(hashtext($1))', ['jm-runbook-ddl']);
  try {
    for (const sql of DDL) await client.query(sql);
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['jm-runbook-ddl']);
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates a token for a user; the clear text is returned once and never stored. */
export async function issueToken(client: Client, userName: string, role: Role): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(userName)) {
    throw new Error(`user name "${userName}" is not allowed: letters, digits, . _ @ - (at most 64)`);
  }
  if (!ROLES.includes(role)) throw new Error(`role "${role}" is not one of ${ROLES.join(', ')}`);
  const token = `jmrb_${randomBytes(24).toString('base64url')}`;
  await client.query('INSERT INTO api_token (token_hash, user_name, role) VALUES ($1, $2, $3)', [hashToken(token), userName, role]);
  return token;
}
