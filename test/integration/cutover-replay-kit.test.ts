import { fixtureEvents, fixturePath, replay, withActivityReplaced } from '../support/replay';

/**
 * The cutover's machinery — the step runner with the operator's choices, the gates with escalation, the state
 * publishing — moves onto the runbook kit (workflows/kit/): cutovers started by the code before that must replay
 * on today's. The older cutover fixtures were recorded before the patches of today's code paths, so
 * these were recorded on the real stack by the code of commit 415cf32, every patch in force
 * (test/support/record-cutover-histories.ts): a run whose wipe gate escalates and refuses a four-eyes decision,
 * whose wipe fails and is retried, fails again and is continued, whose go/no-go is rejected and falls back (with
 * the fallback child's own history); a run approved at every gate to completion; a run cancelled at its wipe gate.
 */
const name = (e: ReturnType<typeof fixtureEvents>[number]) => e.activityTaskScheduledEventAttributes?.activityType.name ?? e.workflowExecutionSignaledEventAttributes?.signalName;
const RUN = 'tmx51jlaq3b6796';
const FALLBACK_RUN = 'h17-fallback-a851253b';

const cases = [
  { file: 'cutover-history-choices.json', workflowId: `cutover-${RUN}-choices`, holds: ['notifyPlan', 'decideGate', 'operatorAction', 'wipeTargetTestData', 'writeEvidencePack', 'releaseTargetLease'] },
  { file: 'cutover-history-complete.json', workflowId: `cutover-${RUN}-complete`, holds: ['takeTargetLease', 'preflightMapping', 'controlServices', 'warmMemoryDb', 'switchEndpoints', 'writeEvidencePack'] },
  { file: 'cutover-history-cancelled.json', workflowId: `cutover-${RUN}-cancelled`, holds: ['buildLegacyArchive', 'writeEvidencePack', 'releaseTargetLease'] },
  { file: 'fallback-history-choices.json', workflowId: `fallback-${RUN}-choices`, holds: ['controlServices', 'checkLegacyAgainstBackup', 'switchEndpoints', 'writeFailureReport'] },
  // The fallback's own step runner (a failed step, a person's retry or abort), recorded before it moved onto the kit
  // by the code of commit 554d88c with fake activities (test/support/record-fallback-histories.ts).
  { file: 'fallback-history-retry.json', workflowId: `fallback-${FALLBACK_RUN}-retry`, holds: ['fallbackAction', 'legacySmokeTests', 'writeFailureReport'] },
  { file: 'fallback-history-abort.json', workflowId: `fallback-${FALLBACK_RUN}-abort`, holds: ['controlServices', 'fallbackAction', 'releaseTargetLease'] },
];

describe.each(cases)('replay of $file', ({ file, workflowId, holds }) => {
  it('holds the machinery it guards and replays on today’s workflow code', () => {
    expect(fixtureEvents(file).map(name)).toEqual(expect.arrayContaining(holds));
    const r = replay(fixturePath(file), workflowId);
    expect(r.stderr.split('\n').filter((l) => /Error/.test(l))).toEqual([]);
    expect(r.stdout.trim()).toBe('replayed');
    expect(r.status).toBe(0);
  });

  it('the replay can fail: the last activity replaced by another is refused as nondeterministic', () => {
    const r = replay(withActivityReplaced(file, holds[holds.length - 1], 'snapshotTarget'), workflowId);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DeterminismViolationError|[Nn]ondetermin/);
  });
});

it('the choices run failed its wipe twice and took the operator’s retry and continue', () => {
  const events = fixtureEvents('cutover-history-choices.json').map(name).filter(Boolean);
  expect(events.filter((n) => n === 'operatorAction')).toHaveLength(2);
  expect(events.filter((n) => n === 'wipeTargetTestData')).toHaveLength(2);
  expect(events.filter((n) => n === 'decideGate')).toHaveLength(3);
});

it('the fallback runs failed a step and took a person’s retries (one forged choice refused) and an abort', () => {
  const retry = fixtureEvents('fallback-history-retry.json').map(name).filter(Boolean);
  expect(retry.filter((n) => n === 'fallbackAction')).toHaveLength(3);
  expect(retry.filter((n) => n === 'legacySmokeTests')).toHaveLength(3);
  const abort = fixtureEvents('fallback-history-abort.json').map(name).filter(Boolean);
  expect(abort.filter((n) => n === 'fallbackAction')).toHaveLength(1);
  expect(abort).not.toContain('switchEndpoints');
});
