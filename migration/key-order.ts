import type { Client } from 'pg';

/**
 * Key order (键的排序): chunks and verification segments are key ranges (keyFrom, keyTo], and both
 * sides must agree on which rows a range holds, or a retried chunk's cleanup on the target would remove
 * rows another chunk loaded, and a correct segment would differ. Every side compares keys in code-point
 * order (= the byte order of UTF-8 = collation "C"): the Oracle adapter pins NLS_SORT=BINARY, the target
 * tables' key columns are created COLLATE "C", and a PostgreSQL legacy key whose collation sorts
 * otherwise (a libc locale, ICU) is compared with COLLATE "C" spelled out — correct, but then its
 * primary key index cannot serve the range, so such a table is read with a sort per chunk.
 */
export type KeyCollate = '' | ' COLLATE "C"';

const CODE_POINT_COLLATIONS = new Set(['C', 'POSIX', 'C.UTF-8', 'C.utf8', 'C.UTF8']);

function collateFor(collation: string | null, provider: string | null): KeyCollate {
  return provider === 'c' && collation !== null && CODE_POINT_COLLATIONS.has(collation) ? '' : ' COLLATE "C"';
}

/** What a session needs to compare keys in code-point order under the database's own collation. */
export async function databaseKeyCollate(client: Client): Promise<KeyCollate> {
  const { rows } = await client
    .query<{ collation: string; provider: string }>(`SELECT datcollate AS collation, datlocprovider::text AS provider FROM pg_database WHERE datname = current_database()`)
    // before PostgreSQL 15 every database collation was libc
    .catch(() => client.query<{ collation: string; provider: string }>(`SELECT datcollate AS collation, 'c' AS provider FROM pg_database WHERE datname = current_database()`));
  return collateFor(rows[0]?.collation ?? null, rows[0]?.provider ?? null);
}

/**
 * The same for one column: its own collation, or the database's when it has the default one. A column
 * of a type without collation (a number) is compared as that type: nothing to add.
 */
export async function columnKeyCollate(client: Client, table: string, column: string): Promise<KeyCollate> {
  const { rows } = await client.query<{ collatable: boolean; name: string | null; collation: string | null; provider: string | null }>(
    `SELECT a.attcollation <> 0 AS collatable, c.collname AS name, c.collcollate AS collation, c.collprovider::text AS provider
       FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation
      WHERE a.attrelid = $1::regclass AND a.attname = $2`,
    [table, column],
  );
  const col = rows[0];
  if (!col) throw new Error(`${table}.${column} does not exist in the legacy database`);
  if (!col.collatable) return '';
  return col.name === 'default' ? databaseKeyCollate(client) : collateFor(col.collation, col.provider);
}
