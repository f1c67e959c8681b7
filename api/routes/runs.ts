import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import { signDecision } from '../../lib/decision-signing';
import type { Role } from '../../lib/runbook-db';
import { describeHolder, liveLeases, temporalLiveness } from '../../lib/target-lease';
import { RunbookKind, RunbookPhase, RunbookStatus } from '../../workflows/search-attributes';
import { DecisionLedger } from '../decision-ledger';
import { openPageToken, sealPageToken } from '../page-token';
import { ProblemError } from '../problems';
import { Awaiting, kindOfWorkflowId, RunKind } from '../run-kinds';
import { RunAccess, runbookStatus } from '../run-access';
import { freeText, ID_SUFFIX_PATTERN, idempotencyKeyHeader, problems, refuseSecrets } from '../schemas';

/**
 * The run routes, generated from the registry of workflow kinds (api/kinds): per kind, start / get /
 * cancel / decide a gate / choose after a failed step / download a report; across kinds, the run list
 * (Temporal visibility) and "pending approvals for me". Every run is scoped to this deployment's task
 * queue, so runs of other deployments on the same Temporal namespace are invisible here.
 */
export interface RunRoutesOptions {
  runs: RunAccess;
  pool: Pool;
  signingKey: string;
  kinds: readonly RunKind[];
  /** where the worker writes reports (REPORTS_DIR); report files are served from here only */
  reportsDir: string;
}

const READERS: readonly Role[] = ['viewer', 'operator', 'approver'];
const LIVE = new Set(['running', 'waiting_approval', 'waiting_operator']);
const EXECUTION_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'UNKNOWN', 'UNSPECIFIED', 'PAUSED'];

const runSummarySchema = {
  type: 'object',
  properties: {
    kind: { type: 'string' },
    workflowId: { type: 'string' },
    runId: { type: 'string' },
    execution: { type: 'string', enum: EXECUTION_STATUSES, description: 'Temporal execution status' },
    status: { type: 'string', description: 'RunbookStatus: the runbook status the workflow publishes' },
    phase: { type: 'string', description: 'RunbookPhase' },
    requestedBy: { type: 'string' },
    startedAt: { type: 'string', format: 'date-time' },
    closedAt: { type: 'string', format: 'date-time' },
    href: { type: 'string', description: 'this run in the API' },
    ui: { type: 'string', description: 'this run in the Temporal Web UI' },
  },
} as const;

