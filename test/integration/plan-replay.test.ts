import { fixtureEvents, fixturePath, replay, withActivityReplaced } from '../support/replay';

/**
 * The plan's signed-request handlers moved onto the runbook kit (workflows/kit/decisions.ts): a plan started
 * by the code before that must replay on today's. The fixture is a plan recorded by the code of commit 6d2ada3
 * on the real stack (test/support/record-plan-history.ts): a sign-off refused for its role, an unsigned one,
 * a malformed payload, an accepted one and its replay, a refused and an accepted re-baseline, a sign-off of an
 * item already done; then terminated.
 */
const FIXTURE = 'plan-history-signals.json';
const WORKFLOW_ID = 'plan-tmx4msz252054f0-replay';

describe('plan replay across the runbook kit', () => {
  it('the fixture holds the eight signed requests and their signature checks', () => {
    const events = fixtureEvents(FIXTURE);
    expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes).map((e) => e.workflowExecutionSignaledEventAttributes!.signalName)).toEqual([
      ...Array(5).fill('signOffItem'),
      'rebaselineItem',
      'rebaselineItem',
      'signOffItem',
    ]);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'verifyDecision').length).toBeGreaterThanOrEqual(6);
  });

  it('a plan recorded by the earlier code replays on today’s workflow code', () => {
    const r = replay(fixturePath(FIXTURE), WORKFLOW_ID);
    expect(r.stderr.split('\n').filter((l) => /Error/.test(l))).toEqual([]);
    expect(r.stdout.trim()).toBe('replayed');
    expect(r.status).toBe(0);
  });

  it('the replay can fail: a history whose signature check is another activity is refused as nondeterministic', () => {
    const r = replay(withActivityReplaced(FIXTURE, 'verifyDecision', 'notifyPlan'), WORKFLOW_ID);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DeterminismViolationError|[Nn]ondetermin/);
  });
});
