import fs from 'node:fs';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowCode } from './workflow-code';

/**
 * Replays a workflow history (the History message as the client's fetchHistory() returns it, JSON-encoded
 * by protobufjs) on today's workflow code. The SDK's reader of `temporal workflow show --output json`
 * (historyFromJSON) fails here with "type must be a Type", so the fixture is protobufjs JSON, read back
 * with History.fromObject. Prints "replayed" and exits 0, or prints the error and exits 1.
 * Usage: node --import tsx test/support/replay-history.ts <history.json> <workflowId>
 */
async function main() {
  const [file, workflowId] = process.argv.slice(2);
  const history = temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(file, 'utf8')));
  await Worker.runReplayHistory(workflowCode(), history, workflowId);
  console.log('replayed');
}
main().then(
  () => process.exit(0),
  (err) => {
    console.error(`${(err as Error).name}: ${(err as Error).message}`);
    process.exit(1);
  },
);
