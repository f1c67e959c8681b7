import { ActivityFailure, patched, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import type { SignedDecision } from '../../lib/decision-signing';
import { signedMessageSchema } from '../../lib/signed-message';

/**
 * 消息准入 Admission of signed messages (gate decisions, operator choices, sign-offs), shared by every
 * workflow that takes them. Anyone who reaches Temporal can send a signal with any payload: a handler
 * must never throw, or one malformed message fails the whole run. So, in this order:
 *   1. the payload's shape is checked here, synchronously, in the workflow (no activity for a TypeError);
 *   2. the signature is checked by the worker (the key never enters the workflow) against this workflow id
 *      and run; an activity that fails for good is a refusal, not an escaping error; its one-time nonce
 *      must not have been seen before;
 *   3. the workflow's own rules (gate open, four-eyes, roles) — the caller's part.
 * Whatever is refused is recorded with what could be read of it, cut to a bounded size.
 */

/** Longest text kept of a field of a refused message: a flood of huge strings must not swell the run's state. */
const SHOWN_CHARS = 120;
/** Records kept per list; the oldest go first. */
export const RECORDS_KEPT = 500;

// The shape of a signed message, defined once beside its types: lib/signed-message.ts.
export { signedMessageSchema };

/** What a refused message said, as far as it could be read: strings only, each cut short. */
export interface ShownMessage {
  gate: string;
  decision: string;
  actor: string;
  role?: string;
  reason?: string;
}

function shown(raw: unknown): ShownMessage {
  const o = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const field = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    const s = typeof v === 'string' ? v : (() => { try { return JSON.stringify(v) ?? String(v); } catch { return '[unreadable]'; } })();
    return s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}…(${s.length} chars)` : s;
  };
  return { gate: field('gate') ?? '?', decision: field('decision') ?? '?', actor: field('actor') ?? '?', role: field('role'), reason: field('reason') };
}

/** The first few problems of a payload, with their JSON paths, in one line. */
function shapeProblem(error: z.ZodError, raw: unknown): string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return `malformed message 消息格式错误: expected a signed decision object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`;
  const issues = error.issues.slice(0, 4).map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`);
  return `malformed message 消息格式错误: ${issues.join('; ')}${error.issues.length > 4 ? ` (+${error.issues.length - 4} more)` : ''}`;
}

export type Admitted<D extends string> = { ok: true; message: SignedDecision<D> } | { ok: false; refusal: string; shown: ShownMessage };

/**
 * Steps 1 and 2 above. `verify` asks the worker to check the signature (an activity); it is called only
 * for a well-formed message. Never throws.
 */
export async function admitSigned<D extends string>(
  raw: unknown,
  schema: ReturnType<typeof signedMessageSchema<D>>,
  verify: (d: SignedDecision<string>) => Promise<string | null>,
  usedNonces: Set<string>,
): Promise<Admitted<D>> {
  const parsed = schema.safeParse(raw);
  // Workflows started before this check scheduled the signature activity even for a malformed payload:
  // replaying one of those must take the same path (the activity, whose failure is now a refusal).
  if (!parsed.success && patched('message-shape-admission')) return { ok: false, refusal: shapeProblem(parsed.error, raw), shown: shown(raw) };
  try {
    const problem = await verify((parsed.success ? parsed.data : raw) as SignedDecision<string>);
    if (problem) return { ok: false, refusal: problem, shown: shown(raw) };
  } catch (err) {
    const cause = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error)?.message;
    return { ok: false, refusal: `the signature could not be checked 签名核验失败: ${cause ?? String(err)}`, shown: shown(raw) };
  }
  if (!parsed.success) return { ok: false, refusal: shapeProblem(parsed.error, raw), shown: shown(raw) };
  // One use per signed message: a decision replayed later (a retry choice sent again, an approval
  // captured from history) is refused. Handlers run again on replay, so the set is rebuilt the same way.
  const nonce = parsed.data.nonce;
  // Decisions recorded before nonces existed replay as they were accepted then (patched(): false only in such a history).
  if (!nonce && patched('decision-nonce-required')) return { ok: false, refusal: 'the decision carries no one-time nonce (it did not come through this API)', shown: shown(raw) };
  if (!nonce) return { ok: true, message: parsed.data as SignedDecision<D> };
  if (usedNonces.has(nonce)) return { ok: false, refusal: 'the decision was already used once (replayed)', shown: shown(raw) };
  usedNonces.add(nonce);
  return { ok: true, message: parsed.data as SignedDecision<D> };
}

/** Appends a record, dropping the oldest beyond RECORDS_KEPT. */
export function keep<T>(list: T[], record: T): void {
  list.push(record);
  if (list.length > RECORDS_KEPT) list.splice(0, list.length - RECORDS_KEPT);
}

/**
 * Runs a handler body so that nothing it throws escapes into the workflow: an unexpected error becomes
 * the given refusal record instead of failing the run.
 */
export async function neverThrow(body: () => Promise<void> | void, onError: (message: string) => void): Promise<void> {
  try {
    await body();
  } catch (err) {
    onError(`the message could not be handled 消息处理出错: ${(err as Error)?.message ?? String(err)}`);
  }
}

/** A start signed by the API: who started the run (the actor, = input.requestedBy), for this workflow id. */
export const SIGNED_START = signedMessageSchema(['start']);
/** A start may wait for a worker a long while (a weekend's queue); what it binds is the workflow id and the initiator. */
export const START_MAX_AGE_MINUTES = 24 * 60;

/**
 * The first act of a run that changes things: its start must carry the API's signature naming who
 * started it, or nothing else happens. Returns why the start is refused, or null. Never throws.
 */
export async function startRefusal(start: unknown, requestedBy: string, verify: (d: SignedDecision<string>) => Promise<string | null>): Promise<string | null> {
  if (start === undefined || start === null) return 'the start is not signed: it was made around the API (straight on Temporal)';
  const parsed = SIGNED_START.safeParse(start);
  if (!parsed.success) return shapeProblem(parsed.error, start);
  if (parsed.data.gate !== 'start') return `the signed message is for "${parsed.data.gate}", not a start`;
  if (parsed.data.actor !== requestedBy) return `the start was signed for ${parsed.data.actor}, but the run says it was requested by ${requestedBy}`;
  try {
    return await verify(parsed.data as SignedDecision<string>);
  } catch (err) {
    const cause = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error)?.message;
    return `the start signature could not be checked 签名核验失败: ${cause ?? String(err)}`;
  }
}

/**
 * 签名启动 The signed-start check of a run that may be started by hand: a run started by another workflow (Temporal
 * names it the parent) needs none, nor one started before the check existed (the patch absent from its history).
 * `checker` is the workflow's own proxy of the worker's verifyDecision activity. Returns why the start is refused, or null.
 */
export async function signedStartRefusal(
  checker: { verifyDecision(args: { decision: SignedDecision<string>; workflowId: string; maxAgeMinutes?: number }): Promise<string | null> },
  start: unknown,
  requestedBy: string,
): Promise<string | null> {
  if (workflowInfo().parent || !patched('signed-start')) return null;
  return startRefusal(start, requestedBy, (d) => checker.verifyDecision({ decision: d, workflowId: workflowInfo().workflowId, maxAgeMinutes: START_MAX_AGE_MINUTES }));
}
