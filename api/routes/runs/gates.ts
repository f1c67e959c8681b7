import type { FastifyInstance } from 'fastify';
import { signDecision } from '../../../lib/decision-signing';
import { answerSchema, gateDecisionAnswer, type GateDecisionAnswer } from '../../contracts';
import { ProblemError } from '../../problems';
import { freeText, idempotencyKeyHeader, problems, refuseSecrets } from '../../schemas';
import { correlate, type KindRoutesOptions } from './context';

/**
 * 审批关口 POST /<collection>/:workflowId/gates/:gate/decision, for kinds with gates: the checks the workflow repeats
 * (role, four-eyes, gate open), the idempotency ledger (a repeat is answered, never sent twice) and the signed decision.
 */
export default async function gateRoutes(app: FastifyInstance, { ctx, kind, paths }: KindRoutesOptions) {
  const { runs, temporal, signingKey, ledger, describe, uiLink } = ctx;
  const { tag, base, workflowIdParam } = paths;
  const gateNames = kind.gates.map((g) => g.name);
  const deciders = [...new Set(kind.gates.flatMap((g) => g.deciders))];
  const decisionSignal = kind.decisionSignal;
  if (!kind.gates.length || !decisionSignal) return;

  app.post<{
    Params: { workflowId: string; gate: string };
    Body: { decision: 'approve' | 'reject'; reason?: string };
    Headers: { 'idempotency-key'?: string };
  }>(
    `${base}/:workflowId/gates/:gate/decision`,
    {
      config: { roles: deciders, action: 'decide gate' },
      schema: {
        summary: `审批${kind.title.split(' ')[0]}关口 Approve or reject a ${kind.kind} gate (idempotent)`,
        description: `gates 关口: ${kind.gates.map((g) => `${g.name} (${g.title}; ${g.deciders.join('/')})`).join(', ')}. The run's initiator may not decide (four-eyes). A repeat with the same Idempotency-Key, or by the same person on the same gate, is counted once and answered the same.`,
        tags: [tag, '审批 Approvals'],
        params: {
          type: 'object',
          required: ['workflowId', 'gate'],
          properties: { workflowId: workflowIdParam, gate: { type: 'string', maxLength: 64, description: `关口 gate: ${gateNames.join(', ')}` } },
        },
        headers: idempotencyKeyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['decision'],
          properties: {
            decision: { type: 'string', enum: ['approve', 'reject'], description: '批准 approve or 驳回 reject' },
            reason: freeText('审批意见 comment; kept in the workflow history, so never a secret', 2000),
          },
        },
        response: {
          202: answerSchema('已送达 Decision sent to the run (repeats answer the same)', gateDecisionAnswer),
          ...problems(400, 401, 403, 404, 409, 413, 415, 422, 500),
        },
      },
    },
    async (request, reply) => {
      const { workflowId, gate: gateName } = request.params;
      const actor = request.actor!;
      correlate(request, reply, workflowId);
      const gate = kind.gates.find((g) => g.name === gateName);
      if (!gate) throw new ProblemError(404, 'Unknown gate', `gate "${gateName}" does not exist; ${kind.kind} gates: ${gateNames.join(', ')}`, 'params.gate');
      if (actor.role !== 'admin' && !gate.deciders.includes(actor.role)) {
        throw new ProblemError(403, 'Forbidden', `role ${actor.role} may not decide gate ${gate.name}; allowed: ${gate.deciders.join(', ')}`);
      }
      if (request.body.reason) refuseSecrets(request.body.reason, 'body.reason');
      // The run as it is now: decisions and their ledger belong to this Temporal run, not to the id.
      const d = await describe(kind, workflowId);
      const { runId, nonce } = runs.binding(d);
      const ask = {
        workflowId,
        runId,
        gate: gate.name,
        actor: actor.name,
        role: actor.role,
        decision: request.body.decision,
        reason: request.body.reason,
        idempotencyKey: request.headers['idempotency-key'],
        requestId: request.id,
      };
      request.audit.detail.decision = ask.decision;
      request.audit.detail.gate = gate.name;
      const prior = await ledger.replay(ask);
      if (prior) return replayed(prior);

      // A duplicate racing this one may have been counted, and closed the gate, since the check
      // above: before saying "closed", look again, so the duplicate gets the first one's answer.
      const closed = async (problem: ProblemError) => {
        const counted = await ledger.replay(ask);
        if (counted) return replayed(counted);
        throw problem;
      };
      if (d.status.name !== 'RUNNING') {
        return closed(new ProblemError(409, 'Run finished', `run ${workflowId} is ${d.status.name.toLowerCase()}; it takes no more decisions`, 'params.workflowId'));
      }
      if (d.memo?.requestedBy === actor.name) {
        throw new ProblemError(403, 'Four-eyes rule', `${actor.name} started this run and cannot decide its gates`);
      }
      const state = await temporal.workflow.getHandle(workflowId).query(kind.stateQuery);
      if (!kind.openGates(state).includes(gate.name)) {
        return closed(new ProblemError(409, 'Gate not open', `gate ${gate.name} of ${workflowId} is not open for decisions now`, 'params.gate'));
      }
      const response: GateDecisionAnswer = { workflowId, gate: gate.name, decision: ask.decision, decidedBy: actor.name, status: 'sent', requestId: request.id, ui: uiLink(workflowId) };
      const needed = kind.approvalsNeeded?.(state, gate.name) ?? 1;
      const outcome = await ledger.record(
        ask,
        response,
        async () => {
          const { idempotencyKey: _key, requestId: _id, ...claims } = ask;
          const signed = signDecision({ ...claims, nonce, issuedAt: new Date().toISOString() }, signingKey);
          await temporal.workflow.getHandle(workflowId).signal(decisionSignal, signed);
        },
        (counted) => {
          if (counted.rejections > 0 || counted.approvals >= needed) {
            throw new ProblemError(409, 'Gate already decided', `gate ${gate.name} of ${workflowId} was decided by another decision a moment ago; yours was not sent`, 'params.gate');
          }
        },
      );
      if (outcome.replayed) return replayed(outcome.response);
      request.log.info({ gate: gate.name, decision: ask.decision }, 'gate decision sent');
      return reply.code(202).send(response);

      function replayed(answer: Record<string, unknown>) {
        request.audit.detail.replayed = true;
        request.log.info({ gate: gateName }, 'repeated gate decision answered from the ledger; not sent again');
        return reply.code(202).header('idempotent-replayed', 'true').send(answer);
      }
    },
  );
}
