import { decisionSignatureProblem, SignedDecision } from '../lib/decision-signing';
import type { ActivityDeps } from './deps';

/** 审批核验: checks a gate decision's or plan sign-off's API signature, on the worker, where the signing key lives. */
export function approvalActivities(deps: ActivityDeps) {
  return {
    /** Why the decision must not count, or null when its signature holds. */
    async verifyDecision(input: { decision: SignedDecision<string>; workflowId: string }): Promise<string | null> {
      const problem = decisionSignatureProblem(input.decision, deps.settings.APPROVAL_SIGNING_KEY, input.workflowId, new Date());
      if (problem) deps.logger.warn({ workflowId: input.workflowId, gate: input.decision.gate, actor: input.decision.actor, problem }, 'gate decision refused');
      return problem;
    },
  };
}
