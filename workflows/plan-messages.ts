import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import type { SignedDecision } from '../lib/decision-signing';
import { itemCompletion, localizedTitle, OWNER_ROLES, planDefinition, type OwnerRole } from '../plan/definition-schema';

/**
 * The project plan's contract with the outside world (API, tests): its input, the state it keeps
 * (carried whole across continue-as-new), the signed sign-offs and re-baselines it accepts.
 * Each shape is a zod schema: its TypeScript type is inferred here, and the API's start body and state schema
 * (api/kinds/plan.ts) are generated from it; the pinned plan definition is plan/definition-schema.ts's own shape.
 */

/** A China-time calendar day (YYYY-MM-DD), as T0 and re-baselined due dates are given. */
export const PLAN_DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

export const ITEM_STATUSES = ['blocked', 'ready', 'running', 'done', 'failed'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

export const automatedRunRecord = z.object({
  attempt: z.number().int(),
  /** the child workflow id or the activity's name */
  ref: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  ok: z.boolean().optional(),
  summary: z.string().optional(),
  /** what did not pass: closed flows, unreachable systems, the cutover's failure */
  problems: z.array(z.string()).optional(),
});
export type AutomatedRunRecord = z.infer<typeof automatedRunRecord>;

export const itemState = z.object({
  id: z.string(),
  packageId: z.string(),
  title: localizedTitle,
  ownerRole: z.enum(OWNER_ROLES),
  dependsOn: z.array(z.string()),
  deliverable: z.string(),
  completion: itemCompletion,
  dueAt: z.string(),
  status: z.enum(ITEM_STATUSES),
  doneAt: z.string().optional(),
  doneBy: z.string().optional(),
  note: z.string().optional(),
  runs: z.array(automatedRunRecord),
  /** a failed automated item runs again at this time */
  retryAt: z.string().optional(),
});
export type ItemState = z.infer<typeof itemState>;

export const milestoneState = z.object({
  id: z.string(),
  title: localizedTitle,
  deliverable: z.string(),
  items: z.array(z.string()),
  dueAt: z.string(),
  reachedAt: z.string().optional(),
});
export type MilestoneState = z.infer<typeof milestoneState>;

export const PLAN_DECISION_KINDS = ['signoff', 'rebaseline'] as const;
export type PlanDecisionKind = (typeof PLAN_DECISION_KINDS)[number];
export type SignedPlanDecision = SignedDecision<PlanDecisionKind>;

/** Every signed request the plan received, accepted or refused (the signature itself is dropped). */
export const planDecisionRecord = z.object({
  item: z.string(),
  decision: z.enum(PLAN_DECISION_KINDS),
  actor: z.string(),
  role: z.string(),
  reason: z.string().optional(),
  dueDate: z.string().optional(),
  at: z.string(),
  accepted: z.boolean(),
  refusal: z.string().optional(),
});
export type PlanDecisionRecord = z.infer<typeof planDecisionRecord>;

export const rebaselineRecord = z.object({
  item: z.string(),
  from: z.string(),
  to: z.string(),
  by: z.string(),
  role: z.string(),
  reason: z.string(),
  at: z.string(),
});
export type RebaselineRecord = z.infer<typeof rebaselineRecord>;

export const NOTIFICATION_KINDS = ['reminder', 'escalation', 'milestone-late', 'milestone-reached', 'automated-failed'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export const notificationRecord = z.object({
  /** kind, item and due date: a re-baselined due date gets its own reminder and escalation */
  key: z.string(),
  kind: z.enum(NOTIFICATION_KINDS),
  subject: z.string(),
  at: z.string(),
  channel: z.string().optional(),
  error: z.string().optional(),
});
export type NotificationRecord = z.infer<typeof notificationRecord>;

export const PLAN_STATUSES = ['running', 'completed'] as const;

export const planState = z.object({
  planId: z.string(),
  t0: z.string(),
  startedBy: z.string(),
  /** the plan as loaded when this project started; pinned so an edited file cannot change a running project */
  definition: planDefinition,
  status: z.enum(PLAN_STATUSES),
  items: z.array(itemState),
  milestones: z.array(milestoneState),
  decisions: z.array(planDecisionRecord),
  rebaselines: z.array(rebaselineRecord),
  notifications: z.array(notificationRecord),
  reports: z.array(z.object({ at: z.string(), files: z.array(z.string()), error: z.string().optional() })),
  nextReportAt: z.string(),
  /** how many times the workflow continued as new; the state above survived each one */
  generation: z.number().int(),
});
export type PlanState = z.infer<typeof planState>;

export const planInput = z.object({
  planId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/),
  /** contract signature date (YYYY-MM-DD, China time); every due date is counted from it */
  t0: z.string().regex(PLAN_DAY).describe('合同签订日期 contract signature date (YYYY-MM-DD, China time)'),
  /** user name of the operator who started the plan; runs the plan starts are started on their behalf */
  startedBy: z.string(),
  /** continue-as-new once history holds this many events (the server's own suggestion also counts) */
  continueAsNewAfterEvents: z.number().int().optional(),
  /** set only by the workflow itself when it continues as new */
  carried: planState.optional(),
});
export type PlanInput = z.infer<typeof planInput>;

/** Re-baselining changes the contract's schedule: the business lead's call. */
export const REBASELINE_ROLE: OwnerRole = 'approver';

/** The same rule the API applies to routes: an admin may act for any role. */
export function mayActFor(role: string, ownerRole: OwnerRole): boolean {
  return role === ownerRole || role === 'admin';
}

/** Where the project stands (the planProgress query; computed in plan-progress.ts). */
export const packageProgress = z.object({
  id: z.string(),
  title: z.string(),
  done: z.number().int(),
  total: z.number().int(),
  percent: z.number().int(),
});
export type PackageProgress = z.infer<typeof packageProgress>;

export const itemProgress = z.object({
  id: z.string(),
  packageId: z.string(),
  title: z.string(),
  ownerRole: z.enum(OWNER_ROLES),
  /** "signoff", or "automated:<run>" */
  completion: z.string(),
  status: z.enum(ITEM_STATUSES),
  dueAt: z.string(),
  doneAt: z.string().optional(),
  doneBy: z.string().optional(),
  /** who or what the item waits for, when it is not done */
  waitingFor: z.string().optional(),
  /** whole days past due, when it is late */
  daysLate: z.number().int().optional(),
});
export type ItemProgress = z.infer<typeof itemProgress>;

export const MILESTONE_STATUSES = ['reached', 'pending', 'late'] as const;

export const milestoneProgress = z.object({
  id: z.string(),
  title: z.string(),
  dueAt: z.string(),
  deliverable: z.string(),
  status: z.enum(MILESTONE_STATUSES),
  reachedAt: z.string().optional(),
});
export type MilestoneProgress = z.infer<typeof milestoneProgress>;

export const planProgress = z.object({
  planId: z.string(),
  name: z.string(),
  t0: z.string(),
  status: z.enum(PLAN_STATUSES),
  phase: z.string().describe('the work package of the earliest open item'),
  percent: z.number().int(),
  generation: z.number().int(),
  packages: z.array(packageProgress),
  milestones: z.array(milestoneProgress),
  late: z.array(itemProgress).describe('逾期 late items and whom they wait for'),
  items: z.array(itemProgress),
  rebaselines: z.array(rebaselineRecord),
  /** the latest signed requests, accepted or refused, with the refusal's reason */
  recentDecisions: z.array(planDecisionRecord),
  asOf: z.string(),
});
export type PlanProgress = z.infer<typeof planProgress>;

export const signOffItemSignal = defineSignal<[SignedPlanDecision]>('signOffItem');
export const rebaselineItemSignal = defineSignal<[SignedPlanDecision]>('rebaselineItem');
export const planStateQuery = defineQuery<PlanState>('planState');
export const planProgressQuery = defineQuery<PlanProgress>('planProgress');
