import { randomUUID } from 'node:crypto';
import { Client, QueryNotRegisteredError, WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { ProblemError } from './problems';

/** What reaching a run needs of its kind (a RunKind of api/run-kinds.ts has it): its workflow type, name, state query. */
export interface ReachableKind<State = object> {
  kind: string;
  workflowType: string;
  stateQuery: QueryDefinition<State>;
  stateFromResult?(result: unknown): State;
}

/**
 * How the routes reach a run: only runs of this deployment's task queue and of the kind the URL
 * names exist for them (anything else is a 404 naming the id), and a run's state is read the cheapest
 * way its kind allows.
 */
export class RunAccess {
  constructor(
    readonly temporal: Client,
    readonly taskQueue: string,
    private readonly uiBaseUrl: string,
  ) {}

  get namespace(): string {
    return this.temporal.options.namespace;
  }

  uiLink(workflowId: string): string {
    return `${this.uiBaseUrl}/namespaces/${this.namespace}/workflows/${encodeURIComponent(workflowId)}`;
  }

  async describe(kind: ReachableKind, workflowId: string): Promise<WorkflowExecutionDescription> {
    try {
      const d = await this.temporal.workflow.getHandle(workflowId).describe();
      if (d.type !== kind.workflowType || d.taskQueue !== this.taskQueue) throw new WorkflowNotFoundError('not ours', workflowId, undefined);
      return d;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new ProblemError(404, 'Unknown run', `no ${kind.kind} run with id ${workflowId}`, 'params.workflowId');
      }
      throw err;
    }
  }

  /** A run that still takes decisions, else a 409 naming how it ended. */
  async describeRunning(kind: ReachableKind, workflowId: string): Promise<WorkflowExecutionDescription> {
    const d = await this.describe(kind, workflowId);
    if (d.status.name !== 'RUNNING') {
      throw new ProblemError(409, 'Run finished', `run ${workflowId} is ${d.status.name.toLowerCase()}; it takes no more decisions`, 'params.workflowId');
    }
    return d;
  }

  /**
   * What binds a signed decision to this run and to one use (lib/decision-signing.ts): the Temporal run
   * (the first of its continue-as-new chain, which the workflow knows as firstExecutionRunId) and a nonce.
   */
  binding(d: WorkflowExecutionDescription): { runId: string; nonce: string } {
    return { runId: d.raw.workflowExecutionInfo?.firstRunId || d.runId, nonce: randomUUID() };
  }

  /** A run's state: from its result once completed (when the kind has one), else the state query. */
  async readState<State>(kind: ReachableKind<State>, workflowId: string, execution: string): Promise<State> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    if (execution === 'COMPLETED' && kind.stateFromResult) return kind.stateFromResult(await handle.result());
    try {
      return closedAs(execution, await handle.query(kind.stateQuery));
    } catch (err) {
      // A run whose first workflow task has not run yet (the plan loads its definition there) has no handlers.
      if (err instanceof QueryNotRegisteredError) throw new ProblemError(503, 'Run starting', `run ${workflowId} is still starting; try again in a moment`);
      throw err;
    }
  }
}

/** Statuses a workflow publishes while it is alive; a closed execution must never be read as one of them. */
const LIVE_STATUSES = new Set(['running', 'waiting_approval', 'waiting_operator', 'blocked', 'ready']);

/**
 * The runbook status to show for a run whose execution is `execution`: what the workflow published, unless
 * the execution ended without publishing an end (failed, terminated, timed out) — then "failed", never "running".
 */
export function runbookStatus(execution: string, published: string | undefined): string | undefined {
  if (execution === 'RUNNING' || execution === 'COMPLETED' || execution === 'CONTINUED_AS_NEW') return published;
  if (published !== undefined && !LIVE_STATUSES.has(published)) return published;
  return execution === 'CANCELLED' ? 'cancelled' : 'failed';
}

function closedAs<State>(execution: string, state: State): State {
  const s = state as { status?: unknown };
  if (!s || typeof s.status !== 'string') return state;
  const status = runbookStatus(execution, s.status);
  return status === s.status ? state : { ...state, status };
}
