import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { signDecision } from '../../../lib/decision-signing';
import { describeHolder, liveLeases, temporalLiveness } from '../../../lib/target-lease';
import { RunbookKind, RunbookPhase, RunbookStatus } from '../../../workflows/search-attributes';
import { answerSchema, startedAnswer, type StartedAnswer } from '../../contracts';
import { ProblemError } from '../../problems';
import { problems } from '../../schemas';
import { correlate, type KindRoutesOptions } from './context';

/**
 * 启动 POST /<collection>: starts a run of the kind, signed by the API when the kind wants its initiator signed,
 * after the target lease check for kinds that hold the target database.
 */
export default async function startRoute(app: FastifyInstance, { ctx, kind, paths }: KindRoutesOptions) {
  const { temporal, taskQueue, signingKey, pool, uiLink } = ctx;
  const { tag, base } = paths;

  app.post<{ Body: unknown }>(
    base,
    {
      config: { roles: kind.start.roles, action: `start ${kind.kind}` },
      schema: {
        summary: `启动${kind.title.split(' ')[0]} Start a ${kind.title.split(' ').slice(1).join(' ').toLowerCase()}`,
        tags: [tag],
        body: kind.start.bodySchema,
        response: {
          201: answerSchema('已启动 Started', startedAnswer),
          ...problems(400, 401, 403, 409, 413, 415, 500),
        },
      },
    },
    async (request, reply) => {
      const actor = request.actor!;
      const plan = kind.start.plan(request.body, actor);
      const workflowId = kind.idPrefix + plan.runId;
      correlate(request, reply, workflowId);
      // 目标库租约 The API checks first (the workflow enforces it too, also for starts around the API).
      if (kind.holdsTarget) {
        const [holder] = await liveLeases(pool, taskQueue, temporalLiveness(temporal));
        // The same run id again (a double click) is told "Run exists" below, not that it holds its own target.
        if (holder && holder.workflowId !== workflowId) {
          const fallbackHint = holder.kind === 'cutover' ? ` (a fallback of it: choose "fallback" on its failed step, or reject its gate)` : '';
          throw new ProblemError(409, 'Target held 目标库已被占用', `${describeHolder(holder)}: one cutover, fallback or remediation per target database at a time — wait for it to end or cancel it${fallbackHint}`);
        }
      }
      // 签名启动 The initiator, signed: the workflow refuses a start that does not carry it.
      const args = kind.signedStart
        ? [{ ...(plan.args[0] as object), start: signDecision({ workflowId, gate: 'start', decision: 'start', actor: actor.name, role: actor.role, nonce: randomUUID(), issuedAt: new Date().toISOString() }, signingKey) }, ...plan.args.slice(1)]
        : plan.args;
      try {
        await temporal.workflow.start(kind.workflowType, {
          workflowId,
          taskQueue,
          args,
          memo: { ...plan.memo, requestedBy: actor.name, requestId: request.id },
          staticSummary: plan.summary,
          staticDetails: `API request ${request.id}`,
          typedSearchAttributes: [
            { key: RunbookKind, value: kind.kind },
            { key: RunbookPhase, value: plan.phase },
            { key: RunbookStatus, value: 'running' },
          ],
        });
      } catch (err) {
        if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') {
          const field = kind.start.idField ?? 'runId';
          throw new ProblemError(409, 'Run exists', `a ${kind.kind} with ${field} ${plan.runId} was already started`, `body.${field}`);
        }
        throw err;
      }
      request.log.info({ runId: plan.runId }, `${kind.kind} started`);
      return reply.code(201).send({ workflowId, runId: plan.runId, ui: uiLink(workflowId), href: `${base}/${workflowId}` } satisfies StartedAnswer);
    },
  );
}
