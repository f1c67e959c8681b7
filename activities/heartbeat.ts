import { Context } from '@temporalio/activity';

/**
 * Heartbeats every second while fn runs, for activities with no natural progress points (a table's
 * export, a key-range plan): the beat proves the worker lives, so one that died is noticed within the
 * activity's heartbeat timeout instead of its start-to-close timeout. The SDK throttles what it sends.
 */
export async function whileBeating<T>(fn: () => Promise<T>, details?: () => unknown): Promise<T> {
  const context = Context.current();
  const beat = setInterval(() => context.heartbeat(details?.()), 1000);
  try {
    return await fn();
  } finally {
    clearInterval(beat);
  }
}

/**
 * The same for every activity of a module: what the fallback runs (service commands, endpoint switches,
 * smoke tests, reports) has no progress points of its own, and a dead worker must be noticed within the
 * step's heartbeat timeout, not its hours-long start-to-close.
 */
export function beating<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) out[name] = (input: never) => whileBeating(() => fn(input));
  return out as T;
}
