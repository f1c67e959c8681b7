import { workflowInfo } from '@temporalio/workflow';
import type { SignedDecision } from '../../lib/decision-signing';
import type { DecisionRecord } from '../cutover-messages';
import { admitSigned, keep, neverThrow, ShownMessage, signedMessageSchema } from './admission';

/**
 * 审批规则 The one implementation of the rules a signed decision meets after admission (admission.ts:
 * shape, signature bound to this run, one-time nonce), shared by every workflow that takes signed
 * messages — the cutover's gates and operator choices, the fallback's choices, the standby drill's gate,
 * the plan's sign-offs:
 *   - `signedHandler`: a signal handler that admits the message, hands an admitted one to the workflow's
 *     own rules, and turns whatever is refused or thrown into a recorded refusal (never a failed run);
 *   - `gateRefusal` / `applyGateDecision`: the gate rule chain — known gate, open, four-eyes (the run's
 *     initiator cannot decide), role, distinct approvers (M-of-N) — and its effect;
 *   - `pendingChoiceRefusal`: an operator's choice on a failed step — the step waits, the choice is
 *     offered, the role may choose, a reason where one is needed.
 * Pure functions of their arguments plus workflowInfo(): replay-safe, and the command sequence of a
 * handler is exactly the signature-check activity of admission.ts (nothing here schedules anything).
 */

/** What checks a signature: the worker's verifyDecision activity, through the workflow's own proxy. */
export interface DecisionChecker {
  verifyDecision(args: { decision: SignedDecision<string>; workflowId: string; runId?: string }): Promise<string | null>;
}

/** Where a workflow admits signed messages: its signature check bound to this run, and the nonces it has seen. */
export interface SignedInbox {
  verify: (d: SignedDecision<string>) => Promise<string | null>;
  usedNonces: Set<string>;
}

/** One inbox per run: a decision signed for this workflow id and its first execution (continue-as-new keeps it). */
export function signedInbox(checker: DecisionChecker, workflowId: string = workflowInfo().workflowId): SignedInbox {
  return {
    verify: (d) => checker.verifyDecision({ decision: d, workflowId, runId: workflowInfo().firstExecutionRunId }),
    usedNonces: new Set<string>(),
  };
}

/** What a refused message is recorded as when nothing of it could be read (a handler that threw). */
export const UNREADABLE: ShownMessage = { gate: '?', decision: '?', actor: '?' };

/**
 * A signal handler for signed messages with the given decisions: admission first; an admitted message
 * goes to `admitted` (the workflow's own rules, records and effects), a refused one — or anything that
 * throws — to `refused` with what could be read of it. Never throws.
 */
export function signedHandler<D extends string>(
  decisions: ReturnType<typeof signedMessageSchema<D>>,
  inbox: SignedInbox,
  on: { admitted: (d: SignedDecision<D>) => void | Promise<void>; refused: (shown: ShownMessage, refusal: string) => void },
): (raw: unknown) => Promise<void> {
  return (raw: unknown) =>
    neverThrow(
      async () => {
        const admitted = await admitSigned(raw, decisions, inbox.verify, inbox.usedNonces);
        if (!admitted.ok) return on.refused(admitted.shown, admitted.refusal);
        await on.admitted(admitted.message);
      },
      (refusal) => on.refused(UNREADABLE, refusal),
    );
}

/** The record every workflow keeps of a decision it received, accepted or refused (the signature dropped): DecisionRecord, any decision. */
export type KeptDecision = Omit<DecisionRecord, 'decision'> & { decision: string };

/** Keeps (bounded, oldest dropped) the record of an admitted decision and why it was refused, if it was. */
export function keepDecision<R extends KeptDecision>(list: R[], d: SignedDecision<string>, at: string, refusal: string | undefined): void {
  keep(list, { gate: d.gate, decision: d.decision, actor: d.actor, role: d.role, reason: d.reason, at, accepted: !refusal, refusal } as R);
}

/** Keeps the record of a message refused at admission, with what could be read of it. */
export function keepRefused<R extends KeptDecision>(list: R[], shown: ShownMessage, at: string, refusal: string): void {
  keep(list, { ...shown, at, accepted: false, refusal } as R);
}

