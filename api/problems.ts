import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

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
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: 'about:blank', title, status, detail, ...(field ? { field } : {}), instance: reply.request.url, requestId: reply.request.id });
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
    const status = (err as FastifyError).statusCode ?? 500;
    if (status >= 500) request.log.error({ err }, 'request failed');
    // fastify's own 4xx (body too large, wrong content type, poisoned JSON …) keep their message.
    return sendProblem(reply, status, STATUS_CODES[status] ?? 'Error', status >= 500 ? 'internal error; see the API log for this request id' : err.message);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 404, 'Not found', `no route ${request.method} ${request.url}`));
});
