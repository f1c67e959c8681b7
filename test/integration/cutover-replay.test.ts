import fs from 'node:fs';
import path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';

/**
 * A cutover started before the preflight step (预检) existed must go on under the new code: its
 * recorded history (exported with `temporal workflow show -o json` from the workflow at 0186a6a,
 * waiting at its wipe gate after plan and backup) replays without a nondeterminism error, because
 * the new step is behind patched().
 */
function loadHistory(file: string): proto.temporal.api.history.v1.IHistory {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  try {
    return historyFromJSON(json);
  } catch (err) {
    // Where npm left @temporalio/common and @temporalio/proto each their own protobufjs, the SDK's
    // historyFromJSON fails with "type must be a Type"; the proto package's own copy reads it.
    if (!/type must be a Type/.test((err as Error).message)) throw err;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved at run time from @temporalio/proto's own protobufjs copy
    const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [path.dirname(require.resolve('@temporalio/proto'))] }));
    return protojson.fromJson((patchProtobufRoot(proto) as any).lookupType('temporal.api.history.v1.History'), json, { ignoreUnknownFields: true });
  }
}

describe('cutover replay across the preflight step', () => {
  it('replays a history recorded before the preflight step', async () => {
    const history = loadHistory(path.join(__dirname, '..', 'fixtures', 'cutover-history-before-preflight.json'));
    expect(history.events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name)).toEqual(['listTables', 'backupLegacy']);
    await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history)).resolves.toBeUndefined();
  });
});
