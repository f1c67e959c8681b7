import fc from 'fast-check';
import { decisionSignatureProblem, keyIdOf, signDecision } from '../../lib/decision-signing';
import { secretIn } from '../../lib/secrets';
import { DEV_SIGNING_KEY, loadSettings } from '../../lib/settings';

/**
 * 签名密钥 The signing key's rules and what a signature binds: a key of one's own is required (only an
 * explicit RUNBOOK_DEV_MODE=1 allows the development key, never NODE_ENV), published values are refused
 * everywhere, and a decision counts for one workflow, one Temporal run and one key id.
 */
const OWN_KEY = 'k3Jd9-QpX2vLr8TzN4mWc7YhB1sFgA6uEoVi0Zq5';
const COMPOSE_PLACEHOLDER = 'change-me-to-a-long-random-secret-of-48-chars-or-more';

describe('signing key settings 签名密钥', () => {
  const load = (env: Record<string, string>) => () => loadSettings(env);

  it('requires a key unless RUNBOOK_DEV_MODE=1, whatever NODE_ENV says', () => {
    for (const NODE_ENV of ['', 'production', 'Production', 'development', 'test']) {
      expect(load({ NODE_ENV })).toThrow(/APPROVAL_SIGNING_KEY: required/);
    }
    expect(loadSettings({ RUNBOOK_DEV_MODE: '1' }).APPROVAL_SIGNING_KEY).toBe(DEV_SIGNING_KEY);
    expect(loadSettings({ APPROVAL_SIGNING_KEY: OWN_KEY }).APPROVAL_SIGNING_KEY).toBe(OWN_KEY);
  });

  it('refuses the development key without the flag, and the compose placeholder and look-alikes even with it', () => {
    for (const NODE_ENV of ['', 'production', 'Production', 'development']) {
      expect(load({ NODE_ENV, APPROVAL_SIGNING_KEY: DEV_SIGNING_KEY })).toThrow(/published default or placeholder/);
    }
    for (const key of [COMPOSE_PLACEHOLDER, 'please-replace-me-with-a-real-secret-value-0123', 'x'.repeat(48), 'your-secret-key-goes-here-1234567890-abcdefgh']) {
      expect(load({ APPROVAL_SIGNING_KEY: key, RUNBOOK_DEV_MODE: '1' })).toThrow(/APPROVAL_SIGNING_KEY: .*(published|placeholder)/);
    }
    expect(load({ APPROVAL_SIGNING_KEY: 'short-key' })).toThrow(/at least 32 characters/);
    expect(load({ APPROVAL_SIGNING_KEY: OWN_KEY, APPROVAL_SIGNING_KEYS_PREVIOUS: COMPOSE_PLACEHOLDER })).toThrow(/APPROVAL_SIGNING_KEYS_PREVIOUS\[0\]/);
    expect(load({ APPROVAL_SIGNING_KEY: OWN_KEY, RUNBOOK_DEV_MODE: 'yes' })).toThrow(/RUNBOOK_DEV_MODE/);
  });

  it('lets tools that sign nothing run without a key', () => {
    expect(loadSettings({}, { signing: false }).APPROVAL_SIGNING_KEY).toBe('');
  });
});

describe('what a signature binds 签名绑定', () => {
  const claims = { workflowId: 'cutover-r1', runId: 'run-a', gate: 'go-no-go', decision: 'approve' as const, actor: 'li.approver', role: 'approver', nonce: 'n1', issuedAt: new Date().toISOString() };
  const now = new Date();

  it('binds the Temporal run: a decision for run A is refused on run B of the same workflow id', () => {
    const signed = signDecision(claims, OWN_KEY);
    expect(decisionSignatureProblem(signed, OWN_KEY, { workflowId: 'cutover-r1', runId: 'run-a' }, now)).toBeNull();
    expect(decisionSignatureProblem(signed, OWN_KEY, { workflowId: 'cutover-r1', runId: 'run-b' }, now)).toBe('the decision was signed for run run-a of cutover-r1, not this run run-b');
    const { runId: _r, ...unbound } = claims;
    expect(decisionSignatureProblem(signDecision(unbound, OWN_KEY), OWN_KEY, { workflowId: 'cutover-r1', runId: 'run-a' }, now)).toBe('the decision does not name the run it is for');
  });

  it('names its key: a rotated-out key is refused, a previous key still held is accepted', () => {
    const old = 'Old0key-for-rotation-test-9f8e7d6c5b4a3210';
    const signedOld = signDecision(claims, old);
    expect(signedOld.keyId).toBe(keyIdOf(old));
    expect(decisionSignatureProblem(signedOld, [OWN_KEY, old], { workflowId: 'cutover-r1', runId: 'run-a' }, now)).toBeNull();
    expect(decisionSignatureProblem(signedOld, [OWN_KEY], { workflowId: 'cutover-r1', runId: 'run-a' }, now)).toMatch(/^the decision signature is invalid \(forged or altered\): key [0-9a-f]{12} is not/);
  });

  it('any change to a signed field (property-based) invalidates the signature', () => {
    const signed = signDecision(claims, OWN_KEY);
    const fields = ['workflowId', 'runId', 'gate', 'decision', 'actor', 'role', 'reason', 'nonce', 'issuedAt'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.string({ minLength: 1, maxLength: 40 }), (field, value) => {
        fc.pre(signed[field] !== value);
        const altered = { ...signed, [field]: value };
        const problem = decisionSignatureProblem(altered, OWN_KEY, { workflowId: altered.workflowId, runId: altered.runId }, now);
        return problem === 'the decision signature is invalid (forged or altered)';
      }),
      { numRuns: 300 },
    );
  });

  it('refuses unsigned and non-object payloads without throwing', () => {
    for (const bad of [null, undefined, 42, 'x', {}, { signature: 5 }]) {
      expect(decisionSignatureProblem(bad as never, OWN_KEY, 'cutover-r1', now)).toBe('the decision is not signed (it did not come through the API)');
    }
  });
});

describe('secret filter 密钥过滤', () => {
  it('catches password assignments however spelled, in English and Chinese', () => {
    for (const text of ['password=hunter2', 'pass word: hunter2', 'Pass_Word = x', 'PASSWORD：abc', '密码=hunter2', '数据库密码: abc123', '口令：abc', 'api-key=abc']) {
      expect([text, secretIn(text)]).toEqual([text, 'a password assignment']);
    }
    for (const text of ['检查密码是否过期', 'reset the password policy', '证据包 evidence pack']) expect([text, secretIn(text)]).toEqual([text, null]);
  });
});
