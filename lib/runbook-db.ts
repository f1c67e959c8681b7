import { createHash, randomBytes } from 'node:crypto';
import type { ClientBase } from 'pg';
import { z } from 'zod';
import { CORRECTION_DDL, correctionGrants } from './correction-ledger-schema';
import { LEASE_DDL } from './target-lease';

/**
 * The runbook's own database (not the legacy, not the target): API tokens, stored only as hashes,
 * the append-only audit trail of every state-changing request, and the ledger of counted gate decisions.
 */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who may hold a token: also what ends up in the audit trail and in workflow history as the actor. */
export const USER_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$';

const DDL = [
  // The id names a token for listing and revocation without exposing anything of its hash.
  `CREATE TABLE IF NOT EXISTS api_token (
     token_hash text PRIMARY KEY,
     id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
     user_name text NOT NULL,
     role text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
     created_at timestamptz NOT NULL DEFAULT now(),
     created_by text,
     revoked_at timestamptz,
     revoked_by text
   )`,
  // Databases created before tokens had ids and issuers get the columns (ids numbered for the old rows).
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'api_token' AND column_name = 'id') THEN
       ALTER TABLE api_token ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE;
     END IF;
   END $$`,
  `ALTER TABLE api_token ADD COLUMN IF NOT EXISTS created_by text`,
  `ALTER TABLE api_token ADD COLUMN IF NOT EXISTS revoked_by text`,
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
  // Keyed by Temporal run too: a workflow id started again is another run, with a ledger of its own.
  `ALTER TABLE gate_decision ADD COLUMN IF NOT EXISTS run_id text NOT NULL DEFAULT ''`,
  `ALTER TABLE gate_decision DROP CONSTRAINT IF EXISTS gate_decision_workflow_id_gate_actor_key`,
  `CREATE UNIQUE INDEX IF NOT EXISTS gate_decision_run_gate_actor ON gate_decision (workflow_id, run_id, gate, actor)`,
  // 目标库租约: one run per target database at a time (lib/target-lease.ts).
  ...LEASE_DDL,
  // Append-only: the trail and the decisions cannot be edited or pruned through the database either.
  `CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$`,
  ...['audit_log', 'gate_decision'].flatMap((t) => [
    `DROP TRIGGER IF EXISTS ${t}_no_change ON ${t}`,
    `CREATE TRIGGER ${t}_no_change BEFORE UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
  ]),
  // 整改台账: corrections sheets, their decisions and outcomes (lib/correction-ledger-schema.ts); append-only too
  ...CORRECTION_DDL,
];

/**
 * 审计防篡改 The roles of the runbook database. The audit trail and the decision ledger belong to an owner
 * role nobody logs in as; the application (the API) connects as APP_ROLE, which may only INSERT and SELECT
 * them — so neither TRUNCATE, ALTER TABLE … DISABLE TRIGGER, UPDATE nor DELETE is open to it, whatever
 * SQL it is made to run. Tokens it may also revoke (UPDATE). Set up by a role that may create roles
 * (the schema's administrator); skipped, with the tables left as they are, when the caller may not.
 */
export const AUDIT_OWNER_ROLE = 'jm_runbook_audit_owner';
export const APP_ROLE = 'jm_runbook_app';

