import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import type { ReportTable } from './spec';

/**
 * 省级数据中心 The provincial data center's schema: one table per reported table (the items, typed,
 * the key as primary key in code-point order, and the report's own columns: op, batch, row hash), and
 * the ledger that makes the stage exactly-once in effect — per table a watermark, the batches with
 * their state, the rows held back with their reason, and the lag over time for the monitor. The
 * province rows, the batch row and the watermark live in one database so they commit together.
 */
export const LEDGER_DDL = [
  `CREATE TABLE IF NOT EXISTS report_watermark (
     table_name text PRIMARY KEY,
     xid text NOT NULL,
     window_to timestamptz NOT NULL,
     last_batch text,
     updated_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS report_batch (
     batch_id text PRIMARY KEY,
     table_name text NOT NULL,
     sequence bigint NOT NULL,
     kind text NOT NULL,
     from_xid text,
     to_xid text,
     window_from timestamptz,
     window_to timestamptz NOT NULL,
     rows integer NOT NULL,
     upserts integer NOT NULL,
     cancels integer NOT NULL,
     deletes integer NOT NULL,
     rejected integer NOT NULL,
     skipped integer NOT NULL,
     sha256 text NOT NULL,
     file text NOT NULL,
     state text NOT NULL CHECK (state IN ('applied', 'delivered', 'verified', 'held', 'rejected')),
     reasons jsonb NOT NULL DEFAULT '[]',
     differing_keys jsonb NOT NULL DEFAULT '[]',
     ack jsonb,
     created_at timestamptz NOT NULL DEFAULT now(),
     delivered_at timestamptz,
     verified_at timestamptz,
     UNIQUE (table_name, sequence)
   )`,
  // the digest of a first load's canonical lines, made as they were sent to the province (verify-stream.ts); a ledger from before has none
  `ALTER TABLE report_batch ADD COLUMN IF NOT EXISTS canonical_sha256 text`,
  // the digest of the registry's extraction as a first load read it: written by earlier versions, no longer read
  `ALTER TABLE report_batch ADD COLUMN IF NOT EXISTS source_sha256 text`,
  // the row count of every registry table a first load read, in its snapshot (source-check.ts); none before
  `ALTER TABLE report_batch ADD COLUMN IF NOT EXISTS source_counts jsonb`,
  `CREATE TABLE IF NOT EXISTS report_rejected (
     table_name text NOT NULL,
     key text NOT NULL,
     reason text NOT NULL,
     fields jsonb NOT NULL,
     rejected_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (table_name, key)
   )`,
  `CREATE TABLE IF NOT EXISTS report_lag (
     table_name text NOT NULL,
     at timestamptz NOT NULL DEFAULT now(),
     lag_seconds double precision NOT NULL,
     rows integer NOT NULL
   )`,
];

export function provinceTableDdl(table: ReportTable): string {
  const cols = table.items.map((i) => {
    const isKey = i.name === table.key;
    const collate = isKey && i.type === 'text' ? ' COLLATE "C"' : '';
    return `${quoteIdent(i.name)} ${i.type}${collate}${isKey ? ' PRIMARY KEY' : ''}`;
  });
  cols.push(`_report_op char(1) NOT NULL`, `_report_batch text NOT NULL`, `_report_at timestamptz NOT NULL DEFAULT now()`);
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(table.name)} (\n  ${cols.join(',\n  ')}\n)`;
}

export async function ensureProvinceSchema(province: Client, tables: readonly ReportTable[]): Promise<void> {
  await province.query('SELECT pg_advisory_lock(hashtext($1))', ['jm-report-province-ddl']);
  try {
    for (const ddl of LEDGER_DDL) await province.query(ddl);
    for (const t of tables) await province.query(provinceTableDdl(t));
    // A province made by an older version kept each row's SHA-256 (re-read rows are now compared by content). Dropped
    // only where it is still there: ALTER TABLE locks the table out even when it has nothing to do, and this runs
    // at every reporting run's preflight.
    const { rows } = await province.query<{ t: string }>(
      `SELECT c.relname AS t FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE a.attname = '_report_sha' AND NOT a.attisdropped AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1::text[])`,
      [tables.map((t) => t.name)],
    );
    for (const r of rows) await province.query(`ALTER TABLE ${quoteIdent(r.t)} DROP COLUMN _report_sha`);
  } finally {
    await province.query('SELECT pg_advisory_unlock(hashtext($1))', ['jm-report-province-ddl']);
  }
}
