import type { SignedDecision } from '../../lib/decision-signing';
import { applyGateDecision, DecidableGate, gateRefusal, pendingChoiceRefusal } from '../../workflows/kit/decisions';

/** 审批规则 The one gate rule chain and operator-choice rules every workflow uses (workflows/kit/decisions.ts). */
const decision = <D extends string>(over: Partial<SignedDecision<D>> & { decision: D }): SignedDecision<D> => ({
  workflowId: 'cutover-x',
  gate: 'go-no-go',
  actor: 'li.approver',
  role: 'approver',
  issuedAt: '2026-12-01T00:00:00Z',
  signature: 'sig',
  ...over,
});
const gate = (over: Partial<DecidableGate> = {}): DecidableGate => ({ name: 'go-no-go', status: 'open', roles: ['approver', 'admin'], approvals: 2, approvedBy: [], ...over });

describe('gateRefusal: known, open, four-eyes, role, distinct approvers — the first failing rule wins', () => {
  const cutoverWording = { runNoun: 'run', gateLabel: (g: string) => (g === 'go-no-go' ? 'go/no-go' : g) };

  test.each([
    ['an unknown gate', [gate()], decision({ decision: 'approve', gate: 'launch' }), 'unknown gate "launch"'],
    ['a gate not open', [gate({ status: 'waiting' })], decision({ decision: 'approve' }), 'gate "go-no-go" is waiting, not open for decisions'],
    ['the initiator, even as approver', [gate()], decision({ decision: 'approve', actor: 'olivia.ops' }), 'four-eyes rule: olivia.ops started this run and cannot decide its go/no-go gate'],
    ['a role the gate does not name', [gate()], decision({ decision: 'reject', role: 'operator' }), 'role operator may not decide gate "go-no-go" (allowed: approver, admin)'],
    ['a second approval by the same person', [gate({ approvedBy: [{ actor: 'li.approver', at: 't' }] })], decision({ decision: 'approve' }), 'li.approver already approved gate "go-no-go"; it needs 2 different approvers'],
  ])('refuses %s', (_what, gates, d, refusal) => {
    expect(gateRefusal(gates, d, 'olivia.ops', cutoverWording).refusal).toBe(refusal);
  });

  test('words the refusal for the run it guards (a standby drill)', () => {
    expect(gateRefusal([gate({ name: 'promote' })], decision({ decision: 'approve', gate: 'promote', actor: 'alice' }), 'alice', { runNoun: 'drill' }).refusal).toBe(
      'four-eyes rule: alice started this drill and cannot decide its promote gate',
    );
  });

  test('admits another approver and returns the gate', () => {
    const g = gate();
    expect(gateRefusal([g], decision({ decision: 'approve' }), 'olivia.ops')).toEqual({ gate: g, refusal: undefined });
  });
});

describe('applyGateDecision: M-of-N approvals, a rejection closes at once', () => {
  test('the gate opens only at its M-th distinct approval', () => {
    const g = gate();
    applyGateDecision(g, decision({ decision: 'approve', actor: 'a' }), 't1');
    expect(g.status).toBe('open');
    applyGateDecision(g, decision({ decision: 'approve', actor: 'b', reason: 'ok' }), 't2');
    expect(g).toMatchObject({ status: 'approved', decidedBy: 'b', decidedAt: 't2', reason: 'ok' });
    expect(g.approvedBy.map((a) => a.actor)).toEqual(['a', 'b']);
  });

  test('one rejection closes the gate as rejected', () => {
    const g = gate();
    applyGateDecision(g, decision({ decision: 'reject', actor: 'a', reason: 'not ready' }), 't1');
    expect(g).toMatchObject({ status: 'rejected', decidedBy: 'a', reason: 'not ready', approvedBy: [] });
  });
});

describe('pendingChoiceRefusal: a choice on a failed step', () => {
  const cutover = { prefix: 'step', needReason: ['skip', 'continue'], wording: { step: 'failed step', waitsFor: 'the operator', act: 'choose how a failed step goes on' } };
  const pending = { step: 'migrate', choices: ['retry', 'continue', 'fallback'] };
  const choice = (over: Partial<SignedDecision<string>> & { decision: string }) => decision({ gate: 'step:migrate', role: 'operator', ...over });

  test.each([
    ['nothing waits', undefined, choice({ decision: 'retry' }), 'no failed step "step:migrate" is waiting for the operator'],
    ['another step', pending, choice({ decision: 'retry', gate: 'step:verify' }), 'no failed step "step:verify" is waiting for the operator'],
    ['a choice not offered', pending, choice({ decision: 'skip', reason: 'x' }), 'step migrate does not allow "skip" (allowed: retry, continue, fallback)'],
    ['an approver', pending, choice({ decision: 'retry', role: 'approver' }), 'role approver may not choose how a failed step goes on'],
    ['continue without a reason', pending, choice({ decision: 'continue', reason: '  ' }), '"continue" needs a recorded reason'],
    ['a retry by the operator', pending, choice({ decision: 'retry' }), undefined],
    ['continue with a reason, by an admin', pending, choice({ decision: 'continue', role: 'admin', reason: 'fixed by hand' }), undefined],
  ])('%s', (_what, p, d, refusal) => {
    expect(pendingChoiceRefusal(p, d, cutover)).toBe(refusal);
  });

  test('the fallback words it as its own', () => {
    const fb = { prefix: 'fallback', wording: { step: 'failed fallback step', waitsFor: 'a decision', act: 'decide how a fallback goes on' } };
    expect(pendingChoiceRefusal({ step: 'smoke' }, decision({ decision: 'abort', gate: 'fallback:endpoints', role: 'operator' }), fb)).toBe('no failed fallback step "fallback:endpoints" is waiting for a decision');
    expect(pendingChoiceRefusal({ step: 'smoke' }, decision({ decision: 'abort', gate: 'fallback:smoke', role: 'viewer' }), fb)).toBe('role viewer may not decide how a fallback goes on');
    expect(pendingChoiceRefusal({ step: 'smoke' }, decision({ decision: 'abort', gate: 'fallback:smoke', role: 'operator' }), fb)).toBeUndefined();
  });
});
