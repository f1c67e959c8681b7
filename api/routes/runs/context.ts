import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { TypedSearchAttributes } from '@temporalio/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import type { Role } from '../../../lib/runbook-db';
import { RunbookPhase, RunbookStatus } from '../../../workflows/search-attributes';
import { EXECUTION_STATUSES, type RunSummary } from '../../contracts';
import { DecisionLedger } from '../../decision-ledger';
import { RunAccess, runbookStatus } from '../../run-access';
import type { RunKind } from '../../run-kinds';
import { ID_SUFFIX_PATTERN } from '../../schemas';

/**
 * What the run routes share: the options they are given, what is derived from them once (the decision ledger, the
 * kinds by workflow type, the task-queue scope of every visibility query), the schemas and helpers more than one
 * concern uses, and per kind its paths and path parameters.
 */
export interface RunRoutesOptions {
  runs: RunAccess;
  pool: Pool;
  signingKey: string;
  kinds: readonly RunKind[];
  /** where the worker writes reports (REPORTS_DIR); report files are served from here only */
  reportsDir: string;
}

export const READERS: readonly Role[] = ['viewer', 'operator', 'approver'];
export { EXECUTION_STATUSES };

/** Temporal visibility query string literal; values reaching here are enum- or pattern-checked already. */
export function literal(v: string): string {
  if (/["\\\n]/.test(v)) throw new Error(`refusing to put ${JSON.stringify(v)} in a visibility query`);
  return `"${v}"`;
}

/** Log lines of this request carry the workflow id, so a request id leads to the run and back. */
export function correlate(request: FastifyRequest, reply: FastifyReply, workflowId: string) {
  request.audit.runId = workflowId;
  request.log = request.log.child({ workflowId });
  reply.log = request.log; // fastify's "request completed" line is written through the reply's logger
}

export interface RunRouteContext extends RunRoutesOptions {
  temporal: Client;
  taskQueue: string;
  namespace: string;
  ledger: DecisionLedger;
  /** the kinds by their workflow type, to tell a listed execution's kind */
  byType: Map<string, RunKind>;
  /** the visibility clause that keeps every list to this deployment's task queue */
  scope: string;
  uiLink(workflowId: string): string;
  describe: RunAccess['describe'];
  readState: RunAccess['readState'];
  /** a listed execution as the run list and the pending approvals show it */
  summary(info: ListedExecution): RunSummary;
}

/**
 * What a run summary reads of a listed execution: the SDK's WorkflowExecutionInfo (client.workflow.list()) has it,
 * and so has a page of GET /runs as list.ts decodes it from the visibility response.
 */
export type ListedExecution = Pick<WorkflowExecutionInfo, 'type' | 'workflowId' | 'runId' | 'startTime' | 'closeTime' | 'memo'> & {
  status: Pick<WorkflowExecutionInfo['status'], 'name'>;
  typedSearchAttributes: Pick<TypedSearchAttributes, 'get'>;
};

export function runRouteContext(opts: RunRoutesOptions): RunRouteContext {
  const { runs, kinds } = opts;
  const { temporal, taskQueue, namespace } = runs;
  const uiLink = (workflowId: string) => runs.uiLink(workflowId);
  const byType = new Map(kinds.map((k) => [k.workflowType, k]));

  function summary(info: ListedExecution): RunSummary {
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

  return {
    ...opts,
    temporal,
    taskQueue,
    namespace,
    ledger: new DecisionLedger(opts.pool),
    byType,
    scope: `TaskQueue = ${literal(taskQueue)}`,
    uiLink,
    describe: (kind, workflowId) => runs.describe(kind, workflowId),
    readState: (kind, workflowId, execution) => runs.readState(kind, workflowId, execution),
    summary,
  };
}

/** Where one kind's runs live in the API: its collection, its tag and the workflow id parameter of its shape. */
export interface KindPaths {
  tag: string;
  base: string;
  workflowIdParam: { type: string; pattern: string; description: string };
  runParams: { type: string; required: string[]; properties: { workflowId: KindPaths['workflowIdParam'] } };
}

export function kindPaths(kind: RunKind): KindPaths {
  // Prefixes are plain words and a dash, so they go into the pattern as they are.
  if (!/^[a-z][a-z0-9]*-$/.test(kind.idPrefix)) throw new Error(`run kind ${kind.kind}: idPrefix "${kind.idPrefix}" must be lower-case letters/digits and a dash`);
  const workflowIdParam = {
    type: 'string',
    pattern: `^${kind.idPrefix}${ID_SUFFIX_PATTERN}$`,
    description: `工作流编号 workflow id, ${kind.idPrefix}<runId>`,
  };
  return {
    tag: kind.title,
    base: `/${kind.collection}`,
    workflowIdParam,
    runParams: { type: 'object', required: ['workflowId'], properties: { workflowId: workflowIdParam } },
  };
}

/** The options of a per-kind route plugin. */
export interface KindRoutesOptions {
  ctx: RunRouteContext;
  kind: RunKind;
  paths: KindPaths;
}