/** A handler's `refused`: keep the refusal in `list`, then `after` (the workflow's publish). */
export function refusalsInto<R extends KeptDecision>(list: R[], now: () => string, after: () => void): (shown: ShownMessage, refusal: string) => void {
  return (shown, refusal) => {
    keepRefused(list, shown, now(), refusal);
    after();
  };
}

/** A gate as the rules see it (the cutover's and the standby drill's GateState). */
export interface DecidableGate {
  name: string;
  status: 'waiting' | 'open' | 'approved' | 'rejected' | 'cancelled';
  roles: string[];
  approvals: number;
  approvedBy: { actor: string; role?: string; at: string; reason?: string }[];
  decidedBy?: string;
  decidedAt?: string;
  reason?: string;
}

/**
 * 四眼原则 The gate rule chain, first failing rule wins: the gate exists, is open, the decider did not start
 * the run (four-eyes, also for a signal that bypassed the API), holds one of the gate's roles, and has not
 * approved it already (M-of-N needs distinct people). `runNoun` and `gateLabel` only word the refusal.
 */
export function gateRefusal<G extends DecidableGate>(
  gates: G[],
  d: SignedDecision<string>,
  initiator: string,
  wording: { runNoun: string; gateLabel?: (gate: string) => string } = { runNoun: 'run' },
): { gate?: G; refusal?: string } {
  const gate = gates.find((g) => g.name === d.gate);
  const label = wording.gateLabel?.(d.gate) ?? d.gate;
  const refusal = !gate
    ? `unknown gate "${d.gate}"`
    : gate.status !== 'open'
      ? `gate "${d.gate}" is ${gate.status}, not open for decisions`
      : d.actor === initiator
        ? `four-eyes rule: ${d.actor} started this ${wording.runNoun} and cannot decide its ${label} gate`
        : !gate.roles.includes(d.role)
          ? `role ${d.role} may not decide gate "${d.gate}" (allowed: ${gate.roles.join(', ')})`
          : gate.approvedBy.some((a) => a.actor === d.actor)
            ? `${d.actor} already approved gate "${d.gate}"; it needs ${gate.approvals} different approvers`
            : undefined;
  return { gate, refusal };
}

/** An accepted decision's effect: an approval counts; a rejection, or the M-th approval, closes the gate. */
export function applyGateDecision(gate: DecidableGate, d: SignedDecision<'approve' | 'reject'>, at: string): void {
  if (d.decision === 'approve') gate.approvedBy.push({ actor: d.actor, role: d.role, at, reason: d.reason });
  if (d.decision === 'reject' || gate.approvedBy.length >= gate.approvals) {
    gate.status = d.decision === 'approve' ? 'approved' : 'rejected';
    gate.decidedBy = d.actor;
    gate.decidedAt = at;
    gate.reason = d.reason;
  }
}

/** Who may choose how a failed step goes on. */
export const OPERATOR_ROLES = ['operator', 'admin'];

/**
 * An operator's choice on a step that failed after its retries: the message names the step that waits
 * (`<prefix>:<step>`), the choice is one it offers, the role may choose, and the choices in `needReason`
 * carry a reason. `wording` names the step, who it waits for and the act in the refusals.
 */
export function pendingChoiceRefusal(
  pending: { step: string; choices?: readonly string[] } | undefined,
  d: SignedDecision<string>,
  rules: { prefix: string; needReason?: readonly string[]; wording: { step: string; waitsFor: string; act: string } },
): string | undefined {
  const w = rules.wording;
  return !pending || d.gate !== `${rules.prefix}:${pending.step}`
    ? `no ${w.step} "${d.gate}" is waiting for ${w.waitsFor}`
    : pending.choices && !pending.choices.includes(d.decision)
      ? `step ${pending.step} does not allow "${d.decision}" (allowed: ${pending.choices.join(', ')})`
      : !OPERATOR_ROLES.includes(d.role)
        ? `role ${d.role} may not ${w.act}`
        : rules.needReason?.includes(d.decision) && !d.reason?.trim()
          ? `"${d.decision}" needs a recorded reason`
          : undefined;
}
