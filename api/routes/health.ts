import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';

/** Liveness and readiness: ready only when Temporal and the runbook database answer. */
export default async function healthRoutes(app: FastifyInstance, opts: { temporal: Client; pool: Pool }) {
  app.get(
    '/health',
    {
      schema: {
        summary: '存活检查 Liveness',
        tags: ['运维 Operations'],
        security: [],
        response: { 200: { description: 'the process answers', type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } },
      },
    },
    async () => ({ status: 'ok' }),
  );
  const readiness = {
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['ready', 'not ready'] },
      checks: { type: 'object', additionalProperties: { type: 'string' }, description: 'ok, or why not' },
    },
  };
  app.get(
    '/ready',
    {
      schema: {
        summary: '就绪检查 Readiness: Temporal and the runbook database reachable',
        tags: ['运维 Operations'],
        security: [],
        response: { 200: { ...readiness, description: 'ready' }, 503: { ...readiness, description: 'not ready' } },
      },
    },
    async (_request, reply) => {
      const checks: Record<string, string> = {};
      await opts.temporal.workflowService
        .getSystemInfo({})
        .then(() => (checks.temporal = 'ok'))
        .catch((e: Error) => (checks.temporal = e.message));
      await opts.pool
        .query('SELECT 1')
        .then(() => (checks.runbookDatabase = 'ok'))
        .catch((e: Error) => (checks.runbookDatabase = e.message));
      const ready = Object.values(checks).every((v) => v === 'ok');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
    },
  );
}
