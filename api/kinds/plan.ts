import { z } from 'zod';
import { renderStatusHtml, renderStatusMarkdown } from '../../reports/plan-report';
import { PLAN_STATUSES, planInput, type PlanInput, planProgress, type PlanProgress, planProgressQuery } from '../../workflows/plan-messages';
import { bodySchemaOf, stateSchemaOf } from '../contracts';
import planItemRoutes from '../routes/plan';
import type { RunKind } from '../run-kinds';
import { realDate } from './plan-dates';

/**
 * 项目计划 the 90-day project plan (workflows/plan.ts) as a run kind: start, progress, cancel, status
 * report, a place in the run list; its items waiting for a sign-off are in "pending approvals". The
 * item routes (sign-off, re-baseline) are the plan's own (api/routes/plan.ts, declared below): a sign-off is
 * by the item's owner role, has no "reject", and the one who started the plan may give it.
 */
export { DATE_PATTERN, realDate } from './plan-dates';

const planStartBody = planInput
  .pick({ t0: true })
  .extend({ planId: planInput.shape.planId.describe('计划编号 optional; default jm-<t0>; the workflow id is plan-<planId>').optional() })
  .strict();
export type PlanStartBody = z.infer<typeof planStartBody>;

export const planKind: RunKind<PlanProgress, PlanStartBody> = {
  kind: 'plan',
  workflowType: 'plan',
  idPrefix: 'plan-',
  collection: 'plans',
  title: '项目计划 Plan',
  start: {
    roles: ['operator'],
    idField: 'planId',
    bodySchema: bodySchemaOf(planStartBody),
    plan(body, actor) {
      const t0 = realDate(body.t0, 'body.t0');
      const planId = body.planId ?? `jm-${t0}`;
      const input: PlanInput = { planId, t0, startedBy: actor.name };
      return { runId: planId, args: [input], memo: { t0 }, summary: `项目计划 Project plan ${planId} · T0 ${t0} · started by ${actor.name}`, phase: 'kickoff' };
    },
  },
  stateQuery: planProgressQuery,
  // The answer requires what it always has; the rest is documented, so an API newer than the worker answering the
  // query never fails a plan's state for a property made required later.
  stateSchema: stateSchemaOf(planProgress.partial({ name: true, generation: true, rebaselines: true, recentDecisions: true, asOf: true })),
  statuses: PLAN_STATUSES,
  gates: [],
  openGates: () => [],
  signoffs: (p) =>
    p.items
      .filter((i) => i.completion === 'signoff' && i.status === 'ready')
      .map((i) => ({ gate: i.id, title: i.title, deciders: [i.ownerRole], path: `items/${i.id}/signoff`, fourEyes: false })),
  progress: (p) => ({ done: p.items.filter((i) => i.status === 'done').length, total: p.items.length, current: p.packages.find((k) => k.id === p.phase)?.title }),
  reports: {
    'status.md': { title: '项目周报 Status report as of now (Markdown)', contentType: 'text/markdown; charset=utf-8', render: renderStatusMarkdown },
    'status.html': { title: '项目周报 Status report as of now (HTML)', contentType: 'text/html; charset=utf-8', render: renderStatusHtml },
  },
  ownRoutes: planItemRoutes,
};
