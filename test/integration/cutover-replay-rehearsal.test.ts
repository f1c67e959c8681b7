import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The cutover's new steps (关停, 只读与查询库, 内存数据库 flush and warm, the new application stopped
 * around the snapshot and the rollback) and the fallback's (flush, writable legacy) are behind patched():
 * a run started by the code before them must replay on the code after them. The fixture is the history of
 * a complete rehearsal cutover run by the code of commit ee1b38b (before this change) on the real stack
 * (the client's fetchHistory(), JSON-encoded).
 */
const root = path.join(__dirname, '..', '..');
const replay = (file: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'test', 'support', 'replay-history.ts'), file, 'cutover-tmx4hpe376a11ee-base'], { cwd: root, encoding: 'utf8', timeout: 180_000 });

describe('cutover replay across the go-live additions', () => {
  const fixture = path.join(root, 'test', 'fixtures', 'cutover-history-base.json');

  it('a cutover completed by the earlier code replays on today’s workflow code', () => {
    expect(JSON.parse(fs.readFileSync(fixture, 'utf8')).events.length).toBeGreaterThan(100);
    const r = replay(fixture);
    expect(r.stderr.split('\n').filter((l) => /Error/.test(l))).toEqual([]);
    expect(r.stdout.trim()).toBe('replayed');
    expect(r.status).toBe(0);
  });

  it('the replay can fail: a history whose activities were reordered is refused as nondeterministic', () => {
    const h = JSON.parse(fs.readFileSync(fixture, 'utf8'));
    // The first scheduled activity now claims to be a different one.
    const first = h.events.find((e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes);
    first.activityTaskScheduledEventAttributes.activityType.name = 'snapshotTarget';
    const tampered = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jm-replay-')), 'h.json');
    fs.writeFileSync(tampered, JSON.stringify(h));
    const r = replay(tampered);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DeterminismViolationError|[Nn]ondetermin/);
  });
});
