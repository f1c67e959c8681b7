import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * 回放 Replaying a recorded history (test/fixtures/*.json, the client's fetchHistory() as JSON) on today's
 * workflow code, in a process of its own (test/support/replay-history.ts), and making a tampered copy of
 * one to show that a replay can fail.
 */
const root = path.join(__dirname, '..', '..');

export type HistoryEvent = { activityTaskScheduledEventAttributes?: { activityType: { name: string } }; workflowExecutionSignaledEventAttributes?: { signalName: string } };

export const fixturePath = (file: string) => path.join(root, 'test', 'fixtures', file);

export function fixtureEvents(file: string): HistoryEvent[] {
  return JSON.parse(fs.readFileSync(fixturePath(file), 'utf8')).events;
}

/** Replays the history in `file` (a path) as workflow `workflowId`; prints "replayed" and exits 0 when it does. */
export function replay(file: string, workflowId: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'test', 'support', 'replay-history.ts'), file, workflowId], { cwd: root, encoding: 'utf8', timeout: 180_000 });
}

/** A copy of a fixture whose first scheduled `activity` claims to be `instead`: a replay must refuse it. */
export function withActivityReplaced(file: string, activity: string, instead: string): string {
  const h = JSON.parse(fs.readFileSync(fixturePath(file), 'utf8'));
  const event = h.events.find((e: HistoryEvent) => e.activityTaskScheduledEventAttributes?.activityType.name === activity);
  if (!event) throw new Error(`${file} schedules no ${activity}`);
  event.activityTaskScheduledEventAttributes.activityType.name = instead;
  const tampered = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jm-replay-')), file);
  fs.writeFileSync(tampered, JSON.stringify(h));
  return tampered;
}
