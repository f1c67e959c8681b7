import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import type { ReportSpec } from './spec';

/**
 * 变更捕获 Change capture on the registry: statement-level triggers on every reported source table
 * write each inserted, updated and deleted key with its transaction id (xid8) into report_change_log.
 * That log is what makes deletions visible to a cursor (a deleted row leaves its key and op "D"), and
 * what makes late commits safe: a cycle reads entries of transactions at or above its watermark, and
 * its next watermark is its snapshot's xmin — every transaction below it had finished, so one that
 * commits late still has its xid above the watermark and is read next time.
 */
export const CAPTURE_DDL = [
  `CREATE TABLE IF NOT EXISTS report_change_log (
     id bigserial PRIMARY KEY,
     table_name text NOT NULL,
     key text NOT NULL,
     op char(1) NOT NULL,
     xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
     changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
   )`,
  `CREATE INDEX IF NOT EXISTS report_change_log_xid ON report_change_log (table_name, xid)`,
  // verification looks up each batch key's newest change
  `CREATE INDEX IF NOT EXISTS report_change_log_key ON report_change_log (table_name, key, xid)`,
  `CREATE OR REPLACE FUNCTION report_capture() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP IN ('UPDATE', 'DELETE') THEN
       EXECUTE format('INSERT INTO report_change_log (table_name, key, op) SELECT %L, %I::text, %L FROM old_rows', TG_TABLE_NAME, TG_ARGV[0], left(TG_OP, 1));
     END IF;
     IF TG_OP IN ('UPDATE', 'INSERT') THEN
       EXECUTE format('INSERT INTO report_change_log (table_name, key, op) SELECT %L, %I::text, %L FROM new_rows', TG_TABLE_NAME, TG_ARGV[0], left(TG_OP, 1));
     END IF;
     RETURN NULL;
   END $$`,
];

/** Installs the change log and the triggers for every source table of the spec; idempotent. */
export async function installCapture(registry: Client, spec: ReportSpec): Promise<string[]> {
  await registry.query('SELECT pg_advisory_lock(hashtext($1))', ['jm-report-capture-ddl']);
  try {
    for (const ddl of CAPTURE_DDL) await registry.query(ddl);
    const sources = [...new Map(spec.tables.map((t) => [t.source.table, t.source.key])).entries()];
    for (const [table, key] of sources) {
      const t = quoteIdent(table);
      const args = `(${literalArg(key)})`;
      const triggers: [string, string][] = [
        ['report_capture_i', `AFTER INSERT ON ${t} REFERENCING NEW TABLE AS new_rows`],
        ['report_capture_u', `AFTER UPDATE ON ${t} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows`],
        ['report_capture_d', `AFTER DELETE ON ${t} REFERENCING OLD TABLE AS old_rows`],
      ];
      for (const [name, when] of triggers) {
        await registry.query(`CREATE OR REPLACE TRIGGER ${name} ${when} FOR EACH STATEMENT EXECUTE FUNCTION report_capture${args}`);
      }
    }
    return sources.map(([t]) => t);
  } finally {
    await registry.query('SELECT pg_advisory_unlock(hashtext($1))', ['jm-report-capture-ddl']);
  }
}

function literalArg(v: string): string {
  return "'" + v.replace(/'/g, "''") + "'";
}

/** Drops change-log entries every reported table has passed (below the lowest watermark). */
export async function pruneChangeLog(registry: Client, table: string, below: string): Promise<number> {
  const r = await registry.query(`DELETE FROM report_change_log WHERE table_name = $1 AND xid < $2::xid8`, [table, below]);
  return r.rowCount ?? 0;
}
