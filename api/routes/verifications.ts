import { randomBytes } from 'node:crypto';
import { Client, WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { VerificationInput, VerificationOutcome, verificationProgressQuery } from '../../workflows/verification-messages';
import { RunbookKind, RunbookPhase, RunbookStatus } from '../../workflows/search-attributes';
import { ProblemError } from '../problems';
import { problems, verificationOptionProperties } from '../schemas';

const TAG = '验证 Verification';

/** 迁移结果验证 verification runs on their own: start one (operator), read its progress, result and report (viewer). */
export interface VerificationRoutesOptions {
  temporal: Client;
  taskQueue: string;
  uiBaseUrl: string;
}

const workflowIdPattern = '^verification-[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const READERS = ['viewer', 'operator', 'approver'] as const;

export default async function verificationRoutes(app: FastifyInstance, opts: VerificationRoutesOptions) {
  const { temporal, taskQueue, uiBaseUrl } = opts;
  const uiLink = (workflowId: string) => `${uiBaseUrl}/namespaces/${temporal.options.namespace}/workflows/${encodeURIComponent(workflowId)}`;

  async function describe(workflowId: string): Promise<WorkflowExecutionDescription> {
    try {
      const d = await temporal.workflow.getHandle(workflowId).describe();
      if (d.type !== 'verification') throw new WorkflowNotFoundError('not a verification', workflowId, undefined);
      return d;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ProblemError(404, 'Unknown run', `no verification run with id ${workflowId}`, 'workflowId');
      throw err;
    }
  }
  const params = { type: 'object', properties: { workflowId: { type: 'string', pattern: workflowIdPattern } } };
  const answer = (description: string) => ({ description, type: 'object', additionalProperties: true });

  app.post<{ Body: Omit<VerificationInput, 'runId' | 'stepLabel' | 'requestedBy'> & { runId?: string } }>(
    '/verifications',
    {
      config: { roles: ['operator'], action: 'start verification' },
      schema: {
        summary: '启动迁移结果验证 Start a verification of the migrated data',
        tags: [TAG],
        response: { 201: answer('已启动 Started'), ...problems(400, 401, 403, 409, 413, 415, 500) },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            runId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$' },
            tables: { type: 'array', items: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$' }, maxItems: 64, description: '表 tables; default all' },
            ...verificationOptionProperties,
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const runId = body.runId ?? `verify-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
      const workflowId = `verification-${runId}`;
      const input: VerificationInput = { ...body, runId, requestedBy: request.actor!.name };
      try {
        await temporal.workflow.start('verification', {
          workflowId,
          taskQueue,
          args: [input],
          memo: { requestedBy: input.requestedBy },
          staticSummary: `迁移结果验证 Verification ${runId} · started by ${input.requestedBy}`,
          typedSearchAttributes: [
            { key: RunbookKind, value: 'verification' },
            { key: RunbookPhase, value: 'verify' },
            { key: RunbookStatus, value: 'running' },
          ],
        });
      } catch (err) {
        if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') throw new ProblemError(409, 'Run exists', `a verification with runId ${runId} was already started`, 'runId');
        throw err;
      }
      return reply.code(201).send({ workflowId, runId, ui: uiLink(workflowId) });
    },
  );

  app.get<{ Params: { workflowId: string } }>(
    '/verifications/:workflowId',
    {
      config: { roles: READERS },
      schema: {
        summary: '查看验证结果 Get a verification’s progress or result',
        tags: [TAG],
        response: { 200: answer('验证 Verification'), ...problems(400, 401, 403, 404, 500) },
        params,
      },
    },
    async (request) => {
    const { workflowId } = request.params;
    const d = await describe(workflowId);
    const handle = temporal.workflow.getHandle(workflowId);
    if (d.status.name === 'COMPLETED') {
      const { markdown: _markdown, ...result } = (await handle.result()) as VerificationOutcome;
      return { workflowId, execution: d.status.name, ui: uiLink(workflowId), result };
    }
    const progress = d.status.name === 'RUNNING' ? await handle.query(verificationProgressQuery) : undefined;
    return { workflowId, execution: d.status.name, ui: uiLink(workflowId), progress };
    },
  );

  app.get<{ Params: { workflowId: string } }>(
    '/verifications/:workflowId/report',
    {
      config: { roles: READERS },
      schema: {
        summary: '验证报告 Verification report (Markdown)',
        tags: [TAG, '报告 Reports'],
        response: {
          200: { description: '报告 The report', content: { 'text/markdown': { schema: { type: 'string' } } } },
          ...problems(400, 401, 403, 404, 409, 500),
        },
        params,
      },
    },
    async (request, reply) => {
    const { workflowId } = request.params;
    const d = await describe(workflowId);
    if (d.status.name !== 'COMPLETED') throw new ProblemError(409, 'No report yet', `verification ${workflowId} is ${d.status.name.toLowerCase()}; the report exists once it completes`, 'workflowId');
    const result = (await temporal.workflow.getHandle(workflowId).result()) as VerificationOutcome;
    return reply.type('text/markdown; charset=utf-8').send(result.markdown);
    },
  );
}
