import { decisionSignatureProblem, SignedDecision } from '../lib/decision-signing';
import { withClient } from '../lib/db';
import { previousSigningKeys } from '../lib/settings';
import type { ActivityDeps } from './deps';

/** 审批核验: checks a gate decision's or plan sign-off's API signature, on the worker, where the signing key lives. */
export function approvalActivities(deps: ActivityDeps) {
  return {
    /** Why the decision must not count, or null when its signature holds. */
    async verifyDecision(input: { decision: SignedDecision<string>; workflowId: string; runId?: string; maxAgeMinutes?: number }): Promise<string | null> {
      const keys = [deps.settings.APPROVAL_SIGNING_KEY, ...previousSigningKeys(deps.settings)].filter(Boolean);
      if (!keys.length) return 'this worker holds no signing key (APPROVAL_SIGNING_KEY), so it counts no decision';
      const problem = decisionSignatureProblem(input.decision, keys, { workflowId: input.workflowId, runId: input.runId }, new Date(), (input.maxAgeMinutes ?? 10) * 60_000);
      if (problem) deps.logger.warn({ workflowId: input.workflowId, runId: input.runId, gate: input.decision?.gate, actor: input.decision?.actor, problem }, 'gate decision refused');
      return problem;
    },

    /**
     * 审计 A start the run itself refused — made around the API (unsigned), or on a target another run holds
     * (目标库已被占用): one row in the audit trail, once per run.
     */
    async auditRefusedStart(input: { workflowId: string; runId: string; requestedBy: string; refusal: string; action?: 'start refused by the run: target held by another run' }): Promise<void> {
      const action = input.action ?? 'start refused by the run: not signed by the API';
      await withClient(deps.settings.RUNBOOK_DATABASE_URL, (c) =>
        c.query(
          `INSERT INTO audit_log (actor, role, action, run_id, request_id, status_code, outcome, detail)
           SELECT $1, NULL, $5::text, $2, $3, $6, 'refused', $4
            WHERE NOT EXISTS (SELECT 1 FROM audit_log WHERE request_id = $3 AND action = $5::text)`,
          [input.requestedBy.slice(0, 200), input.workflowId, `run:${input.runId}`, JSON.stringify({ refusal: input.refusal, claimedRequestedBy: input.requestedBy.slice(0, 200) }), action, input.action ? 409 : 403],
        ),
      );
      deps.logger.warn(input, 'start made around the API refused 未经接口签名的启动已拒绝');
    },
  };
}
