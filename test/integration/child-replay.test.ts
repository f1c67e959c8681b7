import { fixtureEvents, fixturePath, replay, withActivityReplaced } from '../support/replay';

/**
 * The lanes of the migrate-table and verification children moved onto the runbook kit (workflows/kit/lanes.ts):
 * children started by the code before that must replay on today's. The fixtures are the first table's migrate
 * child and the verification child of a rehearsal cutover recorded on the real stack by the code of commit
 * 231b042 (test/support/record-child-histories.ts).
 */
const cases = [
  { file: 'migrate-table-history.json', workflowId: 'cutover-tmx4nuudyd9e116-children/migrate/approval_application', activity: 'copyChunk' },
  { file: 'verification-history.json', workflowId: 'cutover-tmx4nuudyd9e116-children/verify', activity: 'verificationSegment' },
];

describe.each(cases)('replay of $file', ({ file, workflowId, activity }) => {
  it(`holds the lanes' ${activity} activities and replays on today's workflow code`, () => {
    expect(fixtureEvents(file).filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === activity).length).toBeGreaterThan(0);
    const r = replay(fixturePath(file), workflowId);
    expect(r.stderr.split('\n').filter((l) => /Error/.test(l))).toEqual([]);
    expect(r.stdout.trim()).toBe('replayed');
    expect(r.status).toBe(0);
  });

  it('the replay can fail: a lane activity replaced by another is refused as nondeterministic', () => {
    const r = replay(withActivityReplaced(file, activity, 'snapshotTarget'), workflowId);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DeterminismViolationError|[Nn]ondetermin/);
  });
});
