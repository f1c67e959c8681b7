import type { WorkflowExecutionInfo } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Role } from '../../../lib/runbook-db';
import type { Awaiting, RunKind } from '../../run-kinds';
import { problems } from '../../schemas';
import { documented, type PendingApprovals, pendingApprovals } from '../../contracts';
import { literal, READERS, type RunRouteContext } from './context';

/** Open gates and what else waits for a person (plan sign-offs), with where to decide each. */
function awaiting<State>(kind: RunKind<State>, state: State): Awaiting[] {
  const gates = kind.gates.filter((g) => kind.openGates(state).includes(g.name));
  return [
    ...gates.map((g) => ({ gate: g.name, title: g.title, deciders: g.deciders, path: `gates/${g.name}/decision`, fourEyes: true })),
    ...(kind.signoffs?.(state) ?? []),
  ];
}

/** 待我审批 GET /approvals/pending: gates and sign-offs the caller may decide, across runs of every kind. */
export default async function approvalRoutes(app: FastifyInstance, { ctx }: { ctx: RunRouteContext }) {
  const { temporal, kinds, byType, scope, summary } = ctx;

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
          200: { description: '待审批 Pending approvals, oldest run first', ...documented(pendingApprovals) },
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
      const pending: PendingApprovals['pending'] = [];
      const unavailable: PendingApprovals['unavailable'] = [];
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
