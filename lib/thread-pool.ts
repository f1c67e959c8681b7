import os from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * A few worker threads that run an exported async function of a module and hand back its result: for
 * CPU-bound work (a first load's rows made ready byte by byte) that would otherwise hold the one thread the
 * activities, heartbeats and the other lanes share. Arguments and results cross by structured clone.
 *
 * A thread that dies (an uncaught error, out of memory) fails the task it had with the cause, and the next
 * task gets a new thread; the process goes on. Idle threads do not keep the process alive. Run from
 * TypeScript sources (tests, tsx), a thread loads tsx's require hook first; from dist/, the compiled file.
 */
interface Task {
  file: string;
  fn: string;
  arg: unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  task?: Task;
}

const BOOT = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.typescript) require('tsx/cjs');
parentPort.on('message', async ({ file, fn, arg }) => {
  try {
    const value = await require(file)[fn](arg);
    parentPort.postMessage({ ok: true, value });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    parentPort.postMessage({ ok: false, error: { name: e.name, message: e.message, stack: e.stack, code: e.code } });
  }
});
`;

/** An error as it crossed from a thread: its name, message, stack and (a driver's) code kept. */
export class ThreadTaskError extends Error {
  code?: string;
  constructor(e: { name: string; message: string; stack?: string; code?: string }) {
    super(e.message);
    this.name = e.name;
    if (e.stack) this.stack = e.stack;
    if (e.code !== undefined) this.code = e.code;
  }
}

export class ThreadPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];

  constructor(readonly size = Math.max(1, Math.min(4, os.availableParallelism()))) {}

  /** Runs `fn` exported by the module at `file` (an absolute path) with `arg`, in a thread. */
  run<T>(file: string, fn: string, arg: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ file, fn, arg, resolve: resolve as (v: unknown) => void, reject });
      this.next();
    });
  }

  /** Ends every thread (tasks under way fail). */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private next(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.task);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      slot.worker.postMessage({ file: task.file, fn: task.fn, arg: task.arg });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(BOOT, { eval: true, workerData: { typescript: __filename.endsWith('.ts') } });
    const slot: Slot = { worker };
    const done = () => {
      slot.task = undefined;
      worker.unref();
      this.next();
    };
    worker.on('message', (m: { ok: true; value: unknown } | { ok: false; error: { name: string; message: string; stack?: string; code?: string } }) => {
      const task = slot.task;
      done();
      if (!task) return;
      if (m.ok) task.resolve(m.value);
      else task.reject(new ThreadTaskError(m.error));
    });
    const lost = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      const task = slot.task;
      slot.task = undefined;
      task?.reject(err);
      this.next();
    };
    worker.on('error', (err) => lost(err));
    worker.on('exit', (code) => lost(new Error(`a worker thread ended (exit code ${code}) with a task under way`)));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}
