import { randomBytes } from 'node:crypto';
import type { QueryDefinition, SignalDefinition } from '@temporalio/common';
import type { SignedDecision } from '../lib/decision-signing';
import type { Role } from '../lib/runbook-db';
import type { Actor } from './auth';

/**
 * The registry of workflow kinds the API serves. A kind declares what the generic run routes
 * (api/routes/runs.ts) need — workflow type, id prefix, start body and input, state query and its
 * schema, gates and who decides them, reports — and gets start / get / cancel / decide / report
 * routes, a place in the run list and in "pending approvals", and OpenAPI docs without route code.
 */
export interface GateDefinition {
  name: string;
  /** Chinese and English, shown in pending approvals and the CLI */
  title: string;
  /** roles that may decide it (admin always may); the run's initiator never may (four-eyes) */
  deciders: readonly Role[];
}

export interface ReportDefinition<State> {
  title: string;
  contentType: 'text/markdown; charset=utf-8' | 'text/csv; charset=utf-8' | 'application/json; charset=utf-8';
  render(state: State, workflowId: string): string;
}

export interface StartPlan {
  /** the part after the id prefix; becomes the workflow id */
  runId: string;
  args: unknown[];
  /** extra memo entries; requestedBy and requestId are added by the API */
  memo?: Record<string, string>;
  /** one line for the Temporal Web UI */
  summary: string;
  /** first value of the RunbookPhase search attribute */
  phase: string;
}

/** How far a run has got, kind-neutral, for lists and the CLI's progress bar. */
export interface Progress {
  done: number;
  total: number;
  current?: string;
}

export interface RunKind<State = any, Body = any> {
  /** value of the RunbookKind search attribute and of ?kind= */
  kind: string;
  workflowType: string;
  /** workflow ids are idPrefix + runId, so an id alone says which kind it is */
  idPrefix: string;
  /** URL collection, e.g. "cutovers" → POST /cutovers, GET /cutovers/:workflowId */
  collection: string;
  /** Chinese and English, e.g. "割接 Cutover": route summaries and the OpenAPI tag are built from it */
  title: string;
  start: { roles: readonly Role[]; bodySchema: object; plan(body: Body, actor: Actor): StartPlan };
  stateQuery: QueryDefinition<State>;
  /**
   * True when the workflow returns its final state: a completed run is then read from its result
   * (one history read on the server) instead of a query, which makes a worker replay the whole run.
   */
  resultIsState: boolean;
  /** JSON schema of the state the query returns: the GET response is this plus the run envelope */
  stateSchema: { type: 'object'; properties: Record<string, object>; required?: readonly string[]; additionalProperties?: boolean };
  /** values the workflow puts in RunbookStatus / RunbookPhase, for the list filters */
  statuses: readonly string[];
  gates: readonly GateDefinition[];
  decisionSignal: SignalDefinition<[SignedDecision]>;
  openGates(state: State): string[];
  progress(state: State): Progress;
  reports: Record<string, ReportDefinition<State>>;
}

/** A run id nobody typed: the mode or kind, a UTC timestamp to the second, and a short random tail. */
export function generatedRunId(label: string, now = new Date()): string {
  return `${label}-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
}

/** The kind a workflow id belongs to, by its prefix. */
export function kindOfWorkflowId(kinds: readonly RunKind[], workflowId: string): RunKind | undefined {
  return kinds.find((k) => workflowId.startsWith(k.idPrefix));
}
