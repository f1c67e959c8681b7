import { Client, QueryNotRegisteredError, WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { signDecision } from '../../lib/decision-signing';
import { renderStatusHtml, renderStatusMarkdown } from '../../lib/plan-report';
import { mayActFor, PlanDecisionKind, PlanInput, planProgressQuery, REBASELINE_ROLE, rebaselineItemSignal, signOffItemSignal } from '../../workflows/plan-messages';
import { dayToMs, ItemProgress, PlanProgress } from '../../workflows/plan-progress';
import { RunbookKind, RunbookPhase, RunbookProgress, RunbookStatus } from '../../workflows/search-attributes';
import { ProblemError } from '../problems';
import { problems } from '../schemas';

/** 项目计划 the 90-day project plan: start it, read its progress and report, sign off and re-baseline items. */
export interface PlanRoutesOptions {
  temporal: Client;
  taskQueue: string;
  uiBaseUrl: string;
  signingKey: string;
}

const workflowIdPattern = '^plan-[A-Za-z0-9][A-Za-z0-9._-]{0,39}$';
const datePattern = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';
const TAG = '项目计划 Plan';
/** Documentation only: the answers keep every field the handlers send (additionalProperties), so serialization drops nothing. */
const answer = (description: string) => ({ description, type: 'object', additionalProperties: true });

const itemParams = {
  type: 'object',
  properties: { workflowId: { type: 'string', pattern: workflowIdPattern }, itemId: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,39}$' } },
} as const;

/** A calendar date that exists (2025-02-30 does not), else a problem naming the field. */
function realDate(value: string, field: string): string {
  const ms = dayToMs(value);
  if (Number.isNaN(ms) || new Date(ms + 8 * 3600_000).toISOString().slice(0, 10) !== value) {
    throw new ProblemError(400, 'Invalid request', `${field} "${value}" is not a calendar date (YYYY-MM-DD)`, field);
  }
  return value;
}

export default async function planRoutes(app: FastifyInstance, opts: PlanRoutesOptions) {
  const { temporal, taskQueue, uiBaseUrl, signingKey } = opts;
  const uiLink = (workflowId: string) => `${uiBaseUrl}/namespaces/${temporal.options.namespace}/workflows/${encodeURIComponent(workflowId)}`;

  async function describe(workflowId: string): Promise<WorkflowExecutionDescription> {
    try {
      const d = await temporal.workflow.getHandle(workflowId).describe();
      if (d.type !== 'plan') throw new WorkflowNotFoundError('not a plan', workflowId, undefined);
      return d;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ProblemError(404, 'Unknown plan', `no project plan with id ${workflowId}`, 'workflowId');
      throw err;
    }
  }

  async function progressOf(workflowId: string): Promise<PlanProgress> {
    try {
      return await temporal.workflow.getHandle(workflowId).query(planProgressQuery);
    } catch (err) {
      if (err instanceof QueryNotRegisteredError) throw new ProblemError(503, 'Plan starting', `plan ${workflowId} is still loading its definition; try again in a moment`);
      throw err;
    }
  }

  /** The checks the workflow repeats, done here first so a person hears the refusal at once. */
  async function openItem(workflowId: string, itemId: string): Promise<{ item: ItemProgress; plan: PlanProgress }> {
    const d = await describe(workflowId);
    if (d.status.name !== 'RUNNING') throw new ProblemError(409, 'Plan finished', `plan ${workflowId} is ${d.status.name.toLowerCase()}; it takes no more changes`, 'workflowId');
    const plan = await progressOf(workflowId);
    const item = plan.items.find((i) => i.id === itemId);
    if (!item) throw new ProblemError(404, 'Unknown item', `plan ${workflowId} has no item "${itemId}"`, 'itemId');
    if (item.status === 'done') throw new ProblemError(409, 'Item done', `item "${itemId}" is already done (${item.doneBy})`, 'itemId');
    return { item, plan };
  }

  async function send(request: FastifyRequest, workflowId: string, itemId: string, kind: PlanDecisionKind, extra: { reason?: string; dueDate?: string }) {
    const signed = signDecision(
      { workflowId, gate: itemId, decision: kind, actor: request.actor!.name, role: request.actor!.role, ...extra, issuedAt: new Date().toISOString() },
      signingKey,
    );
    await temporal.workflow.getHandle(workflowId).signal(kind === 'signoff' ? signOffItemSignal : rebaselineItemSignal, signed);
    request.log.info({ workflowId, itemId, kind }, 'plan decision sent');
  }

  app.post<{ Body: { t0: string; planId?: string } }>(
    '/plans',
    {
      config: { roles: ['operator'], action: 'start plan' },
      schema: {
        summary: '启动项目计划 Start the 90-day project plan',
        tags: [TAG],
        response: { 201: answer('已启动 Started'), ...problems(400, 401, 403, 409, 413, 415, 500) },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['t0'],
          properties: {
            t0: { type: 'string', pattern: datePattern, description: '合同签订日期 contract signature date (YYYY-MM-DD, China time)' },
            planId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$' },
          },
        },
      },
    },
    async (request, reply) => {
      const t0 = realDate(request.body.t0, 'body.t0');
      const planId = request.body.planId ?? `jm-${t0}`;
      const workflowId = `plan-${planId}`;
      const input: PlanInput = { planId, t0, startedBy: request.actor!.name };
      try {
        await temporal.workflow.start('plan', {
          workflowId,
          taskQueue,
          args: [input],
          memo: { startedBy: input.startedBy, t0 },
          staticSummary: `项目计划 Project plan ${planId} · T0 ${t0} · started by ${input.startedBy}`,
          typedSearchAttributes: [
            { key: RunbookKind, value: 'plan' },
            { key: RunbookPhase, value: 'kickoff' },
            { key: RunbookStatus, value: 'running' },
            { key: RunbookProgress, value: 0 },
          ],
        });
      } catch (err) {
        if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') {
          throw new ProblemError(409, 'Plan exists', `a project plan with planId ${planId} was already started`, 'planId');
        }
        throw err;
      }
      request.log.info({ workflowId, t0 }, 'plan started');
      return reply.code(201).send({ workflowId, planId, t0, ui: uiLink(workflowId) });
    },
  );

  app.get<{ Params: { workflowId: string } }>(
    '/plans/:workflowId',
    {
      config: { roles: ['viewer', 'operator', 'approver'] },
      schema: {
        summary: '查看项目计划进度 Get the plan’s progress',
        tags: [TAG],
        params: { type: 'object', properties: { workflowId: { type: 'string', pattern: workflowIdPattern } } },
        response: { 200: answer('进度 Plan progress'), ...problems(400, 401, 403, 404, 500) },
      },
    },
    async (request) => {
      const { workflowId } = request.params;
      const d = await describe(workflowId);
      return { workflowId, execution: d.status.name, ui: uiLink(workflowId), ...(await progressOf(workflowId)) };
    },
  );

  app.get<{ Params: { workflowId: string }; Querystring: { format?: 'markdown' | 'html' } }>(
    '/plans/:workflowId/report',
    {
      config: { roles: ['viewer', 'operator', 'approver'] },
      schema: {
        summary: '项目计划报告 Plan status report (Markdown or HTML)',
        tags: [TAG, '报告 Reports'],
        response: {
          200: { description: '报告 The report', content: { 'text/markdown': { schema: { type: 'string' } }, 'text/html': { schema: { type: 'string' } } } },
          ...problems(400, 401, 403, 404, 500),
        },
        params: { type: 'object', properties: { workflowId: { type: 'string', pattern: workflowIdPattern } } },
        querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['markdown', 'html'] } } },
      },
    },
    async (request, reply) => {
      const { workflowId } = request.params;
      await describe(workflowId);
      const p = await progressOf(workflowId);
      return request.query.format === 'html'
        ? reply.type('text/html; charset=utf-8').send(renderStatusHtml(p))
        : reply.type('text/markdown; charset=utf-8').send(renderStatusMarkdown(p));
    },
  );

  app.post<{ Params: { workflowId: string; itemId: string }; Body: { note?: string } }>(
    '/plans/:workflowId/items/:itemId/signoff',
    {
      config: { roles: ['operator', 'approver'], action: 'sign off plan item' },
      schema: {
        summary: '签收计划事项 Sign off a plan item',
        tags: [TAG, '审批 Approvals'],
        response: { 202: answer('已送达 Sign-off sent'), ...problems(400, 401, 403, 404, 409, 413, 415, 500) },
        params: itemParams,
        body: { type: 'object', additionalProperties: false, properties: { note: { type: 'string', maxLength: 2000 } } },
      },
    },
    async (request, reply) => {
      const { workflowId, itemId } = request.params;
      const { item, plan } = await openItem(workflowId, itemId);
      if (item.completion !== 'signoff') throw new ProblemError(409, 'Automated item', `item "${itemId}" completes by its automated run (${item.completion}), not by sign-off`, 'itemId');
      if (!mayActFor(request.actor!.role, item.ownerRole)) {
        throw new ProblemError(403, 'Wrong role', `role ${request.actor!.role} may not sign off "${itemId}"; its owner role is ${item.ownerRole}`, 'itemId');
      }
      if (item.status === 'blocked') throw new ProblemError(409, 'Item blocked', `item "${itemId}" waits for ${item.waitingFor}`, 'itemId');
      await send(request, workflowId, itemId, 'signoff', { reason: request.body?.note });
      return reply.code(202).send({ workflowId, itemId, status: 'sent', t0: plan.t0, ui: uiLink(workflowId) });
    },
  );

  app.post<{ Params: { workflowId: string; itemId: string }; Body: { dueDate: string; reason: string } }>(
    '/plans/:workflowId/items/:itemId/rebaseline',
    {
      config: { roles: [REBASELINE_ROLE], action: 're-baseline plan item' },
      schema: {
        summary: '调整计划事项期限 Re-baseline a plan item’s due date',
        tags: [TAG],
        response: { 202: answer('已送达 Re-baseline sent'), ...problems(400, 401, 403, 404, 409, 413, 415, 500) },
        params: itemParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['dueDate', 'reason'],
          properties: {
            dueDate: { type: 'string', pattern: datePattern, description: 'new due date (YYYY-MM-DD, China time)' },
            reason: { type: 'string', minLength: 3, maxLength: 2000, pattern: '\\S' },
          },
        },
      },
    },
    async (request, reply) => {
      const { workflowId, itemId } = request.params;
      const dueDate = realDate(request.body.dueDate, 'body.dueDate');
      const { plan } = await openItem(workflowId, itemId);
      if (dueDate < plan.t0) throw new ProblemError(400, 'Invalid request', `body.dueDate ${dueDate} lies before T0 ${plan.t0}`, 'body.dueDate');
      await send(request, workflowId, itemId, 'rebaseline', { reason: request.body.reason, dueDate });
      return reply.code(202).send({ workflowId, itemId, dueDate, status: 'sent', ui: uiLink(workflowId) });
    },
  );
}
