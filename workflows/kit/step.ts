import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, condition } from '@temporalio/workflow';

/**
 * 步骤执行 The one step runner of every runbook (the cutover's steps through runbook.ts, the fallback's directly): a
 * step runs its body; when the body fails after its retries, the step is marked failed and the run waits for a
 * person's signed choice, which runs the body again ('retry') or ends the step as the workflow says (skip,
 * continue, fall back, abort). Which choices exist and what they do is the workflow's; the loop, the failure's
 * record and the wait are here. Its only commands are the body's and those of the workflow's own callbacks.
 */

/** What the runner marks on a step's record (the cutover's and the fallback's step states have these and more). */
export interface StepMarks {
  status: string;
  finishedAt?: string;
  error?: string;
}

/**
 * What went wrong, as the operator must read it: the innermost cause under the activity and child
 * workflow wrappers ("Activity task failed" says nothing), a configuration error named as one.
 */
export function rootMessage(err: unknown): string {
  let e = err as Error;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  return e instanceof ApplicationFailure && e.type === 'ConfigError' ? `配置错误 configuration error: ${e.message}` : e.message;
}

export interface StepCallbacks<C> {
  /** marks the step (and the run) running and publishes */
  begin(): void;
  /** marks the step done with what its body returned and publishes */
  done(detail: string): void;
  /** errors that are no failure of the step (a fallback, a cancellation): thrown on, no choice asked */
  notAFailure?(err: unknown): boolean;
  /** waits for the person's choice on the failed step (operatorWait's `decide`) */
  choose(message: string): Promise<C>;
  /** what the choice does: 'retry' runs the body again, 'ended' ends the step; it may throw to end the run */
  after(choice: C, message: string): 'retry' | 'ended';
}

/** Runs `body` as the step `record()`; see the file's comment. */
export async function runStep<C>(record: () => StepMarks, body: () => Promise<string>, on: StepCallbacks<C>): Promise<void> {
  for (;;) {
    on.begin();
    try {
      on.done(await body());
      return;
    } catch (err) {
      if (on.notAFailure?.(err)) throw err;
      const message = rootMessage(err);
      Object.assign(record(), { status: 'failed', finishedAt: new Date().toISOString(), error: message }); // replay-safe: the SDK makes Date deterministic
      if (on.after(await on.choose(message), message) === 'retry') continue;
      return;
    }
  }
}

/**
 * The wait for a person's choice on what failed: `decide` shows what failed (the state's pendingFailure), sets the
 * run waiting for the operator, publishes and waits until the signal handler hands the choice over with `choose`.
 */
export function operatorWait<P, C>(state: { status: string; pendingFailure?: P }, publish: () => void) {
  let choice: C | undefined;
  return {
    choose(c: C): void {
      choice = c;
    },
    async decide(pending: P): Promise<C> {
      state.status = 'waiting_operator';
      state.pendingFailure = pending;
      choice = undefined;
      publish();
      await condition(() => choice !== undefined);
      state.pendingFailure = undefined;
      return choice!;
    },
  };
}
