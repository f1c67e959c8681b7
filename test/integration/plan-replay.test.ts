import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The plan's signed-request handlers moved onto the runbook kit (workflows/kit/decisions.ts): a plan started
 * by the code before that must replay on today's. The fixture is a plan recorded by the code of commit 6d2ada3
 * on the real stack (test/support/record-plan-history.ts): a sign-off refused for its role, an unsigned one,
 * a malformed payload, an accepted one and its replay, a refused and an accepted re-baseline, a sign-off of an
 * item already done; then terminated.
 */
const root = path.join(__dirname, '..', '..');
const fixture = path.join(root, 'test', 'fixtures', 'plan-history-signals.json');
const workflowId = 'plan-tmx4msz252054f0-replay';
const replay = (file: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'test', 'support', 'replay-history.ts'), file, workflowId], { cwd: root, encoding: 'utf8', timeout: 180_000 });

type HistoryEvent = { eventType: string; activityTaskScheduledEventAttributes?: { activityType: { name: string } }; workflowExecutionSignaledEventAttributes?: { signalName: string } };

describe('plan replay across the runbook kit', () => {
  const events = (): HistoryEvent[] => JSON.parse(fs.readFileSync(fixture, 'utf8')).events;

  it('the fixture holds the eight signed requests and their signature checks', () => {
    expect(events().filter((e) => e.workflowExecutionSignaledEventAttributes).map((e) => e.workflowExecutionSignaledEventAttributes!.signalName)).toEqual([
      ...Array(5).fill('signOffItem'),
      'rebaselineItem',
      'rebaselineItem',
      'signOffItem',
    ]);
    expect(events().filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'verifyDecision').length).toBeGreaterThanOrEqual(6);
  });

  it('a plan recorded by the earlier code replays on today’s workflow code', () => {
    const r = replay(fixture);
    expect(r.stderr.split('\n').filter((l) => /Error/.test(l))).toEqual([]);
    expect(r.stdout.trim()).toBe('replayed');
    expect(r.status).toBe(0);
  });

  it('the replay can fail: a history whose signature check is another activity is refused as nondeterministic', () => {
    const h = JSON.parse(fs.readFileSync(fixture, 'utf8'));
    const check = h.events.find((e: HistoryEvent) => e.activityTaskScheduledEventAttributes?.activityType.name === 'verifyDecision');
    check.activityTaskScheduledEventAttributes.activityType.name = 'notifyPlan';
    const tampered = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jm-plan-replay-')), 'h.json');
    fs.writeFileSync(tampered, JSON.stringify(h));
    const r = replay(tampered);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DeterminismViolationError|[Nn]ondetermin/);
  });
});
