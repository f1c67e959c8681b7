import { renderStatusHtml, renderStatusMarkdown } from '../../reports/plan-report';
import type { PlanInput } from '../../workflows/plan-messages';
import { planProgressQuery } from '../../workflows/plan-messages';
import type { PlanProgress } from '../../workflows/plan-progress';
import planItemRoutes from '../routes/plan';
import type { RunKind } from '../run-kinds';
import { DATE_PATTERN, realDate } from './plan-dates';

/**
 * 项目计划 the 90-day project plan (workflows/plan.ts) as a run kind: start, progress, cancel, status
 * report, a place in the run list; its items waiting for a sign-off are in "pending approvals". The
 * item routes (sign-off, re-baseline) are the plan's own (api/routes/plan.ts, declared below): a sign-off is
 * by the item's owner role, has no "reject", and the one who started the plan may give it.
 */
export { DATE_PATTERN, realDate } from './plan-dates';

export type PlanStartBody = { t0: string; planId?: string };

export const planKind: RunKind<PlanProgress, PlanStartBody> = {
  kind: 'plan',
  workflowType: 'plan',
  idPrefix: 'plan-',
  collection: 'plans',
  title: '项目计划 Plan',
  start: {
    roles: ['operator'],
    idField: 'planId',
    bodySchema: {
      type: 'object',
      additionalProperties: false,
      required: ['t0'],
      properties: {
        t0: { type: 'string', pattern: DATE_PATTERN, description: '合同签订日期 contract signature date (YYYY-MM-DD, China time)' },
        planId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$', description: '计划编号 optional; default jm-<t0>; the workflow id is plan-<planId>' },
      },
    },
    plan(body, actor) {
      const t0 = realDate(body.t0, 'body.t0');
      const planId = body.planId ?? `jm-${t0}`;
      const input: PlanInput = { planId, t0, startedBy: actor.name };
      return { runId: planId, args: [input], memo: { t0 }, summary: `项目计划 Project plan ${planId} · T0 ${t0} · started by ${actor.name}`, phase: 'kickoff' };
    },
  },
  stateQuery: planProgressQuery,
  stateSchema: {
    type: 'object',
    additionalProperties: true,
    required: ['planId', 't0', 'status', 'phase', 'percent', 'packages', 'milestones', 'late', 'items'],
    properties: {
      planId: { type: 'string' },
      name: { type: 'string' },
      t0: { type: 'string' },
      status: { type: 'string', enum: ['running', 'completed'] },
      phase: { type: 'string', description: 'the work package of the earliest open item' },
      percent: { type: 'integer' },
      packages: { type: 'array', items: { type: 'object', additionalProperties: true } },
      milestones: { type: 'array', items: { type: 'object', additionalProperties: true } },
      late: { type: 'array', items: { type: 'object', additionalProperties: true }, description: '逾期 late items and whom they wait for' },
      items: { type: 'array', items: { type: 'object', additionalProperties: true } },
    },
  },
  statuses: ['running', 'completed'],
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
