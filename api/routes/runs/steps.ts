import type { FastifyInstance } from 'fastify';
import { signDecision } from '../../../lib/decision-signing';
import { answerSchema, stepChoiceAnswer, type StepChoiceAnswer } from '../../contracts';
import { ProblemError } from '../../problems';
import { freeText, problems, refuseSecrets } from '../../schemas';
import { correlate, type KindRoutesOptions } from './context';

/** 失败步骤处置 POST /<collection>/:workflowId/steps/:step/action, for kinds whose failed steps wait for the operator. */
export default async function stepRoutes(app: FastifyInstance, { ctx, kind, paths }: KindRoutesOptions) {
  const { runs, temporal, signingKey, uiLink } = ctx;
  const { tag, base, workflowIdParam } = paths;
  const choices = kind.stepChoices;
  if (!choices) return;

  app.post<{ Params: { workflowId: string; step: string }; Body: { action: string; reason?: string } }>(
    `${base}/:workflowId/steps/:step/action`,
    {
      config: { roles: ['operator'], action: `choose after a failed ${kind.kind} step` },
      schema: {
        summary: `失败步骤处置 Choose how a failed ${kind.kind} step goes on: ${choices.choices.join(', ')}`,
        description: `A step that failed after its retries waits for the operator. ${choices.reasonRequired.length ? `${choices.reasonRequired.join(' and ')} need a reason. ` : ''}The choice is signed by the API and checked by the workflow.`,
        tags: [tag],
        params: {
          type: 'object',
          required: ['workflowId', 'step'],
          properties: { workflowId: workflowIdParam, step: { type: 'string', enum: [...choices.steps], description: '步骤 the failed step' } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['action'],
          properties: {
            action: { type: 'string', enum: [...choices.choices], description: '处置 the choice' },
            reason: freeText('理由 why; kept in the workflow history, so never a secret', 2000),
          },
        },
        response: {
          202: answerSchema('已送达 Choice sent', stepChoiceAnswer),
          ...problems(400, 401, 403, 404, 409, 413, 415, 422, 500),
        },
      },
    },
    async (request, reply) => {
      const { workflowId, step } = request.params;
      const { action, reason } = request.body;
      correlate(request, reply, workflowId);
      if (reason) refuseSecrets(reason, 'body.reason');
      request.audit.detail.action = action;
      const d = await runs.describeRunning(kind, workflowId);
      const handle = temporal.workflow.getHandle(workflowId);
      const waiting = choices.waiting(await handle.query(kind.stateQuery));
      if (!waiting || waiting.step !== step) throw new ProblemError(409, 'Nothing to decide', `step ${step} of ${workflowId} is not waiting for the operator`, 'params.step');
      if (!waiting.choices.includes(action)) throw new ProblemError(422, 'Choice not allowed', `step ${step} allows ${waiting.choices.join(', ')}`, 'body.action');
      if (choices.reasonRequired.includes(action) && !reason?.trim()) {
        throw new ProblemError(422, 'Reason required', `"${action}" needs a reason, recorded in the run`, 'body.reason');
      }
      const actor = request.actor!;
      const signed = signDecision({ workflowId, ...runs.binding(d), gate: choices.gate(step), decision: action, actor: actor.name, role: actor.role, reason, issuedAt: new Date().toISOString() }, signingKey);
      await handle.signal(choices.signal, signed);
      request.log.info({ step, action }, 'operator choice sent');
      return reply.code(202).send({ workflowId, step, action, status: 'sent', ui: uiLink(workflowId) } satisfies StepChoiceAnswer);
    },
  );
}
