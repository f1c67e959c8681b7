import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestStack } from './stack';

/**
 * 录制 What the fixture recorders (test/support/record-*.ts) share: a fresh stack with 200 generated entities, a worker
 * and an operator's token, the fixtures folder from the command line, and a workflow's history written as the
 * replays read it (the client's fetchHistory(), JSON-encoded by protobufjs).
 */
export async function saveHistory(client: Client, workflowId: string, file: string, label = workflowId): Promise<void> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const object = temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String });
  fs.writeFileSync(file, JSON.stringify(object));
  console.log(`${label}: ${history.events?.length} events → ${file}`);
}

/** Runs `record` with the fixtures folder from the command line and exits 0, or prints the error and exits 1. */
export function recordInto(script: string, record: (out: string) => Promise<void>): void {
  const main = async () => {
    const out = process.argv[2];
    if (!out) throw new Error(`usage: ${script} <fixtures dir>`);
    await record(out);
  };
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** Runs `record` on a fresh stack and exits 0, or prints the error and exits 1. */
export function recordOnStack(script: string, record: (stack: TestStack, operator: string, out: string) => Promise<void>): void {
  recordInto(script, async (out) => {
    const stack = new TestStack();
    try {
      await stack.start();
      await stack.seedLegacy(200);
      await stack.startWorker();
      await record(stack, await stack.token('olivia.ops', 'operator'), out);
    } finally {
      await stack.stop();
    }
  });
}
