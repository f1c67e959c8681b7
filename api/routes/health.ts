import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';

/** Liveness and readiness: ready only when Temporal and the runbook database answer. */
export default async function healthRoutes(app: FastifyInstance, opts: { temporal: Client; pool: Pool }) {
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
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
  });
}
