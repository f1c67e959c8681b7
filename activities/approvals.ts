import { decisionSignatureProblem, SignedDecision } from '../lib/decision-signing';
import { previousSigningKeys } from '../lib/settings';
import type { ActivityDeps } from './deps';

/** 审批核验: checks a gate decision's or plan sign-off's API signature, on the worker, where the signing key lives. */
export function approvalActivities(deps: ActivityDeps) {
  return {
    /** Why the decision must not count, or null when its signature holds. */
    async verifyDecision(input: { decision: SignedDecision<string>; workflowId: string; runId?: string }): Promise<string | null> {
      const keys = [deps.settings.APPROVAL_SIGNING_KEY, ...previousSigningKeys(deps.settings)].filter(Boolean);
      if (!keys.length) return 'this worker holds no signing key (APPROVAL_SIGNING_KEY), so it counts no decision';
      const problem = decisionSignatureProblem(input.decision, keys, { workflowId: input.workflowId, runId: input.runId }, new Date());
      if (problem) deps.logger.warn({ workflowId: input.workflowId, runId: input.runId, gate: input.decision?.gate, actor: input.decision?.actor, problem }, 'gate decision refused');
      return problem;
    },
  };
}
