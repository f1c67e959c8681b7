import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { workflowCode } from './workflow-code';

/**
 * A workflow in isolation: today's workflow code on the running Temporal dev server (a TestWorkflowEnvironment
 * on it), on a task queue of its own, its activities fakes in the test's process. `start` in a beforeAll,
 * `stop` in the afterAll.
 */
export interface FakeActivityWorker {
  taskQueue: string;
  client: () => Client;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function fakeActivityWorker(name: string, activities: Record<string, (...args: never[]) => Promise<unknown>>): FakeActivityWorker {
  const taskQueue = `h17-${name}-${randomBytes(4).toString('hex')}`;
  let env: TestWorkflowEnvironment | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  return {
    taskQueue,
    client: () => env!.client,
    async start() {
      env = await TestWorkflowEnvironment.createFromExistingServer({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
      worker = await Worker.create({ connection: env.nativeConnection, taskQueue, ...workflowCode(), activities });
      running = worker.run();
    },
    async stop() {
      worker?.shutdown();
      await running?.catch(() => undefined);
      await env?.teardown();
    },
  };
}
