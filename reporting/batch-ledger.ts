import type { Client } from 'pg';
import { RejectedRow } from './rows';
import type { ReportTable } from './spec';
import type { BatchRow } from './batch-types';

/** 汇聚及上报 The province's ledger of a table's cycle: its open batch, its watermark, the rows held back. */
export async function openBatch(province: Client, table: string): Promise<BatchRow | undefined> {
  const { rows } = await province.query<BatchRow>(`SELECT * FROM report_batch WHERE table_name = $1 AND state <> 'verified' ORDER BY sequence LIMIT 1`, [table]);
  return rows[0];
}

export function batchIdOf(table: string, sequence: number): string {
  return `${table}-${String(sequence).padStart(8, '0')}`;
}

/** Rows held back with their reason, replacing an earlier hold of the same key. */
export async function holdRejected(province: Client, table: ReportTable, rejected: RejectedRow[]): Promise<void> {
  const names = table.items.map((i) => i.name);
  for (const r of rejected) {
    await province.query(
      `INSERT INTO report_rejected (table_name, key, reason, fields) VALUES ($1, $2, $3, $4)
       ON CONFLICT (table_name, key) DO UPDATE SET reason = EXCLUDED.reason, fields = EXCLUDED.fields, rejected_at = now()`,
      [table.name, r.key, r.reason, JSON.stringify(Object.fromEntries(names.map((n, i) => [n, r.fields[i] ?? null])))],
    );
  }
}

export async function advanceWatermark(province: Client, table: string, xid: string, windowTo: Date, batchId: string | null, rows: number): Promise<void> {
  await province.query(
    `INSERT INTO report_watermark (table_name, xid, window_to, last_batch) VALUES ($1, $2, $3, $4)
     ON CONFLICT (table_name) DO UPDATE SET xid = EXCLUDED.xid, window_to = EXCLUDED.window_to, last_batch = coalesce(EXCLUDED.last_batch, report_watermark.last_batch), updated_at = now()`,
    [table, xid, windowTo, batchId],
  );
  await province.query('INSERT INTO report_lag (table_name, lag_seconds, rows) VALUES ($1, extract(epoch FROM now() - $2::timestamptz), $3)', [table, windowTo, rows]);
}
