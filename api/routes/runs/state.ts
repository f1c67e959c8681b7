import type { FastifyInstance } from 'fastify';
import type { Progress } from '../../run-kinds';
import { problems } from '../../schemas';
import { correlate, EXECUTION_STATUSES, type KindRoutesOptions, READERS } from './context';

/** A run as GET /<collection>/:workflowId answers: its kind's state, and what this route adds to it. */
export type RunView<State = object> = State & {
  workflowId: string;
  kind: string;
  execution: string;
  progress: Progress;
  openGates: string[];
  reports: string[];
  ui: string;
};

/** 状态 GET /<collection>/:workflowId: a run's state as its kind publishes it, with progress, open gates and report names. */
export default async function stateRoute(app: FastifyInstance, { ctx, kind, paths }: KindRoutesOptions) {
  const { describe, readState, uiLink } = ctx;
  const { tag, base, runParams } = paths;

  app.get<{ Params: { workflowId: string } }>(
    `${base}/:workflowId`,
    {
      config: { roles: READERS, action: `view ${kind.kind}` },
      schema: {
        summary: `查看${kind.title.split(' ')[0]}状态 Get a ${kind.kind} run's state and progress`,
        tags: [tag],
        params: runParams,
        response: {
          200: {
            description: '运行状态 Run state',
            type: 'object',
            required: kind.stateSchema.required,
            additionalProperties: kind.stateSchema.additionalProperties ?? false,
            properties: {
              ...kind.stateSchema.properties,
              workflowId: { type: 'string' },
              kind: { type: 'string' },
              execution: { type: 'string', enum: EXECUTION_STATUSES },
              progress: {
                type: 'object',
                properties: { done: { type: 'integer' }, total: { type: 'integer' }, current: { type: 'string' } },
              },
              openGates: { type: 'array', items: { type: 'string' } },
              reports: { type: 'array', items: { type: 'string' }, description: 'report names for …/reports/{name}; a file report answers 404 until the run has written it' },
              ui: { type: 'string' },
            },
          },
          ...problems(400, 401, 403, 404, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const { workflowId } = request.params;
      correlate(request, reply, workflowId);
      const d = await describe(kind, workflowId);
      const state = await readState(kind, workflowId, d.status.name);
      return {
        ...state,
        workflowId,
        kind: kind.kind,
        execution: d.status.name,
        progress: kind.progress(state),
        openGates: d.status.name === 'RUNNING' ? kind.openGates(state) : [],
        reports: Object.keys(kind.reports),
        ui: uiLink(workflowId),
      } satisfies RunView<typeof state>;
    },
  );
}
