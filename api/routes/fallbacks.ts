import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { signDecision } from '../../lib/decision-signing';
import { fallbackActionSignal, FallbackChoice, FallbackInput, fallbackStateQuery, FALLBACK_STEPS } from '../../workflows/fallback-messages';
import { RunbookKind, RunbookPhase, RunbookStatus } from '../../workflows/search-attributes';
import { ProblemError } from '../problems';
import { problems } from '../schemas';

const TAG = '回退 Fallback';
const answer = (description: string) => ({ description, type: 'object', additionalProperties: true });

/** 回退 fallback runs: start one by hand, read its state, retry or abort a failed step. */
export interface FallbackRoutesOptions {
  temporal: Client;
  taskQueue: string;
  uiBaseUrl: string;
  signingKey: string;
}

const workflowIdPattern = '^fallback-[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

export default async function fallbackRoutes(app: FastifyInstance, opts: FallbackRoutesOptions) {
  const { temporal, taskQueue, uiBaseUrl, signingKey } = opts;
  const uiLink = (workflowId: string) => `${uiBaseUrl}/namespaces/${temporal.options.namespace}/workflows/${encodeURIComponent(workflowId)}`;

  async function running(workflowId: string): Promise<void> {
    try {
      const d = await temporal.workflow.getHandle(workflowId).describe();
      if (d.type !== 'fallback') throw new WorkflowNotFoundError('not a fallback', workflowId, undefined);
      if (d.status.name !== 'RUNNING') throw new ProblemError(409, 'Run finished', `run ${workflowId} is ${d.status.name.toLowerCase()}`, 'workflowId');
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ProblemError(404, 'Unknown run', `no fallback run with id ${workflowId}`, 'workflowId');
      throw err;
    }
  }

  app.post<{ Body: { runId: string; reason: string } }>(
    '/fallbacks',
    {
      config: { roles: ['operator'], action: 'start fallback' },
      schema: {
        summary: '手动回退 Start the six-step fallback by hand',
        tags: [TAG],
        response: { 201: answer('已启动 Started'), ...problems(400, 401, 403, 409, 413, 415, 500) },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['runId', 'reason'],
          properties: { runId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$' }, reason: { type: 'string', minLength: 1, maxLength: 2000 } },
        },
      },
    },
    async (request, reply) => {
      const workflowId = `fallback-${request.body.runId}`;
      const input: FallbackInput = { runId: request.body.runId, requestedBy: request.actor!.name, reason: `手动回退 started by hand by ${request.actor!.name}: ${request.body.reason}` };
      try {
        await temporal.workflow.start('fallback', {
          workflowId,
          taskQueue,
          args: [input],
          staticSummary: `回退 Fallback of ${request.body.runId} · started by hand by ${input.requestedBy}`,
          typedSearchAttributes: [
            { key: RunbookKind, value: 'fallback' },
            { key: RunbookPhase, value: 'stop-new' },
            { key: RunbookStatus, value: 'running' },
          ],
        });
      } catch (err) {
        if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') throw new ProblemError(409, 'Run exists', `a fallback for ${request.body.runId} is already running`, 'runId');
        throw err;
      }
      return reply.code(201).send({ workflowId, ui: uiLink(workflowId) });
    },
  );

  app.get<{ Params: { workflowId: string } }>(
    '/fallbacks/:workflowId',
    {
      config: { roles: ['viewer', 'operator', 'approver'] },
      schema: {
        summary: '查看回退 Get a fallback run’s state',
        tags: [TAG],
        response: { 200: answer('回退 Fallback state'), ...problems(400, 401, 403, 404, 500) },
        params: { type: 'object', properties: { workflowId: { type: 'string', pattern: workflowIdPattern } } },
      },
    },
    async (request) => {
      const { workflowId } = request.params;
      try {
        const state = await temporal.workflow.getHandle(workflowId).query(fallbackStateQuery);
        return { workflowId, ui: uiLink(workflowId), ...state };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new ProblemError(404, 'Unknown run', `no fallback run with id ${workflowId}`, 'workflowId');
        throw err;
      }
    },
  );

  app.post<{ Params: { workflowId: string; step: string }; Body: { action: FallbackChoice; reason?: string } }>(
    '/fallbacks/:workflowId/steps/:step/action',
    {
      config: { roles: ['operator'], action: 'retry or abort a fallback step' },
      schema: {
        summary: '回退步骤处置 Retry or abort a failed fallback step',
        tags: [TAG],
        response: { 202: answer('已送达 Choice sent'), ...problems(400, 401, 403, 404, 409, 413, 415, 422, 500) },
        params: { type: 'object', properties: { workflowId: { type: 'string', pattern: workflowIdPattern }, step: { type: 'string', enum: FALLBACK_STEPS.map((s) => s.key) } } },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['action'],
          properties: { action: { type: 'string', enum: ['retry', 'abort'] }, reason: { type: 'string', maxLength: 2000 } },
        },
      },
    },
    async (request, reply) => {
      const { workflowId, step } = request.params;
      await running(workflowId);
      const signed = signDecision<FallbackChoice>(
        { workflowId, gate: `fallback:${step}`, decision: request.body.action, actor: request.actor!.name, role: request.actor!.role, reason: request.body.reason, issuedAt: new Date().toISOString() },
        signingKey,
      );
      await temporal.workflow.getHandle(workflowId).signal(fallbackActionSignal, signed);
      return reply.code(202).send({ workflowId, step, action: request.body.action, status: 'sent' });
    },
  );
}
