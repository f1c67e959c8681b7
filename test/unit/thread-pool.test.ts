import path from 'node:path';
import { ThreadPool, ThreadTaskError } from '../../lib/thread-pool';

/**
 * The pool runs a module's function in its threads and hands back the result; a task's error comes back
 * with its name, message and code; a thread that dies fails its task with the cause and the pool goes on
 * with a new one.
 */
const tasks = path.join(__dirname, '..', 'fixtures', 'thread-tasks.ts');

describe('lib/thread-pool', () => {
  const pool = new ThreadPool(2);
  afterAll(() => pool.close());

  it('runs tasks side by side on its threads, and queues the rest', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => pool.run<{ value: number; threadId: number }>(tasks, 'double', n)));
    expect(results.map((r) => r.value)).toEqual([2, 4, 6, 8, 10]);
    const threads = new Set(results.map((r) => r.threadId));
    expect(threads.size).toBe(2);
    expect(threads.has(0)).toBe(false); // not the main thread
  });

  it("gives a task's error back with its code", async () => {
    const err = await pool.run(tasks, 'fail', '57P01').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThreadTaskError);
    expect(err).toMatchObject({ message: 'failed on purpose (57P01)', code: '57P01', name: 'Error' });
  });

  it('a thread that exits, or throws where no one catches, fails its task; the next task runs', async () => {
    await expect(pool.run(tasks, 'die', null)).rejects.toThrow(/a worker thread ended \(exit code 3\) with a task under way/);
    await expect(pool.run(tasks, 'crash', null)).rejects.toThrow('uncaught in the thread');
    await expect(pool.run<{ value: number }>(tasks, 'double', 21)).resolves.toMatchObject({ value: 42 });
  });

  it('a function the module does not export is an error, not a hang', async () => {
    await expect(pool.run(tasks, 'nosuch', null)).rejects.toThrow(/is not a function/);
  });
});
