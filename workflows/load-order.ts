import type { LoadStep } from '../migration/mapping';

/**
 * Runs `load` for every table as soon as the tables it waits for are done, at most `inParallel` at a
 * time, starting ready tables in the mapping's order. Plain promise code, so it is deterministic in
 * a workflow (it schedules child workflows there) and usable outside one (the benchmark).
 * A failure stops new starts; the tables already loading are let finish, so that a retry of the step
 * never finds a half-started table, and then the first error is thrown.
 */
export async function inLoadOrder<T>(steps: LoadStep[], inParallel: number, load: (table: string) => Promise<T>): Promise<Map<string, T>> {
  const results = new Map<string, T>();
  const started = new Set<string>();
  let running = 0;
  let failure: { error: unknown } | null = null;
  await new Promise<void>((resolve) => {
    const pump = () => {
      if (running === 0 && (failure || results.size === steps.length)) return resolve();
      for (const step of steps) {
        if (failure || running >= Math.max(1, inParallel)) break;
        if (started.has(step.table) || !step.after.every((t) => results.has(t))) continue;
        started.add(step.table);
        running++;
        load(step.table).then(
          (r) => results.set(step.table, r),
          (error) => (failure ??= { error }),
        ).finally(() => {
          running--;
          pump();
        });
      }
      if (running === 0 && !failure && results.size < steps.length) {
        failure = { error: new Error(`tables ${steps.filter((s) => !results.has(s.table)).map((s) => s.table).join(', ')} wait for tables that never load`) };
        resolve();
      }
    };
    pump();
  });
  if (failure) throw (failure as { error: unknown }).error;
  return results;
}
