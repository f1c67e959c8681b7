import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import { Dialect, dialectOf, ensureIndex, render } from '../lib/dialect';
import type { Mapping, TableMapping } from './mapping';
import { keyColumns, targetColumns } from './mapping';
import { parseExpression, toSql } from './expressions';

const TEXT_TYPE = /^\s*(text|varchar|character varying|char|character|bpchar)\b/i;

/**
 * The target tables the mapping owns, generated from the mapping itself, plus the engine's own
 * bookkeeping: the quarantine (rows that could not be loaded, with the reason) and the chunk ledger
 * (which key ranges are done, so that a retried chunk replaces its own rows and nothing else).
 */
export function targetTableDdl(table: TableMapping, dialect: Dialect = 'postgresql'): string {
  const keys = keyColumns(table).map((c) => c.target);
  const composite = keys.length > 1;
  // The key sorts in code-point order, as every side compares keys (key-order.ts): its index then serves the chunks' ranges.
  const cols = targetColumns(table).map((c) => {
    const isKey = keys.includes(c.target);
    const collate = isKey && TEXT_TYPE.test(c.type) ? render(dialect, 'keyCollate')[0].text : '';
    return `${quoteIdent(c.target)} ${c.type}${collate}${c.required ? ' NOT NULL' : ''}${isKey && !composite ? ' PRIMARY KEY' : ''}`;
  });
  // 复合主键 a composite key: one primary key over its columns in key order (its index serves the row-value ranges)
  if (composite) cols.push(`PRIMARY KEY (${keys.map(quoteIdent).join(', ')})`);
  // Rendered from the parsed tree (expressions/), never pasted from the mapping.
  const text = new Set(targetColumns(table).filter((c) => c.type === 'text').map((c) => c.target));
  const checks = table.target.checks.map((c) => `CHECK ${toSql(parseExpression(c), (name) => text.has(name))}`);
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(table.target.table)} (\n  ${[...cols, ...checks].join(',\n  ')}\n)`;
}

/** What a held row and a data-quality issue both record: which run, table, chunk and key, and the rule broken. */
const ROW_RULE_COLUMNS = `id bigserial PRIMARY KEY,
     run_id text NOT NULL,
     table_name text NOT NULL,
     chunk_id text NOT NULL,
     source_key text,
     rule text NOT NULL`;

export const CONTROL_DDL = [
  `CREATE TABLE IF NOT EXISTS migration_quarantine (
     ${ROW_RULE_COLUMNS},
     detail text NOT NULL,
     raw_row jsonb NOT NULL,
     quarantined_at timestamptz NOT NULL DEFAULT now()
   )`,
  // 问题数据 a row loaded under a load_flagged policy (migration/anomaly-policy.ts): the rule it broke, the column, the legacy value and what was loaded instead
  `CREATE TABLE IF NOT EXISTS migration_data_quality (
     ${ROW_RULE_COLUMNS},
     column_name text NOT NULL,
     raw_value text,
     detail text NOT NULL,
     recorded_at timestamptz NOT NULL DEFAULT now(),
     corrected_by text,
     corrected_at timestamptz
   )`,
  `CREATE TABLE IF NOT EXISTS migration_chunk (
     table_name text NOT NULL,
     chunk_id text NOT NULL,
     run_id text NOT NULL,
     key_from text,
     key_to text,
     rows_read bigint NOT NULL,
     rows_loaded bigint NOT NULL,
     rows_quarantined bigint NOT NULL,
     checksum text NOT NULL,
     attempt integer NOT NULL,
     finished_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (table_name, chunk_id)
   )`,
];

/** The relations ensureTargetSchema creates, by name. */
function ownedRelations(mapping: Mapping): string[] {
  return [...new Set(['migration_quarantine', 'migration_data_quality', 'migration_chunk', 'migration_quarantine_chunk', 'migration_data_quality_chunk', ...mapping.tables.map((t) => t.target.table)])];
}

/**
 * 已整改 An issue's status: `corrected_by` (the remediation or migration run that corrected the row's field through
 * the remediation loop) and `corrected_at`; NULL while the issue is open. A target made before the status was kept
 * gets the two columns here (portable: no ADD COLUMN IF NOT EXISTS; a concurrent add's 42701 is what it wanted).
 */
export async function ensureIssueStatus(client: Client): Promise<void> {
  if (await issueStatusKept(client)) return;
  for (const ddl of ['ALTER TABLE migration_data_quality ADD COLUMN corrected_by text', 'ALTER TABLE migration_data_quality ADD COLUMN corrected_at timestamptz']) {
    await client.query(ddl).catch((err: { code?: string }) => {
      if (err.code !== '42701') throw err;
    });
  }
}

/** The target's migration_data_quality keeps an issue's status (corrected_by). */
export async function issueStatusKept(client: Client): Promise<boolean> {
  const { rows } = await client.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'migration_data_quality' AND column_name = 'corrected_by'`);
  return rows.length > 0;
}

export async function ensureTargetSchema(client: Client, mapping: Mapping): Promise<void> {
  // Every table's plan ensures the schema: when all of it is there (the usual case), one catalog query
  // instead of a locked round of DDL. CREATE … IF NOT EXISTS would change nothing either. (Portable SQL.)
  const names = ownedRelations(mapping);
  const present = await client.query<{ n: string; status: string }>(
    `SELECT count(*) AS n, (SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'migration_data_quality' AND column_name = 'corrected_by') AS status
       FROM pg_catalog.pg_class c WHERE c.relname = ANY($1::text[]) AND pg_catalog.pg_table_is_visible(c.oid)`,
    [names],
  );
  if (Number(present.rows[0].n) === names.length && Number(present.rows[0].status) > 0) return;
  // Concurrent chunks of one run may all try this at once; the advisory lock serialises the DDL.
  await client.query('SELECT pg_advisory_lock(hashtext($1))', ['jm-cutover-target-ddl']);
  try {
    for (const ddl of CONTROL_DDL) await client.query(ddl);
    await ensureIssueStatus(client);
    await ensureIndex(client, 'migration_quarantine_chunk', 'migration_quarantine', ['table_name', 'chunk_id']);
    await ensureIndex(client, 'migration_data_quality_chunk', 'migration_data_quality', ['table_name', 'chunk_id']);
    for (const table of mapping.tables) await client.query(targetTableDdl(table, dialectOf(client)));
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['jm-cutover-target-ddl']);
  }
}
