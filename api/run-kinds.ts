import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { QueryDefinition, SignalDefinition } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import type { SignedDecision } from '../lib/decision-signing';
import type { Role } from '../lib/runbook-db';
import type { Actor } from './auth';
import type { RunAccess } from './run-access';

/**
 * The registry of workflow kinds the API serves. A kind declares what the generic run routes
 * (api/routes/runs/) need — workflow type, id prefix, start body and input, state query and its
 * schema, gates and who decides them, failed-step choices, reports — and gets start / get / cancel /
 * decide a gate / choose after a failed step / report routes, a place in the run list and in
 * "pending approvals", and OpenAPI docs without route code. What a kind has besides (the plan's item sign-offs,
 * the remediation's corrections sheets) it declares as routes of its own, registered with the rest.
 */
/** A gate as the API lists and routes it: the workflow's own definition (e.g. GATE_DEFINITIONS in workflows/cutover-messages.ts) seen from outside. */
export interface KindGate {
  name: string;
  /** Chinese and English, shown in pending approvals and the CLI */
  title: string;
  /** roles that may decide it (admin always may); the run's initiator never may (four-eyes) */
  deciders: readonly Role[];
}

export type ReportContentType = 'text/markdown; charset=utf-8' | 'text/html; charset=utf-8' | 'text/csv; charset=utf-8' | 'application/json; charset=utf-8';

/** A report rendered from the run's state at the moment it is asked for. */
export interface RenderedReport<State> {
  title: string;
  contentType: ReportContentType;
  render(state: State, workflowId: string): string;
}

/** A report the worker wrote under REPORTS_DIR (evidence pack, verification report, failure analysis). */
export interface FileReport<State> {
  title: string;
  contentType: ReportContentType;
  /** its path relative to REPORTS_DIR, from the run's state; undefined while the run has none */
  file(state: State): string | undefined;
  /** served converted rather than as stored, e.g. a Markdown file as HTML */
  convert?(text: string, workflowId: string): string;
}

export type ReportDefinition<State> = RenderedReport<State> | FileReport<State>;

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

/** Something on a run that waits for a person with a given role: an open gate, a plan item to sign off. */
export interface Awaiting {
  /** the gate's name, or the plan item's id */
  gate: string;
  title: string;
  deciders: readonly Role[];
  /** where the decision is POSTed, below the run's own path */
  path: string;
  /** whoever started the run may not decide it */
  fourEyes: boolean;
}

/**
 * 操作员选择: a step that failed after its retries waits for the operator's signed choice. The workflow
 * checks the signature and that the signed decision's gate names the failed step.
 */
export interface StepChoices<State> {
  steps: readonly string[];
  choices: readonly string[];
  /** choices that change what the run does without redoing the step: they need a reason */
  reasonRequired: readonly string[];
  signal: SignalDefinition<[SignedDecision<string>]>;
  /** the signed decision's gate field for a step */
  gate(step: string): string;
  /** the failed step waiting now, and the choices it allows */
  waiting(state: State): { step: string; choices: readonly string[] } | undefined;
}

/** What a kind's own routes are given: the kind itself, how to reach its runs, and the app's connections and key. */
export interface KindRouteOptions<State = object, Body = unknown> {
  kind: RunKind<State, Body>;
  runs: RunAccess;
  temporal: Client;
  pool: Pool;
  taskQueue: string;
  signingKey: string;
}

export interface RunKind<State = object, Body = unknown> {
  /** value of the RunbookKind search attribute and of ?kind= */
  kind: string;
  workflowType: string;
  /** workflow ids are idPrefix + runId, so an id alone says which kind it is */
  idPrefix: string;
  /** URL collection, e.g. "cutovers" → POST /cutovers, GET /cutovers/:workflowId */
  collection: string;
  /** Chinese and English, e.g. "割接 Cutover": route summaries and the OpenAPI tag are built from it */
  title: string;
  start: {
    roles: readonly Role[];
    bodySchema: object;
    /** the body field that names the run (409 when taken); runId unless the kind says otherwise */
    idField?: string;
    plan(body: Body, actor: Actor): StartPlan;
  };
  stateQuery: QueryDefinition<State>;
  /**
   * The final state from the workflow's result, when it returns one: a completed run is then read from
   * its result (one history read on the server) instead of a query, which makes a worker replay the whole run.
   */
  stateFromResult?(result: unknown): State;
  /** JSON schema of the state the query returns: the GET response is this plus the run envelope */
  stateSchema: { type: 'object'; properties: Record<string, object>; required?: readonly string[]; additionalProperties?: boolean };
  /** values the workflow puts in RunbookStatus / RunbookPhase, for the list filters */
  statuses: readonly string[];
  gates: readonly KindGate[];
  decisionSignal?: SignalDefinition<[SignedDecision]>;
  openGates(state: State): string[];
  /**
   * 目标库租约 runs of this kind act on the target database, one at a time (lib/target-lease.ts): a start
   * while a live run of this deployment holds the target is answered 409 naming it; the workflow enforces it too
   */
  holdsTarget?: boolean;
  /** the workflow refuses a start without the API's signature naming its initiator (input.start) */
  signedStart?: boolean;
  /** how many distinct approvals open the gate (default 1): decisions beyond that are told 409, not "sent" */
  approvalsNeeded?(state: State, gate: string): number;
  /** what else waits for a person besides gates (the plan's sign-offs), with its own route */
  signoffs?(state: State): Awaiting[];
  /**
   * RunbookStatus of a run waiting for an approval, so "pending approvals" asks only those runs;
   * absent when any running run may be waiting (the plan, whose items wait while it runs on).
   */
  waitingStatus?: string;
  stepChoices?: StepChoices<State>;
  progress(state: State): Progress;
  reports: Record<string, ReportDefinition<State>>;
  /**
   * Routes of the kind's own beside the generated ones, as a fastify plugin: registered after the run routes of
   * every kind, in the order of the kinds, and documented in OpenAPI like them.
   */
  ownRoutes?(app: FastifyInstance, opts: KindRouteOptions<State, Body>): Promise<void>;
}

/** A run id nobody typed: the mode or kind, a UTC timestamp to the second, and a short random tail. */
export function generatedRunId(label: string, now = new Date()): string {
  return `${label}-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
}

/** The kind a workflow id belongs to, by its prefix. */
export function kindOfWorkflowId(kinds: readonly RunKind[], workflowId: string): RunKind | undefined {
  return kinds.find((k) => workflowId.startsWith(k.idPrefix));
}