/** Temporal visibility query string literal; values reaching here are enum- or pattern-checked already. */
function literal(v: string): string {
  if (/["\\\n]/.test(v)) throw new Error(`refusing to put ${JSON.stringify(v)} in a visibility query`);
  return `"${v}"`;
}

export default async function runRoutes(app: FastifyInstance, opts: RunRoutesOptions) {
  const { runs, signingKey, kinds, reportsDir } = opts;
  const { temporal, taskQueue, namespace } = runs;
  const ledger = new DecisionLedger(opts.pool);
  const uiLink = (workflowId: string) => runs.uiLink(workflowId);
  const describe = (kind: RunKind, workflowId: string) => runs.describe(kind, workflowId);
  const readState = <State>(kind: RunKind<State>, workflowId: string, execution: string) => runs.readState(kind, workflowId, execution);
  const byType = new Map(kinds.map((k) => [k.workflowType, k]));
  const scope = `TaskQueue = ${literal(taskQueue)}`;

  /** Log lines of this request carry the workflow id, so a request id leads to the run and back. */
  function correlate(request: FastifyRequest, reply: FastifyReply, workflowId: string) {
    request.audit.runId = workflowId;
    request.log = request.log.child({ workflowId });
    reply.log = request.log; // fastify's "request completed" line is written through the reply's logger
  }

  /** Open gates and what else waits for a person (plan sign-offs), with where to decide each. */
  function awaiting<State>(kind: RunKind<State>, state: State): Awaiting[] {
    const gates = kind.gates.filter((g) => kind.openGates(state).includes(g.name));
    return [
      ...gates.map((g) => ({ gate: g.name, title: g.title, deciders: g.deciders, path: `gates/${g.name}/decision`, fourEyes: true })),
      ...(kind.signoffs?.(state) ?? []),
    ];
  }

  /**
   * A report file the worker wrote, if it has: only below REPORTS_DIR, also after following links, so
   * neither a name nor a planted symlink reaches anything else on the disk.
   */
  async function reportFile(relative: string): Promise<string | undefined> {
    try {
      const root = await fs.promises.realpath(reportsDir);
      const real = await fs.promises.realpath(path.resolve(root, relative));
      const inside = path.relative(root, real);
      if (!inside || inside.startsWith('..') || path.isAbsolute(inside)) {
        app.log.warn({ relative }, 'report path leads outside REPORTS_DIR; refused');
        return undefined;
      }
      return (await fs.promises.stat(real)).isFile() ? real : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  function summary(info: WorkflowExecutionInfo) {
    const kind = byType.get(info.type);
    const sa = info.typedSearchAttributes;
    return {
      kind: kind?.kind ?? info.type,
      workflowId: info.workflowId,
      runId: info.runId,
      execution: info.status.name,
      status: runbookStatus(info.status.name, sa.get(RunbookStatus)),
      phase: sa.get(RunbookPhase),
      requestedBy: typeof info.memo?.requestedBy === 'string' ? info.memo.requestedBy : undefined,
      startedAt: info.startTime.toISOString(),
      closedAt: info.closeTime?.toISOString(),
      href: kind ? `/${kind.collection}/${info.workflowId}` : undefined,
      ui: uiLink(info.workflowId),
    };
  }

  for (const kind of kinds) registerKind(kind);

  function registerKind(kind: RunKind) {
    const tag = kind.title;
    const base = `/${kind.collection}`;
    // Prefixes are plain words and a dash, so they go into the pattern as they are.
    if (!/^[a-z][a-z0-9]*-$/.test(kind.idPrefix)) throw new Error(`run kind ${kind.kind}: idPrefix "${kind.idPrefix}" must be lower-case letters/digits and a dash`);
    const workflowIdParam = {
      type: 'string',
      pattern: `^${kind.idPrefix}${ID_SUFFIX_PATTERN}$`,
      description: `工作流编号 workflow id, ${kind.idPrefix}<runId>`,
    };
    const runParams = { type: 'object', required: ['workflowId'], properties: { workflowId: workflowIdParam } };
    const gateNames = kind.gates.map((g) => g.name);
    const deciders = [...new Set(kind.gates.flatMap((g) => g.deciders))];

    app.post<{ Body: unknown }>(
      base,
      {
        config: { roles: kind.start.roles, action: `start ${kind.kind}` },
        schema: {
          summary: `启动${kind.title.split(' ')[0]} Start a ${kind.title.split(' ').slice(1).join(' ').toLowerCase()}`,
          tags: [tag],
          body: kind.start.bodySchema,
          response: {
            201: {
              description: '已启动 Started',
              type: 'object',
              properties: { workflowId: { type: 'string' }, runId: { type: 'string' }, ui: { type: 'string' }, href: { type: 'string' } },
            },
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
          const [holder] = await liveLeases(opts.pool, taskQueue, temporalLiveness(temporal));
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
        return reply.code(201).send({ workflowId, runId: plan.runId, ui: uiLink(workflowId), href: `${base}/${workflowId}` });
      },
    );

    app.get<{ Params: { workflowId: string } }>(
      `${base}/:workflowId`,
      {
        config: { roles: READERS, action: `view ${kind.kind}` },
        schema: {
          summary: `查看${kind.title.split(' ')[0]}状态 Get a ${kind.kind} run's state and progress`,
          tags: [tag],
          params: runParams,
          response: {
            200: {
              description: '运行状态 Run state',
              type: 'object',
              required: kind.stateSchema.required,
              additionalProperties: kind.stateSchema.additionalProperties ?? false,
              properties: {
                ...kind.stateSchema.properties,
                workflowId: { type: 'string' },
                kind: { type: 'string' },
                execution: { type: 'string', enum: EXECUTION_STATUSES },
                progress: {
                  type: 'object',
                  properties: { done: { type: 'integer' }, total: { type: 'integer' }, current: { type: 'string' } },
                },
                openGates: { type: 'array', items: { type: 'string' } },
                reports: { type: 'array', items: { type: 'string' }, description: 'report names for …/reports/{name}; a file report answers 404 until the run has written it' },
                ui: { type: 'string' },
              },
            },
            ...problems(400, 401, 403, 404, 500, 503),
          },
        },
      },
      async (request, reply) => {
        const { workflowId } = request.params;
        correlate(request, reply, workflowId);
        const d = await describe(kind, workflowId);
        const state = await readState(kind, workflowId, d.status.name);
        return {
          ...state,
          workflowId,
          kind: kind.kind,
          execution: d.status.name,
          progress: kind.progress(state),
          openGates: d.status.name === 'RUNNING' ? kind.openGates(state) : [],
          reports: Object.keys(kind.reports),
          ui: uiLink(workflowId),
        };
      },
    );

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
            202: {
              description: '已请求取消 Cancellation requested',
              type: 'object',
              properties: { workflowId: { type: 'string' }, status: { type: 'string' }, ui: { type: 'string' } },
            },
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
        return reply.code(202).send({ workflowId, status: 'cancel_requested', ui: uiLink(workflowId) });
      },
    );

    const decisionSignal = kind.decisionSignal;
    if (kind.gates.length && decisionSignal) {
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
              202: {
                description: '已送达 Decision sent to the run (repeats answer the same)',
                type: 'object',
                properties: {
                  workflowId: { type: 'string' },
                  gate: { type: 'string' },
                  decision: { type: 'string' },
                  decidedBy: { type: 'string' },
                  status: { type: 'string' },
                  requestId: { type: 'string', description: 'the request that counted it' },
                  ui: { type: 'string' },
                },
              },
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
          const response = { workflowId, gate: gate.name, decision: ask.decision, decidedBy: actor.name, status: 'sent', requestId: request.id, ui: uiLink(workflowId) };
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

    const choices = kind.stepChoices;
    if (choices) {
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
              202: {
                description: '已送达 Choice sent',
                type: 'object',
                properties: { workflowId: { type: 'string' }, step: { type: 'string' }, action: { type: 'string' }, status: { type: 'string' }, ui: { type: 'string' } },
              },
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
          return reply.code(202).send({ workflowId, step, action, status: 'sent', ui: uiLink(workflowId) });
        },
      );
    }

    const reportNames = Object.keys(kind.reports);
    if (reportNames.length) {
      const contentTypes = [...new Set(reportNames.map((n) => kind.reports[n].contentType.split(';')[0]))];
      app.get<{ Params: { workflowId: string; name: string } }>(
        `${base}/:workflowId/reports/:name`,
        {
          config: { roles: READERS, action: 'download report' },
          schema: {
            summary: `下载${kind.title.split(' ')[0]}报告 Download a ${kind.kind} report`,
            description: `reports 报告: ${reportNames.map((n) => `${n} (${kind.reports[n].title})`).join(', ')}. Reports the worker writes are served from REPORTS_DIR once written (404 before).`,
            tags: [tag, '报告 Reports'],
            params: {
              type: 'object',
              required: ['workflowId', 'name'],
              properties: {
                workflowId: workflowIdParam,
                // A name, never a path: no separators, no leading dot, so ../ cannot appear.
                name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,60}\\.(md|csv|json|html)$', description: `报告名 report name: ${reportNames.join(', ')}` },
              },
            },
            response: {
              200: { description: '报告 The report', content: Object.fromEntries(contentTypes.map((t) => [t, { schema: { type: 'string' } }])) },
              ...problems(400, 401, 403, 404, 500, 503),
            },
          },
        },
        async (request, reply) => {
          const { workflowId, name } = request.params;
          correlate(request, reply, workflowId);
          const report = Object.hasOwn(kind.reports, name) ? kind.reports[name] : undefined;
          if (!report) {
            throw new ProblemError(404, 'Unknown report', `no report "${name}"; ${kind.kind} reports: ${reportNames.join(', ')}`, 'params.name');
          }
          const d = await describe(kind, workflowId);
          const state = await readState(kind, workflowId, d.status.name);
          const body = 'render' in report ? report.render(state, workflowId) : await fromFile(report.file(state), report.convert);
          return reply.type(report.contentType).header('content-disposition', `attachment; filename="${workflowId}-${name}"`).send(body);

          async function fromFile(relative: string | undefined, convert?: (text: string, workflowId: string) => string) {
            const file = relative && (await reportFile(relative));
            if (!file) {
              throw new ProblemError(404, 'Report not written', `run ${workflowId} has no ${name} (yet): the worker writes it when the run gets there`, 'params.name');
            }
            return convert ? convert(await fs.promises.readFile(file, 'utf8'), workflowId) : fs.createReadStream(file);
          }
        },
      );
    }
  }

  app.get<{ Querystring: { kind?: string; status?: string; phase?: string; pageSize?: string; pageToken?: string } }>(
    '/runs',
    {
      config: { roles: READERS, action: 'list runs' },
      schema: {
        summary: '运行列表 List runs (filter by kind, status, phase; paginated)',
        tags: ['运行 Runs'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: kinds.map((k) => k.kind), description: '类型 workflow kind' },
            status: { type: 'string', enum: [...new Set(kinds.flatMap((k) => k.statuses))], description: '状态 RunbookStatus' },
            phase: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: '阶段 RunbookPhase (a step key, or finished)' },
            // A string: query strings are text, and the API does not coerce types (bodies stay strict).
            pageSize: { type: 'string', pattern: '^(100|[1-9][0-9]?)$', description: 'runs per page, 1–100 (default 20)' },
            pageToken: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,4096}$', description: 'nextPageToken of the previous page' },
          },
        },
        response: {
          200: {
            description: '运行 Runs, newest first',
            type: 'object',
            properties: { runs: { type: 'array', items: runSummarySchema }, nextPageToken: { type: 'string' } },
          },
          ...problems(400, 401, 403, 500),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const clauses = [scope];
      // Runs with ids of their kind's shape only: a cutover's verify step runs as a verification workflow
      // (cutover-…/verify) but is part of the cutover, in its state and its reports.
      const ofKind = (k: RunKind) => `(RunbookKind = ${literal(k.kind)} AND WorkflowId STARTS_WITH ${literal(k.idPrefix)})`;
      clauses.push(`(${kinds.filter((k) => !q.kind || k.kind === q.kind).map(ofKind).join(' OR ')})`);
      // A run that died without publishing its end still carries a live RunbookStatus: it lists as failed.
      if (q.status === 'failed') clauses.push(`(RunbookStatus = "failed" OR ExecutionStatus IN ("Failed", "Terminated", "TimedOut"))`);
      else if (q.status && LIVE.has(q.status)) clauses.push(`RunbookStatus = ${literal(q.status)} AND ExecutionStatus = "Running"`);
      else if (q.status) clauses.push(`RunbookStatus = ${literal(q.status)}`);
      if (q.phase) clauses.push(`RunbookPhase = ${literal(q.phase)}`);
      const serverToken = q.pageToken ? openPageToken(signingKey, q.pageToken) : undefined;
      if (q.pageToken && !serverToken) throw new ProblemError(400, 'Invalid request', 'querystring.pageToken is not a page token this API issued', 'querystring.pageToken');
      let response;
      try {
        response = await temporal.workflowService.listWorkflowExecutions({
          namespace,
          query: clauses.join(' AND '),
          pageSize: q.pageSize ? Number(q.pageSize) : 20,
          nextPageToken: serverToken,
        });
      } catch (err) {
        // A token that decodes but is not one the server issued is the client's mistake, not ours.
        // A token of the right alphabet the server cannot decode: gRPC INVALID_ARGUMENT (3), or UNKNOWN (2,
        // "something went wrong") from the dev server's SQL visibility.
        if (q.pageToken && ([2, 3].includes((err as { code?: number }).code ?? -1) || /token|page|invalid|unmarshal|decode/i.test((err as Error).message))) {
          throw new ProblemError(400, 'Invalid request', 'querystring.pageToken is not a page token this API issued', 'querystring.pageToken');
        }
        throw err;
      }
      const converter = temporal.workflow.options.loadedDataConverter;
      const runs = await Promise.all(response.executions.map(async (raw) => summary(await executionInfoFromRaw(raw, converter, raw, namespace))));
      const next = response.nextPageToken?.length ? sealPageToken(signingKey, response.nextPageToken) : undefined;
      return { runs, nextPageToken: next };
    },
  );

  app.get<{ Params: { workflowId: string } }>(
    '/runs/:workflowId',
    {
      config: { roles: READERS, action: 'find run' },
      schema: {
        summary: '按编号查找运行 Find a run by workflow id (redirects to its kind)',
        tags: ['运行 Runs'],
        params: {
          type: 'object',
          required: ['workflowId'],
          properties: { workflowId: { type: 'string', pattern: `^[a-z][a-z0-9]*-${ID_SUFFIX_PATTERN}$` } },
        },
        response: { 307: { description: '重定向 The run under its kind, e.g. /cutovers/<workflowId>', type: 'null' }, ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const kind = kindOfWorkflowId(kinds, request.params.workflowId);
      if (!kind) {
        throw new ProblemError(404, 'Unknown run', `no run kind has ids like ${request.params.workflowId}; prefixes: ${kinds.map((k) => k.idPrefix).join(', ')}`, 'params.workflowId');
      }
      return reply.redirect(`/${kind.collection}/${request.params.workflowId}`, 307);
    },
  );

  app.get(
    '/approvals/pending',
    {
      config: { roles: READERS, action: 'list pending approvals' },
      schema: {
        summary: '待我审批 Gates and sign-offs waiting for me, across runs',
        description:
          'Open gates the caller’s role may decide, on runs the caller did not start (four-eyes), and plan items ready for the caller’s role to sign off (签收; four-eyes does not apply: the plan’s owner roles sign their own items). Viewers get an empty list; operators see the plan items their role owns.',
        tags: ['审批 Approvals'],
        response: {
          200: {
            description: '待审批 Pending approvals, oldest run first',
            type: 'object',
            properties: {
              pending: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    ...runSummarySchema.properties,
                    gate: { type: 'string', description: 'the gate, or the plan item' },
                    gateTitle: { type: 'string' },
                    decide: { type: 'string', description: 'POST here: a gate takes {"decision": "approve"|"reject", "reason": …}, a plan item {"note": …}' },
                  },
                },
              },
              unavailable: {
                type: 'array',
                description: 'runs waiting for approval whose state could not be read (no worker answering)',
                items: { type: 'object', properties: { workflowId: { type: 'string' }, problem: { type: 'string' } } },
              },
            },
          },
          ...problems(401, 403, 500),
        },
      },
    },
    async (request) => {
      const actor = request.actor!;
      const mayDecide = (roles: readonly Role[]) => actor.role === 'admin' || roles.includes(actor.role);
      // Kinds with gates are asked only when the caller may decide one; sign-offs name their roles per item.
      const relevant = kinds.filter((k) => k.gates.some((g) => mayDecide(g.deciders)) || k.signoffs);
      if (!relevant.length) return { pending: [], unavailable: [] };
      const waitingRuns = relevant.map((k) => (k.waitingStatus ? `(RunbookKind = ${literal(k.kind)} AND RunbookStatus = ${literal(k.waitingStatus)})` : `RunbookKind = ${literal(k.kind)}`));
      const query = `${scope} AND ExecutionStatus = "Running" AND (${waitingRuns.join(' OR ')})`;
      const waiting: WorkflowExecutionInfo[] = [];
      // Bounded: a list of hundreds of runs waiting for one person is already a problem to report.
      for await (const info of temporal.workflow.list({ query, pageSize: 100 })) {
        waiting.push(info);
        if (waiting.length >= 200) break;
      }
      const pending: Record<string, unknown>[] = [];
      const unavailable: { workflowId: string; problem: string }[] = [];
      await Promise.all(
        waiting.map(async (info) => {
          const kind = byType.get(info.type)!;
          try {
            const state = await temporal.workflow.getHandle(info.workflowId).query(kind.stateQuery);
            for (const a of awaiting(kind, state)) {
              if (!mayDecide(a.deciders) || (a.fourEyes && info.memo?.requestedBy === actor.name)) continue;
              pending.push({ ...summary(info), gate: a.gate, gateTitle: a.title, decide: `/${kind.collection}/${info.workflowId}/${a.path}` });
            }
          } catch (err) {
            unavailable.push({ workflowId: info.workflowId, problem: (err as Error).message });
          }
        }),
      );
      pending.sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
      return { pending, unavailable };
    },
  );
}
