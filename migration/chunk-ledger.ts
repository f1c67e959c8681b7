import type { Client } from 'pg';
import type { TableMapping } from './mapping';
import type { Chunk } from './source';

/** What one chunk's copy reports (migration/chunk-copy.ts), and what its ledger row (migration_chunk) keeps of it. */
export interface ChunkResult {
  table: string;
  chunkId: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  quarantinedByRule: Record<string, number>;
  /** rows loaded under a load_flagged policy (anomaly-policy.ts), counted per rule: the data-quality issues this chunk recorded */
  flaggedByRule: Record<string, number>;
  /** sha256 over the loaded rows' COPY text, in key order */
  checksum: string;
  /** true when the target refused the fast path and rows were loaded in bisected batches */
  carefulMode: boolean;
  durationMs: number;
  /** why the orphans' legacy rows were read by reading the chunk again rather than by their keys (the key read failed or missed): logged with the chunk */
  orphanReadFallback?: string;
  /**
   * 迁移对账 the rows of this chunk the target itself says it stored, at the chunk's commit: the row counts of its
   * COPY commands (a row a trigger suppressed is not counted) less the orphans it took out again. rowsLoaded is
   * what the engine sent; the migrate step's reconciliation (activities/migrate.ts) compares the two.
   */
  rowsStored: number;
}

/**
 * 无键表 A keyless table's chunk cannot find its own rows in the target (no key), so it is loaded exactly once: its rows,
 * held rows and ledger row commit in one transaction, and an attempt takes a lock on the chunk first (an earlier attempt
 * still running finishes or rolls back before it). The ledger row of this run then means the chunk is loaded: its
 * result is returned from the ledger and the quarantine, nothing loaded or removed. A ledger row of another run means
 * rows of that run are in the target, which nothing can tell from this run's: refused (the target is wiped first).
 */
export async function earlierKeylessAttempt(target: Client, table: TableMapping, chunk: Chunk, runId: string, started: number): Promise<ChunkResult | null> {
  await target.query(`SELECT pg_advisory_xact_lock(hashtext('migration_chunk'), hashtext($1))`, [`${table.name}:${chunk.id}`]);
  const { rows } = await target.query<{ run_id: string; rows_read: string; rows_loaded: string; rows_quarantined: string; checksum: string }>(
    'SELECT run_id, rows_read, rows_loaded, rows_quarantined, checksum FROM migration_chunk WHERE table_name = $1 AND chunk_id = $2',
    [table.name, chunk.id],
  );
  const ledger = rows[0];
  if (!ledger) return null;
  if (ledger.run_id !== runId) {
    throw new Error(`无键表 keyless table ${table.name}: chunk ${chunk.id} was loaded by run ${ledger.run_id}, and its rows cannot be told from this run's (no key); wipe the target (清除测试数据) before run ${runId}`);
  }
  const byRule = async (relation: 'migration_quarantine' | 'migration_data_quality') =>
    Object.fromEntries(
      (await target.query<{ rule: string; n: string }>(`SELECT rule, count(*) AS n FROM ${relation} WHERE table_name = $1 AND chunk_id = $2 GROUP BY rule ORDER BY rule`, [table.name, chunk.id])).rows.map((r) => [r.rule, Number(r.n)]),
    ) as Record<string, number>;
  return {
    table: table.name,
    chunkId: chunk.id,
    rowsRead: Number(ledger.rows_read),
    rowsLoaded: Number(ledger.rows_loaded),
    // the committed attempt's count (the ledger keeps no stored count): what it loaded
    rowsStored: Number(ledger.rows_loaded),
    rowsQuarantined: Number(ledger.rows_quarantined),
    quarantinedByRule: await byRule('migration_quarantine'),
    flaggedByRule: await byRule('migration_data_quality'),
    checksum: ledger.checksum,
    carefulMode: false,
    durationMs: Date.now() - started,
  };
}
