import { ActivityFailure, ApplicationFailure, proxyActivities, setCurrentDetails, setHandler, defineQuery, patched } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ChunkResult } from '../migration/chunk-copy';
import type { TableOutcome } from './cutover-messages';
import { inLanes } from './kit/lanes';

/**
 * 数据迁移 · one table: plan it into key-range chunks, then copy the chunks as activities, a few at a
 * time, spread over whatever workers poll the queue. A child workflow per table keeps each history
 * small (a 97M-row table is ~1,000 chunks) and lets the UI show each table's progress on its own.
 */
export interface MigrateTableInput {
  runId: string;
  table: string;
  rowsPerChunk: number;
  concurrency: number;
  /** how long a chunk may stay silent before Temporal hands it to another worker */
  heartbeatSeconds: number;
  /** "Step 3/5" context from the parent, for the activity summaries in the UI */
  stepLabel: string;
}

export const tableProgressQuery = defineQuery<{ chunks: number; done: number; rowsRead: number }>('progress');

export async function migrateTable(input: MigrateTableInput): Promise<TableOutcome> {
  const started = Date.now();
  const plan = await proxyActivities<Activities>({
    startToCloseTimeout: '30 minutes',
    // Planning beats too: a worker killed while it plans must not hold the table for half an hour.
    heartbeatTimeout: input.heartbeatSeconds * 1000,
    retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10 },
    summary: `${input.stepLabel} · 切分 plan ${input.table}`,
    // runId: every table of the run is planned and read at the run's one read point (an activity argument, not a new command)
  }).planTable({ table: input.table, rowsPerChunk: input.rowsPerChunk, runId: input.runId });

  const results: ChunkResult[] = [];
  setHandler(tableProgressQuery, () => ({ chunks: plan.chunks.length, done: results.length, rowsRead: results.reduce((n, r) => n + r.rowsRead, 0) }));
  const show = () => {
    const pct = Math.floor((100 * results.length) / plan.chunks.length);
    setCurrentDetails(`### 数据迁移 Migrate ${input.table}: ${pct}%\n\n${results.length}/${plan.chunks.length} chunks, ${results.reduce((n, r) => n + r.rowsLoaded, 0)} rows loaded, ${results.reduce((n, r) => n + r.rowsQuarantined, 0)} quarantined`);
  };
  show();

  await inLanes(plan.chunks, input.concurrency, async (chunk) => {
    const pct = Math.floor((100 * results.length) / plan.chunks.length);
    const copy = proxyActivities<Activities>({
      startToCloseTimeout: '2 hours',
      // A chunk heartbeats every 20k rows; silence means its worker died, so another takes it over.
      heartbeatTimeout: input.heartbeatSeconds * 1000,
      retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 20 },
      summary: `${input.stepLabel} · 迁移 migrate ${input.table} · chunk ${chunk.id}/${plan.chunks.length} · ${pct}%`,
    });
    results.push(await copy.copyChunk({ runId: input.runId, table: input.table, chunk, readPoint: plan.readPoint }));
    show();
  });

  const byRule: Record<string, number> = {};
  for (const r of results) for (const [rule, n] of Object.entries(r.quarantinedByRule)) byRule[rule] = (byRule[rule] ?? 0) + n;
  // 问题数据 rows loaded under a load_flagged policy, per rule (absent in results of chunks run before the policies)
  const flaggedByRule: Record<string, number> = {};
  for (const r of results) for (const [rule, n] of Object.entries(r.flaggedByRule ?? {})) flaggedByRule[rule] = (flaggedByRule[rule] ?? 0) + n;
  let rowsLoaded = results.reduce((n, r) => n + r.rowsLoaded, 0);
  let rowsQuarantined = results.reduce((n, r) => n + r.rowsQuarantined, 0);
  if (patched('migrate-table-reconcile-target')) {
    // 迁移对账: the table's rows as the target holds them, reconciled with the source, before it counts as done.
    const truth = await proxyActivities<Activities>({
      startToCloseTimeout: '30 minutes',
      // It beats while it counts: a worker killed meanwhile must not hold the table for half an hour (drill:faults found it).
      heartbeatTimeout: input.heartbeatSeconds * 1000,
      retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10 },
      summary: `${input.stepLabel} · 对账 reconcile ${input.table}`,
    })
      .reconcileTable({ table: input.table, readPoint: plan.readPoint, chunksLoaded: rowsLoaded, ...storedByTarget(results) })
      .catch((err: unknown) => {
        // The table fails with the reconciliation's own words (the table, the numbers), not "Activity task failed".
        if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) throw ApplicationFailure.nonRetryable(err.cause.message, err.cause.type ?? undefined, ...(err.cause.details ?? []));
        throw err;
      });
    rowsLoaded = truth.loaded;
    rowsQuarantined = truth.quarantined;
  }
  return {
    table: input.table,
    chunks: results.length,
    rowsRead: results.reduce((n, r) => n + r.rowsRead, 0),
    rowsLoaded,
    rowsQuarantined,
    quarantinedByRule: byRule,
    flaggedByRule,
    carefulChunks: results.filter((r) => r.carefulMode).length,
    durationMs: Date.now() - started,
  };
}

/**
 * 迁移对账 the rows the target said it stored, chunk by chunk at each commit (ChunkResult.rowsStored); absent when a
 * chunk's result came from a worker that did not report them (a run begun before), and the table is then counted whole.
 */
function storedByTarget(results: ChunkResult[]): { chunksStored?: number } {
  const stored = results.map((r) => (r as Partial<ChunkResult>).rowsStored);
  return stored.every((n): n is number => typeof n === 'number') ? { chunksStored: stored.reduce((a, b) => a + b, 0) } : {};
}
