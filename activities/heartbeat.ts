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
