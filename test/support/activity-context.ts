import { MockActivityEnvironment } from '@temporalio/testing';

/**
 * Activities heartbeat while they run (activities/heartbeat.ts), which needs an activity context: tests
 * that call activities directly run them in one, as a worker would.
 */
export function inActivity<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const env = new MockActivityEnvironment();
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, (input: never) => env.run(fn, input)])) as T;
}
