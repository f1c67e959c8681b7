import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The lanes of the migrate-table and verification children moved onto the runbook kit (workflows/kit/lanes.ts):
 * children started by the code before that must replay on today's. The fixtures are the first table's migrate
 * child and the verification child of a rehearsal cutover recorded on the real stack by the code of commit
 * 231b042 (test/support/record-child-histories.ts).
 */
const root = path.join(__dirname, '..', '..');
const replay = (file: string, workflowId: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'test', 'support', 'replay-history.ts'), file, workflowId], { cwd: root, encoding: 'utf8', timeout: 180_000 });

type HistoryEvent = { activityTaskScheduledEventAttributes?: { activityType: { name: string } } };
const cases = [
  { file: 'migrate-table-history.json', workflowId: 'cutover-tmx4nuudyd9e116-children/migrate/approval_application', activity: 'copyChunk' },
  { file: 'verification-history.json', workflowId: 'cutover-tmx4nuudyd9e116-children/verify', activity: 'verificationSegment' },
];

describe.each(cases)('replay of $file', ({ file, workflowId, activity }) => {
  const fixture = path.join(root, 'test', 'fixtures', file);

  it(`holds the lanes' ${activity} activities and replays on today's workflow code`, () => {
    const events: HistoryEvent[] = JSON.parse(fs.readFileSync(fixture, 'utf8')).events;
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === activity).length).toBeGreaterThan(0);
    const r = replay(fixture, workflowId);
    expect(r.stderr.split('\n').filter((l) => /Error/.test(l))).toEqual([]);
    expect(r.stdout.trim()).toBe('replayed');
    expect(r.status).toBe(0);
  });

  it('the replay can fail: a lane activity replaced by another is refused as nondeterministic', () => {
    const h = JSON.parse(fs.readFileSync(fixture, 'utf8'));
    h.events.find((e: HistoryEvent) => e.activityTaskScheduledEventAttributes?.activityType.name === activity).activityTaskScheduledEventAttributes.activityType.name = 'snapshotTarget';
    const tampered = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jm-child-replay-')), 'h.json');
    fs.writeFileSync(tampered, JSON.stringify(h));
    const r = replay(tampered, workflowId);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DeterminismViolationError|[Nn]ondetermin/);
  });
});
