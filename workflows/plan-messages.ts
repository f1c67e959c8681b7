import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SignedDecision } from '../lib/decision-signing';
import type { AutomatedRun, LocalizedTitle, OwnerRole, PlanDefinition } from '../plan/definition';

/**
 * The project plan's contract with the outside world (API, tests): its input, the state it keeps
 * (carried whole across continue-as-new), the signed sign-offs and re-baselines it accepts.
 */
export interface PlanInput {
  planId: string;
  /** contract signature date (YYYY-MM-DD, China time); every due date is counted from it */
  t0: string;
  /** user name of the operator who started the plan; runs the plan starts are started on their behalf */
  startedBy: string;
  /** continue-as-new once history holds this many events (the server's own suggestion also counts) */
  continueAsNewAfterEvents?: number;
  /** set only by the workflow itself when it continues as new */
  carried?: PlanState;
}

export type ItemStatus = 'blocked' | 'ready' | 'running' | 'done' | 'failed';

export interface AutomatedRunRecord {
  attempt: number;
  /** the child workflow id or the activity's name */
  ref: string;
  startedAt: string;
  finishedAt?: string;
  ok?: boolean;
  summary?: string;
  /** what did not pass: closed flows, unreachable systems, the cutover's failure */
  problems?: string[];
}

export interface ItemState {
  id: string;
  packageId: string;
  title: LocalizedTitle;
  ownerRole: OwnerRole;
  dependsOn: string[];
  deliverable: string;
  completion: { kind: 'signoff' } | { kind: 'automated'; run: AutomatedRun };
  dueAt: string;
  status: ItemStatus;
  doneAt?: string;
  doneBy?: string;
  note?: string;
  runs: AutomatedRunRecord[];
  /** a failed automated item runs again at this time */
  retryAt?: string;
}

export interface MilestoneState {
  id: string;
  title: LocalizedTitle;
  deliverable: string;
  items: string[];
  dueAt: string;
  reachedAt?: string;
}

/** Every signed request the plan received, accepted or refused (the signature itself is dropped). */
export interface PlanDecisionRecord {
  item: string;
  decision: PlanDecisionKind;
  actor: string;
  role: string;
  reason?: string;
  dueDate?: string;
  at: string;
  accepted: boolean;
  refusal?: string;
}

export interface RebaselineRecord {
  item: string;
  from: string;
  to: string;
  by: string;
  role: string;
  reason: string;
  at: string;
}

export type NotificationKind = 'reminder' | 'escalation' | 'milestone-late' | 'milestone-reached' | 'automated-failed';

export interface NotificationRecord {
  /** kind, item and due date: a re-baselined due date gets its own reminder and escalation */
  key: string;
  kind: NotificationKind;
  subject: string;
  at: string;
  channel?: string;
  error?: string;
}

export interface PlanState {
  planId: string;
  t0: string;
  startedBy: string;
  /** the plan as loaded when this project started; pinned so an edited file cannot change a running project */
  definition: PlanDefinition;
  status: 'running' | 'completed';
  items: ItemState[];
  milestones: MilestoneState[];
  decisions: PlanDecisionRecord[];
  rebaselines: RebaselineRecord[];
  notifications: NotificationRecord[];
  reports: { at: string; files: string[]; error?: string }[];
  nextReportAt: string;
  /** how many times the workflow continued as new; the state above survived each one */
  generation: number;
}

export type PlanDecisionKind = 'signoff' | 'rebaseline';
export type SignedPlanDecision = SignedDecision<PlanDecisionKind>;

/** Re-baselining changes the contract's schedule: the business lead's call. */
export const REBASELINE_ROLE: OwnerRole = 'approver';

/** The same rule the API applies to routes: an admin may act for any role. */
export function mayActFor(role: string, ownerRole: OwnerRole): boolean {
  return role === ownerRole || role === 'admin';
}

/** Where the project stands (the planProgress query; computed in plan-progress.ts). */
export interface PackageProgress {
  id: string;
  title: string;
  done: number;
  total: number;
  percent: number;
}

export interface ItemProgress {
  id: string;
  packageId: string;
  title: string;
  ownerRole: OwnerRole;
  completion: string;
  status: ItemStatus;
  dueAt: string;
  doneAt?: string;
  doneBy?: string;
  /** who or what the item waits for, when it is not done */
  waitingFor?: string;
  /** whole days past due, when it is late */
  daysLate?: number;
}

export interface MilestoneProgress {
  id: string;
  title: string;
  dueAt: string;
  deliverable: string;
  status: 'reached' | 'pending' | 'late';
  reachedAt?: string;
}

export interface PlanProgress {
  planId: string;
  name: string;
  t0: string;
  status: PlanState['status'];
  phase: string;
  percent: number;
  generation: number;
  packages: PackageProgress[];
  milestones: MilestoneProgress[];
  late: ItemProgress[];
  items: ItemProgress[];
  rebaselines: PlanState['rebaselines'];
  /** the latest signed requests, accepted or refused, with the refusal's reason */
  recentDecisions: PlanState['decisions'];
  asOf: string;
}

export const signOffItemSignal = defineSignal<[SignedPlanDecision]>('signOffItem');
export const rebaselineItemSignal = defineSignal<[SignedPlanDecision]>('rebaselineItem');
export const planStateQuery = defineQuery<PlanState>('planState');
export const planProgressQuery = defineQuery<PlanProgress>('planProgress');
