import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { signDecision } from '../../lib/decision-signing';
import { mayActFor, PLAN_DAY, PlanDecisionKind, REBASELINE_ROLE, rebaselineItemSignal, signOffItemSignal } from '../../workflows/plan-messages';
import type { ItemProgress, PlanProgress } from '../../workflows/plan-progress';
import { realDate } from '../kinds/plan-dates';
import { answerSchema, bodySchemaOf, planItemAnswer } from '../contracts';
import { ProblemError } from '../problems';
import type { KindRouteOptions } from '../run-kinds';
import { freeTextField, problems, refuseSecrets } from '../schemas';

/**
 * 项目计划事项 the plan's items: sign off (the item's owner role) and re-baseline (approver). Start,
 * progress, cancel and the status report are the plan's run-kind routes (api/kinds/plan.ts), which declares these
 * as its own routes.
 */
export type PlanItemRoutesOptions = Pick<KindRouteOptions<PlanProgress>, 'kind' | 'runs' | 'signingKey'>;

const itemParams = {
  type: 'object',
  required: ['workflowId', 'itemId'],
  properties: {
    workflowId: { type: 'string', pattern: '^plan-[A-Za-z0-9][A-Za-z0-9._-]{0,39}$', description: '计划编号 plan-<planId>' },
    itemId: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,39}$', description: '事项 item id' },
  },
} as const;

const sent = (description: string) => answerSchema(description, planItemAnswer);

/** POST …/signoff: the note goes into the signed sign-off's reason. */
export const planSignOffBody = z.strictObject({ note: freeTextField('签收说明 note; kept in the workflow history, so never a secret', 2000).optional() });
export type PlanSignOffBody = z.infer<typeof planSignOffBody>;

/** POST …/rebaseline: the new due date and why, into the signed re-baseline. */
export const planRebaselineBody = z.strictObject({
  dueDate: z.string().regex(PLAN_DAY).describe('new due date (YYYY-MM-DD, China time)'),
  reason: freeTextField('调整原因 why; kept in the workflow history', 2000, 3),
});
export type PlanRebaselineBody = z.infer<typeof planRebaselineBody>;

export default async function planItemRoutes(app: FastifyInstance, opts: PlanItemRoutesOptions) {
  const { runs, signingKey, kind: planKind } = opts;
  const TAG = planKind.title;

  /** The checks the workflow repeats, done here first so a person hears the refusal at once. */
  async function openItem(request: FastifyRequest, workflowId: string, itemId: string): Promise<{ item: ItemProgress; plan: PlanProgress }> {
    request.audit.runId = workflowId;
    const d = await runs.describeRunning(planKind, workflowId);
    const plan = await runs.readState(planKind, workflowId, d.status.name);
    const item = plan.items.find((i) => i.id === itemId);
    if (!item) throw new ProblemError(404, 'Unknown item', `plan ${workflowId} has no item "${itemId}"`, 'params.itemId');
    if (item.status === 'done') throw new ProblemError(409, 'Item done', `item "${itemId}" is already done (${item.doneBy})`, 'params.itemId');
    return { item, plan };
  }

  async function send(request: FastifyRequest, workflowId: string, itemId: string, kind: PlanDecisionKind, extra: { reason?: string; dueDate?: string }) {
    const d = await runs.describeRunning(planKind, workflowId);
    const signed = signDecision(
      { workflowId, ...runs.binding(d), gate: itemId, decision: kind, actor: request.actor!.name, role: request.actor!.role, ...extra, issuedAt: new Date().toISOString() },
      signingKey,
    );
    await runs.temporal.workflow.getHandle(workflowId).signal(kind === 'signoff' ? signOffItemSignal : rebaselineItemSignal, signed);
    request.log.info({ workflowId, itemId, kind }, 'plan decision sent');
  }

  app.post<{ Params: { workflowId: string; itemId: string }; Body: PlanSignOffBody }>(
    '/plans/:workflowId/items/:itemId/signoff',
    {
      config: { roles: ['operator', 'approver'], action: 'sign off plan item' },
      schema: {
        summary: '签收计划事项 Sign off a plan item (its owner role)',
        tags: [TAG, '审批 Approvals'],
        params: itemParams,
        body: bodySchemaOf(planSignOffBody),
        response: { 202: sent('已送达 Sign-off sent'), ...problems(400, 401, 403, 404, 409, 413, 415, 500, 503) },
      },
    },
    async (request, reply) => {
      const { workflowId, itemId } = request.params;
      const note = request.body?.note;
      if (note) refuseSecrets(note, 'body.note');
      const { item, plan } = await openItem(request, workflowId, itemId);
      if (item.completion !== 'signoff') throw new ProblemError(409, 'Automated item', `item "${itemId}" completes by its automated run (${item.completion}), not by sign-off`, 'params.itemId');
      if (!mayActFor(request.actor!.role, item.ownerRole)) {
        throw new ProblemError(403, 'Wrong role', `role ${request.actor!.role} may not sign off "${itemId}"; its owner role is ${item.ownerRole}`, 'params.itemId');
      }
      if (item.status === 'blocked') throw new ProblemError(409, 'Item blocked', `item "${itemId}" waits for ${item.waitingFor}`, 'params.itemId');
      await send(request, workflowId, itemId, 'signoff', { reason: note });
      return reply.code(202).send({ workflowId, itemId, status: 'sent', t0: plan.t0, ui: runs.uiLink(workflowId) });
    },
  );

  app.post<{ Params: { workflowId: string; itemId: string }; Body: PlanRebaselineBody }>(
    '/plans/:workflowId/items/:itemId/rebaseline',
    {
      config: { roles: [REBASELINE_ROLE], action: 're-baseline plan item' },
      schema: {
        summary: '调整计划事项期限 Re-baseline a plan item’s due date',
        tags: [TAG],
        params: itemParams,
        body: bodySchemaOf(planRebaselineBody),
        response: { 202: sent('已送达 Re-baseline sent'), ...problems(400, 401, 403, 404, 409, 413, 415, 500, 503) },
      },
    },
    async (request, reply) => {
      const { workflowId, itemId } = request.params;
      const dueDate = realDate(request.body.dueDate, 'body.dueDate');
      if (!request.body.reason.trim()) throw new ProblemError(400, 'Invalid request', 'body.reason must say why', 'body.reason');
      refuseSecrets(request.body.reason, 'body.reason');
      const { plan } = await openItem(request, workflowId, itemId);
      if (dueDate < plan.t0) throw new ProblemError(400, 'Invalid request', `body.dueDate ${dueDate} lies before T0 ${plan.t0}`, 'body.dueDate');
      await send(request, workflowId, itemId, 'rebaseline', { reason: request.body.reason, dueDate });
      return reply.code(202).send({ workflowId, itemId, dueDate, status: 'sent', ui: runs.uiLink(workflowId) });
    },
  );
}
