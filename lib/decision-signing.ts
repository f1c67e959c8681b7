import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Gate decisions are signed by the API (which authenticated the person) and checked by the worker
 * before the workflow counts them. Anyone who can reach Temporal (Web UI, CLI) can send a signal;
 * without the signing key they cannot forge a decision that passes. The key stays in the API's and
 * worker's environment; only the signature travels through workflow history.
 */
export interface DecisionClaims<D extends string = 'approve' | 'reject'> {
  workflowId: string;
  /** the cutover gate, or the project-plan item, the decision is about */
  gate: string;
  /** approve | reject for gates; signoff | rebaseline for plan items */
  decision: D;
  actor: string;
  role: string;
  reason?: string;
  /** rebaseline only: the new due date (YYYY-MM-DD), signed so it cannot be altered on the way */
  dueDate?: string;
  /** ISO time the API signed it; stale decisions are refused */
  issuedAt: string;
}

export type SignedDecision<D extends string = 'approve' | 'reject'> = DecisionClaims<D> & { signature: string };

function canonical(c: DecisionClaims<string>): string {
  return JSON.stringify([c.workflowId, c.gate, c.decision, c.actor, c.role, c.reason ?? null, c.dueDate ?? null, c.issuedAt]);
}

export function signDecision<D extends string>(claims: DecisionClaims<D>, key: string): SignedDecision<D> {
  return { ...claims, signature: createHmac('sha256', key).update(canonical(claims)).digest('base64url') };
}

/** Why a signed decision must not count, or null when it may. */
export function decisionSignatureProblem(d: SignedDecision<string>, key: string, expectedWorkflowId: string, now: Date, maxAgeMs = 10 * 60_000): string | null {
  if (typeof d.signature !== 'string' || !d.signature) return 'the decision is not signed (it did not come through the API)';
  const expected = Buffer.from(signDecision(d, key).signature);
  const given = Buffer.from(d.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'the decision signature is invalid (forged or altered)';
  if (d.workflowId !== expectedWorkflowId) return `the decision was signed for ${d.workflowId}, not this run`;
  const age = now.getTime() - Date.parse(d.issuedAt);
  if (!(age >= -60_000 && age <= maxAgeMs)) return `the decision was signed at ${d.issuedAt}, outside the ${maxAgeMs / 60000}-minute window`;
  return null;
}
