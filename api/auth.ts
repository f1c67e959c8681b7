import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { hashToken, Role } from '../lib/runbook-db';
import { redactUrlQuery } from '../lib/secrets';
import { sendProblem } from './problems';

/**
 * Bearer-token authentication against hashed tokens in the runbook database, role checks per route
 * (route config `roles`), and the audit trail: every state-changing request is recorded with who,
 * what, which run, from where, and the outcome — refused ones included.
 */
export interface Actor {
  name: string;
  role: Role;
  /** the id of the token the request came with */
  tokenId: string;
}

/** What a handler adds to its request's audit row: the run it acted on (known only once it is started) and detail. */
export interface AuditNote {
  runId?: string;
  detail: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
    audit: AuditNote;
  }
  interface FastifyContextConfig {
    /** roles allowed on the route; absent = public (health only) */
    roles?: readonly Role[];
    /** the audit trail's name for the action */
    action?: string;
    /** record successful reads too: reads that show who holds access (the token list) */
    auditReads?: boolean;
  }
}

export default fp(async function auth(app: FastifyInstance, opts: { pool: Pool }) {
  const { pool } = opts;

  app.decorateRequest('audit', null as unknown as AuditNote);

  app.addHook('onRequest', async (request, reply) => {
    request.audit = { detail: {} };
    const roles = request.routeOptions.config.roles;
    if (!roles) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return sendProblem(reply, 401, 'Unauthenticated', 'send "Authorization: Bearer <token>"; tokens are issued with npm run token');
    const { rows } = await pool.query<{ id: string; user_name: string; role: Role }>(
      'SELECT id::text AS id, user_name, role FROM api_token WHERE token_hash = $1 AND revoked_at IS NULL',
      [hashToken(match[1])],
    );
    if (!rows.length) return sendProblem(reply, 401, 'Unauthenticated', 'the bearer token is unknown or revoked');
    request.actor = { name: rows[0].user_name, role: rows[0].role, tokenId: rows[0].id };
    if (request.actor.role !== 'admin' && !roles.includes(request.actor.role)) {
      return sendProblem(reply, 403, 'Forbidden', `role ${request.actor.role} may not ${request.routeOptions.config.action ?? 'do this'}; allowed: ${roles.join(', ')}`);
    }
  });

  // onSend, not onResponse: the row is written before the client hears the outcome, so a caller
  // that got an answer can rely on the trail already holding it.
  app.addHook('onSend', async (request: FastifyRequest, reply, payload) => {
    const status = reply.statusCode;
    // Successful reads change nothing and would flood the trail with status polling; refused reads
    // (bad token, hostile id, unknown run) are probes worth a record.
    const read = request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS';
    if (read && status < 400 && !request.routeOptions.config.auditReads) return payload;
    await writeAudit(pool, request, status);
    return payload;
  });
});

/** One row of the audit trail for a request, whatever answered it (a route, the router refusing its URL). */
export async function writeAudit(pool: Pool, request: FastifyRequest, status: number): Promise<void> {
    const params = auditSafe(request.params ?? {}) as Record<string, string>;
    const note = request.audit ?? { detail: {} };
    await pool
      .query(
        `INSERT INTO audit_log (actor, role, action, run_id, source_ip, request_id, status_code, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          request.actor?.name ?? null,
          request.actor?.role ?? null,
          request.routeOptions?.config?.action ?? `${request.method} ${request.routeOptions?.url ?? '(no route)'}`,
          note.runId ?? (typeof params.workflowId === 'string' ? params.workflowId : null),
          request.ip,
          request.id,
          status,
          status < 400 ? 'ok' : status < 500 ? 'refused' : 'error',
          JSON.stringify({
            method: request.method,
            url: auditSafe(redactUrlQuery(request.url)),
            params,
            ...(auditSafe(note.detail) as object),
          }),
        ],
      )
      .catch((err) => request.log.error({ err }, 'audit trail write failed'));
}

/**
 * Request values as the audit trail keeps them: hostile input is exactly what must be recorded, but
 * PostgreSQL refuses NUL in jsonb and an oversized value must not bloat the trail, so control
 * characters are escaped and long strings cut (with their length noted).
 */
function auditSafe(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    // eslint-disable-next-line no-control-regex -- escapes control bytes so they cannot forge lines in the audit trail
    const clean = value.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    return clean.length > 256 ? `${clean.slice(0, 256)}…(${value.length} chars)` : clean;
  }
  if (depth > 3 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => auditSafe(v, depth + 1));
  return Object.fromEntries(Object.entries(value).slice(0, 20).map(([k, v]) => [auditSafe(k) as string, auditSafe(v, depth + 1)]));
}
