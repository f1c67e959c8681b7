import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { compareRehearsals, loadRehearsals, renderRehearsalComparison } from '../../reports/rehearsal-comparison';
import { ProblemError } from '../problems';
import { problems } from '../schemas';

/** 彩排对比 Several finished rehearsals compared per step and against the maintenance window (viewers up). */
export interface RehearsalRoutesOptions {
  temporal: Client;
  taskQueue: string;
}

export default async function rehearsalRoutes(app: FastifyInstance, opts: RehearsalRoutesOptions) {
  app.get<{ Querystring: { workflowIds?: string; limit?: string; windowHours?: string; format?: 'json' | 'markdown' } }>(
    '/rehearsals/comparison',
    {
      config: { roles: ['viewer', 'operator', 'approver'] },
      schema: {
        summary: '彩排对比 Compare rehearsals: planned vs actual minutes per step, projection against the window',
        tags: ['割接 Cutover', '报告 Reports'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            workflowIds: {
              type: 'string',
              pattern: '^cutover-[A-Za-z0-9][A-Za-z0-9._-]{0,127}(,cutover-[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,19}$',
              description: 'comma-separated cutover workflow ids; default the most recent finished rehearsals',
            },
            // Query strings stay strings here (the API does not coerce types): numbers by pattern.
            limit: { type: 'string', pattern: '^([2-9]|1[0-9]|20)$', description: 'how many recent rehearsals (2–20, default 5) when none are named' },
            windowHours: { type: 'string', pattern: '^(?!0+(\\.0+)?$)\\d{1,3}(\\.\\d{1,2})?$', description: 'the cutover weekend’s window in hours; default the latest run’s own' },
            format: { type: 'string', enum: ['json', 'markdown'], default: 'json' },
          },
        },
        response: {
          200: {
            description: '对比 The comparison (JSON, or Markdown with format=markdown)',
            content: {
              'application/json': { schema: { type: 'object', additionalProperties: true, required: ['kind', 'runs', 'steps', 'projection'], properties: { kind: { type: 'string' } } } },
              'text/markdown': { schema: { type: 'string' } },
            },
          },
          ...problems(400, 401, 403, 404, 409, 500),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const named = q.workflowIds?.split(',');
      const { runs, refused } = await loadRehearsals(opts.temporal, { taskQueue: opts.taskQueue, workflowIds: named, limit: named?.length ?? Number(q.limit ?? 5) });
      if (refused.length) {
        const unknown = refused.every((r) => r.why.startsWith('no cutover'));
        throw new ProblemError(unknown ? 404 : 409, unknown ? 'Unknown run' : 'Not a finished rehearsal', refused.map((r) => `${r.workflowId}: ${r.why}`).join('; '), 'querystring.workflowIds');
      }
      if (runs.length < 2) throw new ProblemError(409, 'Not enough rehearsals', `a comparison needs two finished rehearsals; found ${runs.length}`, 'querystring.workflowIds');
      const comparison = compareRehearsals(runs, q.windowHours === undefined ? undefined : Number(q.windowHours) * 60);
      if (q.format === 'markdown') return reply.type('text/markdown; charset=utf-8').send(renderRehearsalComparison(comparison));
      return reply.type('application/json; charset=utf-8').send(comparison);
    },
  );
}
