import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { redactUrlQuery } from '../lib/secrets';

/**
 * Errors as RFC 9457 problem documents (application/problem+json), naming the offending field where
 * there is one, so an operator at 3 a.m. reads what to fix rather than a stack trace.
 */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly field?: string,
  ) {
    super(detail);
  }
}

export function sendProblem(reply: FastifyReply, status: number, title: string, detail: string, field?: string) {
  // Every 503 is "come back later" (a dependency down, a run still starting): say when (RFC 9110 Retry-After).
  if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '5');
  return reply
    .code(status)
    .type('application/problem+json')
    // The instance is the path as requested, with secret-looking query values (a token put in the URL) blanked.
    .send({ type: 'about:blank', title, status, detail, ...(field ? { field } : {}), instance: redactUrlQuery(reply.request.url), requestId: reply.request.id });
}

/** gRPC UNAVAILABLE (14) and DEADLINE_EXCEEDED (4): the Temporal server is down or unreachable. */
const TEMPORAL_DOWN = new Set([4, 14]);
/** PostgreSQL: the session was ended (57P01-57P03) or the connection failed (08xxx); Node: refused or reset. */
const DB_DOWN = /^(57P0[123]|08\d\d\d|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)$/;

/** What the request depends on that is down for now, if that is why it failed: the caller should retry later. */
export function unavailableDependency(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; name?: string; message?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'number' && TEMPORAL_DOWN.has(e.code) && /ServiceError|GrpcError|Error/.test(e.name ?? '')) return 'the Temporal server';
    if (e.name === 'TransportError' || /Failed to connect|tcp connect error|transport error/i.test(e.message ?? '')) return 'the Temporal server';
    if (typeof e.code === 'string' && DB_DOWN.test(e.code)) return 'the runbook database';
    if (/Connection terminated|Client was closed|connection lost|terminating connection/i.test(e.message ?? '')) return 'the runbook database';
  }
  return undefined;
}

export default fp(async function problems(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | ProblemError, request, reply) => {
    if (err instanceof ProblemError) return sendProblem(reply, err.status, err.title, err.message, err.field);
    if ((err as FastifyError).validation) {
      const v = (err as FastifyError).validation![0];
      const missing = (v.params as { missingProperty?: string }).missingProperty;
      const extra = (v.params as { additionalProperty?: string }).additionalProperty;
      const allowed = (v.params as { allowedValues?: unknown[] }).allowedValues;
      const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
      const field = [(err as FastifyError).validationContext, path || missing || extra].filter(Boolean).join('.');
      const detail = missing
        ? `${field} is required`
        : extra
          ? `${field} is not an accepted field`
          : `${field} ${v.message}${allowed ? ': ' + allowed.join(', ') : ''}`;
      return sendProblem(reply, 400, 'Invalid request', detail, field);
    }
    const down = unavailableDependency(err);
    if (down) {
      // Not our bug and not the caller's: say what is down and when to try again (RFC 9110 Retry-After).
      request.log.warn({ err: err.message, dependency: down }, 'dependency unavailable 依赖服务不可用');
      return sendProblem(reply, 503, 'Service Unavailable', `${down} is unavailable for the moment; try again shortly 服务暂不可用，请稍后重试`);
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status >= 500) request.log.error({ err }, 'request failed');
    // fastify's own 4xx (body too large, wrong content type, poisoned JSON …) keep their message.
    return sendProblem(reply, status, STATUS_CODES[status] ?? 'Error', status >= 500 ? 'internal error; see the API log for this request id' : err.message);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'Not found', `no route ${request.method} ${request.url}`));
});
