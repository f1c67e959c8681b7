import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { signDecision } from '../../lib/decision-signing';
import { cutoverStateQuery, OperatorChoice, operatorActionSignal } from '../../workflows/cutover-messages';
import { ProblemError } from '../problems';
import { problems } from '../schemas';

/**
 * 操作员选择: a cutover step that failed after its retries waits for the operator — retry, skip (with a
 * reason, where the step allows it), continue after a manual fix, or fall back. Signed like gate decisions.
 */
export interface CutoverStepRoutesOptions {
  temporal: Client;
  uiBaseUrl: string;
  signingKey: string;
}

const workflowIdPattern = '^cutover-[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

export default async function cutoverStepRoutes(app: FastifyInstance, opts: CutoverStepRoutesOptions) {
  const { temporal, uiBaseUrl, signingKey } = opts;

  app.post<{ Params: { workflowId: string; step: string }; Body: { action: OperatorChoice; reason?: string } }>(
    '/cutovers/:workflowId/steps/:step/action',
    {
      config: { roles: ['operator'], action: 'choose after a failed step' },
      schema: {
        summary: '失败步骤处置 Choose how a failed step goes on: retry, skip, continue, fallback',
        tags: ['割接 Cutover'],
        response: {
          202: { description: '已送达 Choice sent', type: 'object', additionalProperties: true },
          ...problems(400, 401, 403, 404, 409, 413, 415, 422, 500),
        },
        params: {
          type: 'object',
          properties: { workflowId: { type: 'string', pattern: workflowIdPattern }, step: { type: 'string', pattern: '^[a-z-]{1,32}$' } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['action'],
          properties: {
            action: { type: 'string', enum: ['retry', 'skip', 'continue', 'fallback'] },
            reason: { type: 'string', maxLength: 2000 },
          },
        },
      },
    },
    async (request, reply) => {
      const { workflowId, step } = request.params;
      const handle = temporal.workflow.getHandle(workflowId);
      const d = await handle.describe().catch((err) => {
        if (err instanceof WorkflowNotFoundError) throw new ProblemError(404, 'Unknown run', `no cutover run with id ${workflowId}`, 'params.workflowId');
        throw err;
      });
      if (d.status.name !== 'RUNNING') {
        throw new ProblemError(409, 'Run finished', `run ${workflowId} is ${d.status.name.toLowerCase()}; it takes no more decisions`, 'params.workflowId');
      }
      const state = await handle.query(cutoverStateQuery);
      if (!state.pendingFailure || state.pendingFailure.step !== step) {
        throw new ProblemError(409, 'Nothing to decide', `step ${step} of ${workflowId} is not waiting for the operator`, 'params.step');
      }
      if (!state.pendingFailure.choices.includes(request.body.action)) {
        throw new ProblemError(422, 'Choice not allowed', `step ${step} allows ${state.pendingFailure.choices.join(', ')}`, 'body.action');
      }
      if ((request.body.action === 'skip' || request.body.action === 'continue') && !request.body.reason?.trim()) {
        throw new ProblemError(422, 'Reason required', `"${request.body.action}" needs a reason, recorded in the run`, 'body.reason');
      }
      const signed = signDecision<OperatorChoice>(
        {
          workflowId,
          gate: `step:${step}`,
          decision: request.body.action,
          actor: request.actor!.name,
          role: request.actor!.role,
          reason: request.body.reason,
          issuedAt: new Date().toISOString(),
        },
        signingKey,
      );
      await handle.signal(operatorActionSignal, signed);
      request.log.info({ workflowId, step, action: request.body.action }, 'operator choice sent');
      return reply.code(202).send({ workflowId, step, action: request.body.action, status: 'sent', ui: `${uiBaseUrl}/namespaces/${temporal.options.namespace}/workflows/${encodeURIComponent(workflowId)}` });
    },
  );
}
