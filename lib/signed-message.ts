import { z } from 'zod';

/**
 * 签名消息 The shape of a signed message (a gate decision, an operator's choice, a plan sign-off, a signed start),
 * defined once: the workflows admit signals against it (workflows/kit/admission.ts: every field bounded, so a flood
 * of huge strings is refused before anything else), and its TypeScript types are inferred from it
 * (lib/decision-signing.ts signs and checks the same claims). zod only, so the workflow sandbox can load it.
 */
const text = (max: number) => z.string().max(max);

/** The shape of a signed message, with its decision restricted to what the receiving handler takes. */
export function signedMessageSchema<D extends string>(decisions: readonly [D, ...D[]]) {
  return z.object({
    workflowId: text(300),
    /** the Temporal run the decision is for (for a workflow that continues as new: the first run of its chain) */
    runId: text(100).optional(),
    /** the cutover gate, or the project-plan item, the decision is about */
    gate: text(200).min(1),
    /** approve | reject for gates; signoff | rebaseline for plan items; retry | skip | continue | fallback | abort for a failed step; start */
    decision: z.enum(decisions),
    actor: text(100).min(1),
    role: text(40).min(1),
    reason: text(4000).optional(),
    /** rebaseline only: the new due date (YYYY-MM-DD), signed so it cannot be altered on the way */
    dueDate: text(40).optional(),
    /** ISO time the API signed it; stale decisions are refused */
    issuedAt: text(40).min(1),
    /** one-time: the workflow refuses a second decision carrying the same nonce */
    nonce: text(100).optional(),
    /** which signing key (keyIdOf) signed it; filled in by signDecision */
    keyId: text(100).optional(),
    signature: text(200),
  });
}

type AnySigned = z.infer<ReturnType<typeof signedMessageSchema<string>>>;

/** A signed message, its decision one of D. */
export type SignedDecision<D extends string = 'approve' | 'reject'> = Omit<AnySigned, 'decision'> & { decision: D };

/** What is signed: the message without its signature. */
export type DecisionClaims<D extends string = 'approve' | 'reject'> = Omit<SignedDecision<D>, 'signature'>;
