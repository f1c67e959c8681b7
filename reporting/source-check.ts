import type { Client } from 'pg';
import { inTransaction, quoteIdent, withClient } from '../lib/db';
import { prepareRegistrySession } from './extract';
import type { ReportTable } from './spec';

/**
 * 源端未变 Whether the registry still holds the rows a first load read, told without reading them again.
 *
 * A first load reads every row of its source table (and of the tables it joins) in one snapshot whose
 * xmin is the batch's `to_xid` (S). Every row version written since — an UPDATE, an INSERT, a row deleted
 * and put back, by any path: through the capture triggers or behind them (replica role, triggers
 * disabled) — carries an xmin of a transaction at or after S; a DELETE leaves no version behind but
 * lowers the table's count. So: the same count per table as in the snapshot, and no row version with an
 * xmin ≥ S, is the same rows. PostgreSQL keeps a frozen tuple's xmin (since 9.4), so freezing does not
 * hide one. A version from a transaction below S that committed after the snapshot cannot exist (S is the
 * oldest transaction still running then). A row version at or after S that the snapshot did see (a
 * transaction that began after S and committed before the snapshot) is counted too: the answer is then
 * "changed" and the verification reads the rows again (verify-stream.ts) — slower, never wrong.
 *
 * xmin is a 32-bit xid: compared through age(), which measures both from one stable "now" in this
 * transaction; a snapshot 2^31 − 10^6 or more transactions back (where the 32-bit distance could wrap)
 * answers "changed".
 */
export interface SourceCounts {
  /** row count per registry table, in the first load's snapshot */
  [table: string]: number;
}

/** The registry tables a reported table reads: its source and the tables it joins. */
export function sourceTablesOf(table: ReportTable): string[] {
  return [...new Set([table.source.table, ...table.source.joins.map((j) => j.table)])];
}

/** The counts of the joined tables, in the extraction's snapshot (its source table's count is the rows it read). */
export async function joinedCounts(registry: Client, table: ReportTable): Promise<SourceCounts> {
  const out: SourceCounts = {};
  for (const t of sourceTablesOf(table).slice(1)) out[t] = Number((await registry.query(`SELECT count(*) AS n FROM ${quoteIdent(t)}`)).rows[0].n);
  return out;
}

const WRAP_MARGIN = 2n ** 31n - 1_000_000n;

export async function registryUnchangedSince(registryUrl: string, snapshotXmin: string, counts: SourceCounts): Promise<boolean> {
  const s = BigInt(snapshotXmin);
  return withClient(registryUrl, async (registry) => {
    await prepareRegistrySession(registry);
    return inTransaction(
      registry,
      async () => {
        const { rows } = await registry.query<{ next: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next');
        if (BigInt(rows[0].next) - s >= WRAP_MARGIN) return false;
        const s32 = String(s % 2n ** 32n);
        for (const [t, n] of Object.entries(counts)) {
          const { rows: r } = await registry.query<{ n: string; newer: string }>(
            `SELECT count(*) AS n, count(*) FILTER (WHERE age(x.xmin) <= age($1::text::xid)) AS newer FROM ${quoteIdent(t)} x`,
            [s32],
          );
          if (Number(r[0].n) !== n || Number(r[0].newer) !== 0) return false;
        }
        return true;
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  });
}
