import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { answerSchema, cancelAnswer, type CancelAnswer } from '../../contracts';
import { ProblemError } from '../../problems';
import { freeText, problems, refuseSecrets } from '../../schemas';
import { correlate, type KindRoutesOptions } from './context';

/** 取消 POST /<collection>/:workflowId/cancel: asks Temporal to cancel a running run, with who and why in its history. */
export default async function cancelRoute(app: FastifyInstance, { ctx, kind, paths }: KindRoutesOptions) {
  const { temporal, namespace, describe, uiLink } = ctx;
  const { tag, base, runParams } = paths;

  app.post<{ Params: { workflowId: string }; Body: { reason: string } }>(
    `${base}/:workflowId/cancel`,
    {
      config: { roles: ['operator'], action: `cancel ${kind.kind}` },
      schema: {
        summary: `取消${kind.title.split(' ')[0]} Cancel a ${kind.kind} run (with a reason)`,
        tags: [tag],
        params: runParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['reason'],
          properties: { reason: freeText('取消原因 why the run is cancelled; kept in the audit trail and the workflow history', 500, 3) },
        },
        response: {
          202: answerSchema('已请求取消 Cancellation requested', cancelAnswer),
          ...problems(400, 401, 403, 404, 409, 413, 415, 500),
        },
      },
    },
    async (request, reply) => {
      const { workflowId } = request.params;
      correlate(request, reply, workflowId);
      refuseSecrets(request.body.reason, 'body.reason');
      request.audit.detail.reason = request.body.reason;
      const d = await describe(kind, workflowId);
      if (d.status.name !== 'RUNNING') {
        throw new ProblemError(409, 'Run finished', `run ${workflowId} is ${d.status.name.toLowerCase()}; there is nothing to cancel`, 'params.workflowId');
      }
      // The raw call, because the handle's cancel() cannot carry who and why into the history.
      await temporal.workflowService.requestCancelWorkflowExecution({
        namespace,
        workflowExecution: { workflowId, runId: d.runId },
        identity: `api:${request.actor!.name}`,
        requestId: randomUUID(),
        reason: `${request.actor!.name}: ${request.body.reason}`,
      });
      request.log.info({ actor: request.actor!.name }, `${kind.kind} cancellation requested`);
      return reply.code(202).send({ workflowId, status: 'cancel_requested', ui: uiLink(workflowId) } satisfies CancelAnswer);
    },
  );
}
