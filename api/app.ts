import type { Client } from '@temporalio/client';
import Fastify, { FastifyInstance, LogController } from 'fastify';
import type { Pool } from 'pg';
import type { DestinationStream } from 'pino';
import { REDACT_PATHS } from '../lib/logger';
import { redactUrlQuery } from '../lib/secrets';
import auth, { writeAudit } from './auth';
import { RUN_KINDS } from './kinds';
import openapi from './openapi';
import problems, { sendProblem } from './problems';
import requestId, { requestIdFor } from './request-id';
import { RunAccess } from './run-access';
import adminTokenRoutes from './routes/admin-tokens';
import healthRoutes from './routes/health';
import rehearsalRoutes from './routes/rehearsals';
import reportingScheduleRoutes from './routes/reporting-schedules';
import runRoutes from './routes/runs';
import type { RunKind } from './run-kinds';

export interface AppOptions {
  temporal: Client;
  pool: Pool;
  taskQueue: string;
  uiBaseUrl: string;
  signingKey: string;
  /** REPORTS_DIR: the reports the worker writes, served from here */
  reportsDir: string;
  logLevel?: string;
  /** where the log goes (stdout when absent) */
  logStream?: DestinationStream;
  /** the workflow kinds served; all of api/kinds by default */
  kinds?: readonly RunKind[];
  /** how long one request may wait on Temporal in all (default 15 s): then it is answered 503, never left hanging */
  temporalDeadlineMs?: number;
}

/** A route as fastify registered it; the OpenAPI test compares these with the document. */
export interface RegisteredRoute {
  method: string;
  url: string;
  hidden: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: RegisteredRoute[];
  }
}

/** The operators' HTTP API, assembled from plugins; api/main.ts listens, tests use inject or listen on port 0. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const kinds = opts.kinds ?? RUN_KINDS;
  const app = Fastify({
    logger: {
      name: 'api',
      level: opts.logLevel ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // fastify's default request serializer logs the raw URL: a token in a query string would land in the log.
      serializers: { req: (req) => ({ method: req.method, url: redactUrlQuery(req.url), remoteAddress: req.ip }) },
      ...(opts.logStream ? { stream: opts.logStream } : {}),
    },
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: 64 * 1024,
    // Long enough for any valid id, so a too-long one gets a 400 naming the field rather than a bare 404.
    routerOptions: { maxParamLength: 256 },
    // A URL the router refuses before any route (a parameter over 256 characters: 414; bad encoding: 400)
    // is answered like any other refusal: a problem document with its request id, logged and audited.
    frameworkErrors: (err, request, reply) => {
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 400;
      request.log.warn({ code: err.code, url: redactUrlQuery(request.url), status }, 'request refused by the router');
      reply.header('x-request-id', request.id);
      void writeAudit(opts.pool, request, status);
      return sendProblem(reply, status, status === 414 ? 'URI Too Long' : 'Invalid request', status === 414 ? 'a path parameter is longer than 256 characters; no id of this API is that long' : 'the URL could not be decoded');
    },
    ajv: { customOptions: { allErrors: false, removeAdditional: false, coerceTypes: false } },
  });
  // JSON only: fastify also parses text/plain by default, which would turn a wrong content type into
  // a confusing "body must be object" instead of a plain 415.
  app.removeContentTypeParser('text/plain');
  // Every Temporal call a request makes shares one deadline (gRPC DEADLINE_EXCEEDED → 503 with Retry-After,
  // problems.ts): without it a call caught by a Temporal restart or a half-open connection waits forever, and
  // so does the caller (drill:faults found an API read hung after a restart). The request runs in the
  // connection's call context, as @fastify/request-context runs it in its own.
  const temporalDeadlineMs = opts.temporalDeadlineMs ?? 15_000;
  app.addHook('onRequest', (_request, _reply, done) => {
    void opts.temporal.connection.withDeadline(Date.now() + temporalDeadlineMs, async () => done());
  });
  app.decorate('registeredRoutes', [] as RegisteredRoute[]);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) app.registeredRoutes.push({ method, url: route.url, hidden: Boolean((route.schema as { hide?: boolean } | undefined)?.hide) });
  });
  await app.register(requestId);
  await app.register(problems);
  await app.register(auth, { pool: opts.pool });
  await app.register(openapi, {
    tags: [
      ...kinds.map((k) => ({ name: k.title, description: `${k.title} runs (workflow ${k.workflowType}, ids ${k.idPrefix}…)` })),
      { name: '运行 Runs', description: 'All runs, across kinds' },
      { name: '审批 Approvals', description: 'Gates and the decisions on them' },
      { name: '报告 Reports', description: 'Reports of runs' },
      { name: '令牌 Tokens', description: 'Bearer tokens: issue, list, revoke (admin)' },
      { name: '运维 Operations', description: 'Health and readiness' },
    ],
  });
  await app.register(healthRoutes, { temporal: opts.temporal, pool: opts.pool });
  await app.register(adminTokenRoutes, { pool: opts.pool });
  const runs = new RunAccess(opts.temporal, opts.taskQueue, opts.uiBaseUrl);
  await app.register(runRoutes, {
    runs,
    pool: opts.pool,
    signingKey: opts.signingKey,
    kinds,
    reportsDir: opts.reportsDir,
  });
  // What a kind declares besides its generated routes (the plan's items, the remediation's corrections sheets).
  for (const kind of kinds) {
    if (kind.ownRoutes) await app.register(kind.ownRoutes, { kind, runs, temporal: opts.temporal, pool: opts.pool, taskQueue: opts.taskQueue, signingKey: opts.signingKey });
  }
  await app.register(rehearsalRoutes, { temporal: opts.temporal, taskQueue: opts.taskQueue });
  await app.register(reportingScheduleRoutes, { temporal: opts.temporal, taskQueue: opts.taskQueue });
  return app;
}
