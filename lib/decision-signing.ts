import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { DecisionClaims, SignedDecision } from './signed-message';

/**
 * Gate decisions are signed by the API (which authenticated the person) and checked by the worker
 * before the workflow counts them. Anyone who can reach Temporal (Web UI, CLI) can send a signal;
 * without the signing key they cannot forge a decision that passes. The key stays in the API's and
 * worker's environment; only the signature travels through workflow history.
 *
 * What is signed binds a decision to one place and one use: the workflow id AND its Temporal run id
 * (a run started again under the same id is another run), the gate, and a one-time nonce the
 * workflow remembers (a decision replayed later is refused). The key id names which key signed it,
 * so keys can be rotated: the worker holds the current key and the previous ones until in-flight
 * decisions have expired.
 */
// The claims' shape (and its bounds) is defined once, as a zod schema the workflows admit signals with.
export type { DecisionClaims, SignedDecision };

/** A key's public name: a prefix of its SHA-256, so the id says nothing of the key and needs no setting of its own. */
export function keyIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

function canonical(c: DecisionClaims<string>): string {
  return JSON.stringify([c.workflowId, c.gate, c.decision, c.actor, c.role, c.reason ?? null, c.dueDate ?? null, c.issuedAt, c.runId ?? null, c.nonce ?? null, c.keyId ?? null]);
}

function mac(c: DecisionClaims<string>, key: string): string {
  return createHmac('sha256', key).update(canonical(c)).digest('base64url');
}

export function signDecision<D extends string>(claims: DecisionClaims<D>, key: string): SignedDecision<D> {
  const c = { ...claims, keyId: keyIdOf(key) };
  return { ...c, signature: mac(c, key) };
}

/** Where a decision is expected to apply: the workflow, and (when the caller knows it) its run. */
export interface DecisionTarget {
  workflowId: string;
  runId?: string;
}

/**
 * Why a signed decision must not count, or null when it may. `keys`: the current key first, then
 * previous keys still accepted during a rotation.
 */
export function decisionSignatureProblem(
  d: SignedDecision<string>,
  keys: string | readonly string[],
  expected: string | DecisionTarget,
  now: Date,
  maxAgeMs = 10 * 60_000,
): string | null {
  const target = typeof expected === 'string' ? { workflowId: expected } : expected;
  const held = typeof keys === 'string' ? [keys] : keys;
  if (!d || typeof d !== 'object' || typeof d.signature !== 'string' || !d.signature) return 'the decision is not signed (it did not come through the API)';
  const key = d.keyId === undefined ? held[0] : held.find((k) => keyIdOf(k) === d.keyId);
  if (key === undefined) return `the decision signature is invalid (forged or altered): key ${String(d.keyId).slice(0, 40)} is not (or no longer) accepted`;
  const expectedMac = Buffer.from(mac(d, key));
  const given = Buffer.from(d.signature);
  if (expectedMac.length !== given.length || !timingSafeEqual(expectedMac, given)) return 'the decision signature is invalid (forged or altered)';
  if (d.workflowId !== target.workflowId) return `the decision was signed for ${d.workflowId}, not this run`;
  if (target.runId !== undefined && d.runId !== target.runId) {
    return d.runId ? `the decision was signed for run ${d.runId} of ${d.workflowId}, not this run ${target.runId}` : 'the decision does not name the run it is for';
  }
  const age = now.getTime() - Date.parse(d.issuedAt);
  if (!(age >= -60_000 && age <= maxAgeMs)) return `the decision was signed at ${d.issuedAt}, outside the ${maxAgeMs / 60000}-minute window`;
  return null;
}
