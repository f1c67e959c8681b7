import { randomBytes } from 'node:crypto';
import { Client, WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import {
  CutoverInput,
  cutoverStateQuery,
  decideGateSignal,
  GATES,
  GateName,
  OperatorChoice,
  operatorActionSignal,
} from '../../workflows/cutover-messages';
import { RunbookKind, RunbookPhase, RunbookStatus } from '../../workflows/search-attributes';
import { signDecision } from '../../lib/decision-signing';
import { ProblemError } from '../problems';

/** 割接 cutover runs: start one, read its state, decide its gates. */
export interface CutoverRoutesOptions {
  temporal: Client;
  taskQueue: string;
  uiBaseUrl: string;
  signingKey: string;
}

const workflowIdPattern = '^cutover-[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

export default async function cutoverRoutes(app: FastifyInstance, opts: CutoverRoutesOptions) {
  const { temporal, taskQueue, uiBaseUrl, signingKey } = opts;
  const uiLink = (workflowId: string) => `${uiBaseUrl}/namespaces/${temporal.options.namespace}/workflows/${encodeURIComponent(workflowId)}`;

  async function describe(workflowId: string): Promise<WorkflowExecutionDescription> {
    try {
      const d = await temporal.workflow.getHandle(workflowId).describe();
      if (d.type !== 'cutover') throw new WorkflowNotFoundError('not a cutover', workflowId, undefined);
      return d;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ProblemError(404, 'Unknown run', `no cutover run with id ${workflowId}`, 'workflowId');
      throw err;
    }
  }

  app.post<{ Body: Pick<CutoverInput, 'mode' | 'migration' | 'plannedMinutes' | 'maintenanceWindow' | 'gates'> & { runId?: string } }>(
    '/cutovers',
    {
      config: { roles: ['operator'], action: 'start cutover' },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['mode'],
          properties: {
            mode: { type: 'string', enum: ['rehearsal', 'live'], description: '彩排 rehearsal or 正式 live' },
            runId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$' },
            migration: {
              type: 'object',
              additionalProperties: false,
              description: '迁移参数 engine tuning',
              properties: {
                rowsPerChunk: { type: 'integer', minimum: 1000, maximum: 10000000 },
                concurrency: { type: 'integer', minimum: 1, maximum: 32 },
                heartbeatSeconds: { type: 'integer', minimum: 5, maximum: 3600 },
              },
            },
            plannedMinutes: {
              type: 'object',
              description: '彩排 planned minutes per step',
              propertyNames: { pattern: '^[a-z-]{1,32}$' },
              additionalProperties: { type: 'number', minimum: 0, maximum: 10000 },
            },
            maintenanceWindow: {
              type: 'object',
              additionalProperties: false,
              required: ['start', 'end'],
              properties: { start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' } },
            },
            gates: {
              type: 'object',
              additionalProperties: false,
              description: 'gate overrides: more approvals, other roles, escalation time',
              properties: Object.fromEntries(
                GATES.map((g) => [
                  g,
                  {
                    type: 'object',
                    additionalProperties: false,
                    properties: {
                      approvals: { type: 'integer', minimum: 1, maximum: 5 },
                      // Only roles that can decide at all; the workflow still applies four-eyes.
                      roles: { type: 'array', minItems: 1, items: { type: 'string', enum: ['approver', 'admin'] } },
                      escalateAfterMinutes: { type: 'number', minimum: 0.01, maximum: 10080 },
                    },
                  },
                ]),
              ),
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { mode } = request.body;
      const runId = request.body.runId ?? `${mode}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
      const workflowId = `cutover-${runId}`;
      const { migration, plannedMinutes, maintenanceWindow, gates } = request.body;
      const input: CutoverInput = { runId, mode, requestedBy: request.actor!.name, migration, plannedMinutes, maintenanceWindow, gates };
      try {
        await temporal.workflow.start('cutover', {
          workflowId,
          taskQueue,
          args: [input],
          memo: { requestedBy: input.requestedBy, mode },
          staticSummary: `割接 Cutover ${runId} · ${mode === 'live' ? '正式 live' : '彩排 rehearsal'} · started by ${input.requestedBy}`,
          typedSearchAttributes: [
            { key: RunbookKind, value: 'cutover' },
            { key: RunbookPhase, value: 'plan' },
            { key: RunbookStatus, value: 'running' },
          ],
        });
      } catch (err) {
        if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') {
          throw new ProblemError(409, 'Run exists', `a cutover with runId ${runId} was already started`, 'runId');
        }
        throw err;
      }
      request.log.info({ workflowId, runId, mode }, 'cutover started');
      return reply.code(201).send({ workflowId, runId, ui: uiLink(workflowId) });
    },
  );

  app.get<{ Params: { workflowId: string } }>(
    '/cutovers/:workflowId',
    {
      config: { roles: ['viewer', 'operator', 'approver'] },
      schema: { params: { type: 'object', properties: { workflowId: { type: 'string', pattern: workflowIdPattern } } } },
    },
    async (request) => {
      const { workflowId } = request.params;
      const d = await describe(workflowId);
      const state = await temporal.workflow.getHandle(workflowId).query(cutoverStateQuery);
      return { workflowId, execution: d.status.name, ui: uiLink(workflowId), ...state };
    },
  );

  app.post<{ Params: { workflowId: string; gate: GateName }; Body: { decision: 'approve' | 'reject'; reason?: string } }>(
    '/cutovers/:workflowId/gates/:gate/decision',
    {
      config: { roles: ['approver'], action: 'decide gate' },
      schema: {
        params: {
          type: 'object',
          properties: { workflowId: { type: 'string', pattern: workflowIdPattern }, gate: { type: 'string', maxLength: 64 } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['decision'],
          properties: {
            decision: { type: 'string', enum: ['approve', 'reject'] },
            reason: { type: 'string', maxLength: 2000 },
          },
        },
      },
    },
    async (request, reply) => {
      const { workflowId, gate } = request.params;
      if (!(GATES as readonly string[]).includes(gate)) {
        throw new ProblemError(404, 'Unknown gate', `gate "${gate}" does not exist; cutover gates: ${GATES.join(', ')}`, 'gate');
      }
      const d = await describe(workflowId);
      if (d.status.name !== 'RUNNING') {
        throw new ProblemError(409, 'Run finished', `run ${workflowId} is ${d.status.name.toLowerCase()}; it takes no more decisions`, 'workflowId');
      }
      if (d.memo?.requestedBy === request.actor!.name) {
        throw new ProblemError(403, 'Four-eyes rule', `${request.actor!.name} started this run and cannot decide its gates`);
      }
      const signed = signDecision(
        {
          workflowId,
          gate,
          decision: request.body.decision,
          actor: request.actor!.name,
          role: request.actor!.role,
          reason: request.body.reason,
          issuedAt: new Date().toISOString(),
        },
        signingKey,
      );
      await temporal.workflow.getHandle(workflowId).signal(decideGateSignal, signed);
      request.log.info({ workflowId, gate, decision: request.body.decision }, 'gate decision sent');
      return reply.code(202).send({ workflowId, gate, decision: request.body.decision, status: 'sent', ui: uiLink(workflowId) });
    },
  );

  /** 操作员选择 A failed step waits for the operator: retry, skip (with a reason), continue after a manual fix, or fall back. */
  app.post<{ Params: { workflowId: string; step: string }; Body: { action: OperatorChoice; reason?: string } }>(
    '/cutovers/:workflowId/steps/:step/action',
    {
      config: { roles: ['operator'], action: 'choose after a failed step' },
      schema: {
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
      const d = await describe(workflowId);
      if (d.status.name !== 'RUNNING') {
        throw new ProblemError(409, 'Run finished', `run ${workflowId} is ${d.status.name.toLowerCase()}; it takes no more decisions`, 'workflowId');
      }
      const state = await temporal.workflow.getHandle(workflowId).query(cutoverStateQuery);
      if (!state.pendingFailure || state.pendingFailure.step !== step) {
        throw new ProblemError(409, 'Nothing to decide', `step ${step} of ${workflowId} is not waiting for the operator`, 'step');
      }
      if (!state.pendingFailure.choices.includes(request.body.action)) {
        throw new ProblemError(422, 'Choice not allowed', `step ${step} allows ${state.pendingFailure.choices.join(', ')}`, 'action');
      }
      if ((request.body.action === 'skip' || request.body.action === 'continue') && !request.body.reason?.trim()) {
        throw new ProblemError(422, 'Reason required', `"${request.body.action}" needs a reason, recorded in the run`, 'reason');
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
      await temporal.workflow.getHandle(workflowId).signal(operatorActionSignal, signed);
      request.log.info({ workflowId, step, action: request.body.action }, 'operator choice sent');
      return reply.code(202).send({ workflowId, step, action: request.body.action, status: 'sent', ui: uiLink(workflowId) });
    },
  );
}