const ROLE_DDL = [
  ...[`${AUDIT_OWNER_ROLE} NOLOGIN`, `${APP_ROLE} LOGIN`].map(
    (r) => `DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r.split(' ')[0]}') THEN CREATE ROLE ${r}; END IF;
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
  ),
  `GRANT USAGE ON SCHEMA public TO ${APP_ROLE}`,
  `ALTER TABLE audit_log OWNER TO ${AUDIT_OWNER_ROLE}`,
  `ALTER TABLE gate_decision OWNER TO ${AUDIT_OWNER_ROLE}`,
  `REVOKE ALL ON audit_log, gate_decision, api_token FROM PUBLIC, ${APP_ROLE}`,
  `GRANT SELECT, INSERT ON audit_log, gate_decision TO ${APP_ROLE}`,
  `GRANT USAGE ON SEQUENCE audit_log_id_seq, gate_decision_id_seq TO ${APP_ROLE}`,
  `GRANT SELECT, INSERT, UPDATE ON api_token TO ${APP_ROLE}`,
  // The API reads who holds a target before a start (409); only the worker takes and releases leases.
  `GRANT SELECT ON target_lease, target_lease_event TO ${APP_ROLE}`,
  ...correctionGrants(APP_ROLE),
];

/** The same database as the application reaches it: APP_ROLE (its password, if any, in RUNBOOK_APP_DATABASE_URL). */
export function appRoleUrl(adminUrl: string): string {
  const u = new URL(adminUrl);
  u.username = APP_ROLE;
  u.password = '';
  return u.toString();
}

export async function ensureRunbookSchema(client: ClientBase): Promise<void> {
  await client.query('SELECT pg_advisory_lock(hashtext($1))', ['jm-runbook-ddl']);
  try {
    for (const sql of DDL) await client.query(sql);
    const { rows } = await client.query<{ may: boolean }>(`SELECT (rolsuper OR rolcreaterole) AS may FROM pg_roles WHERE rolname = current_user`);
    if (rows[0]?.may) {
      // Roles are shared by every database of the server; two set-ups racing to create one are told apart by ROLE_DDL's exception.
      for (const sql of ROLE_DDL) await client.query(sql);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['jm-runbook-ddl']);
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

type Queryable = Pick<ClientBase, 'query'>;

/** A token as it may be shown: never its hash, never its secret. The API documents it from this shape (api/routes/admin-tokens.ts). */
export const tokenRecord = z.object({
  id: z.string(),
  user: z.string(),
  role: z.enum(ROLES),
  createdAt: z.string().meta({ format: 'date-time' }),
  createdBy: z.string().nullable().describe('the admin who issued it; null for the bootstrap command'),
  revokedAt: z.string().meta({ format: 'date-time' }).nullable(),
  revokedBy: z.string().nullable(),
});
export type TokenRecord = z.infer<typeof tokenRecord>;

const RECORD_COLUMNS = `id::text AS id, user_name AS "user", role, created_at AS "createdAt", created_by AS "createdBy", revoked_at AS "revokedAt", revoked_by AS "revokedBy"`;

function record(row: Omit<TokenRecord, 'createdAt' | 'revokedAt'> & { createdAt: Date; revokedAt: Date | null }): TokenRecord {
  return { ...row, createdAt: row.createdAt.toISOString(), revokedAt: row.revokedAt?.toISOString() ?? null };
}

/**
 * Creates a token for a user; the clear text is returned once and never stored. issuedBy is the admin
 * who asked through the API, absent for the bootstrap command (npm run token).
 */
export async function issueToken(db: Queryable, userName: string, role: Role, issuedBy?: string): Promise<TokenRecord & { token: string }> {
  if (!new RegExp(USER_NAME_PATTERN).test(userName)) {
    throw new Error(`user name "${userName}" is not allowed: letters, digits, . _ @ - (at most 64)`);
  }
  if (!ROLES.includes(role)) throw new Error(`role "${role}" is not one of ${ROLES.join(', ')}`);
  const token = `jmrb_${randomBytes(24).toString('base64url')}`;
  const { rows } = await db.query(`INSERT INTO api_token (token_hash, user_name, role, created_by) VALUES ($1, $2, $3, $4) RETURNING ${RECORD_COLUMNS}`, [
    hashToken(token),
    userName,
    role,
    issuedBy ?? null,
  ]);
  return { ...record(rows[0]), token };
}

export async function listTokens(db: Queryable): Promise<TokenRecord[]> {
  const { rows } = await db.query(`SELECT ${RECORD_COLUMNS} FROM api_token ORDER BY id DESC`);
  return rows.map(record);
}

/** Revokes a token (from then on it gets 401); revoking it again changes nothing. Undefined for an unknown id. */
export async function revokeToken(db: Queryable, id: string, revokedBy: string): Promise<TokenRecord | undefined> {
  await db.query('UPDATE api_token SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL', [id, revokedBy]);
  const { rows } = await db.query(`SELECT ${RECORD_COLUMNS} FROM api_token WHERE id = $1`, [id]);
  return rows[0] && record(rows[0]);
}
