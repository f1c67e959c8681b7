import type { Client } from '@temporalio/client';
import Fastify, { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { REDACT_PATHS } from '../lib/logger';
import auth from './auth';
import problems from './problems';
import cutoverRoutes from './routes/cutovers';
import fallbackRoutes from './routes/fallbacks';
import healthRoutes from './routes/health';
import planRoutes from './routes/plan';

export interface AppOptions {
  temporal: Client;
  pool: Pool;
  taskQueue: string;
  uiBaseUrl: string;
  signingKey: string;
  logLevel?: string;
}

/** The operators' HTTP API, assembled from plugins; api/main.ts listens, tests use inject or listen on port 0. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { name: 'api', level: opts.logLevel ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { allErrors: false, removeAdditional: false, coerceTypes: false } },
  });
  await app.register(problems);
  await app.register(auth, { pool: opts.pool });
  await app.register(healthRoutes, { temporal: opts.temporal, pool: opts.pool });
  await app.register(cutoverRoutes, { temporal: opts.temporal, taskQueue: opts.taskQueue, uiBaseUrl: opts.uiBaseUrl, signingKey: opts.signingKey });
  await app.register(fallbackRoutes, { temporal: opts.temporal, taskQueue: opts.taskQueue, uiBaseUrl: opts.uiBaseUrl, signingKey: opts.signingKey });
  await app.register(planRoutes, { temporal: opts.temporal, taskQueue: opts.taskQueue, uiBaseUrl: opts.uiBaseUrl, signingKey: opts.signingKey });
  return app;
}
