import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import type { Mapping, TableMapping } from '../migration/mapping';
import type { SourceAdapter } from '../migration/source';
import { findTable, isComposite, isKeyless, keyColumn, keyColumns } from '../migration/mapping';
import { decodeKey, keyMatchesSql } from '../migration/composite-key';
import { unionFilterSql } from '../migration/union';
import { castKey, parentMissingSql } from '../migration/key-order';

/**
 * 记录数核对 Count reconciliation of one table: source = loaded + quarantined, no quarantined key also
 * loaded, no key quarantined twice. (That every single source key is accounted for — loaded with equal
 * content or quarantined — is what the full-content pass proves segment by segment.)
 */
export interface TableCountCheck {
  table: string;
  source: number;
  loaded: number;
  quarantined: number;
  /** quarantined source keys that are nevertheless in the target */
  quarantinedButLoaded: number;
  /** source keys quarantined more than once (a double count would hide a missing row) */
  quarantinedTwice: number;
  /** loaded rows of a child table whose parent is not in the target (referential integrity of what was loaded) */
  loadedOrphans?: number;
  ok: boolean;
  problems: string[];
}

async function count(client: Client, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await client.query<{ n: string }>(sql, params);
  return Number(rows[0].n);
}

/**
 * Keys held more than once. A key with no value is no key: a NULL single key is not counted, nor is a composite
 * key with a NULL component — a table without a primary key may hold several such rows (each held for its
 * missing key part, each its own legacy row), and `source = loaded + quarantined` still counts every one.
 */
async function countQuarantinedTwice(target: Client, table: TableMapping): Promise<number> {
  const { rows } = await target.query<{ k: string }>(
    'SELECT source_key AS k FROM migration_quarantine WHERE table_name = $1 AND source_key IS NOT NULL GROUP BY source_key HAVING count(*) > 1',
    [table.name],
  );
  if (!isComposite(table)) return rows.length;
  const width = keyColumns(table).length;
  return rows.filter((r) => {
    try {
      return !decodeKey(r.k, width).includes(null);
    } catch {
      return true; // not a key this table writes: counted, so the problem shows
    }
  }).length;
}

/**
 * The source side is counted through the legacy adapter (PostgreSQL or Oracle, at the run's read point).
 * Given the mapping, a child table's loaded rows are also checked against its parent's loaded rows.
 * `loaded`: the table's rows as the target reported storing them (the migrate step's chunks, at each commit:
 * ChunkResult.rowsStored) instead of counting the whole table again; a union member is always counted (another
 * member's chunk may take its rows out after they committed: union.ts).
 */
export async function countTable(source: SourceAdapter, readPoint: string | null, target: Client, table: TableMapping, mapping?: Mapping, known: { loaded?: number } = {}): Promise<TableCountCheck> {
  const t = quoteIdent(table.target.table);
  // the legacy count runs on its own session while the target is counted
  const sourceCounted = source.countRows(table, readPoint);
  sourceCounted.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  // a union member counts its own rows of the shared table (migration/union.ts)
  const own = unionFilterSql(table, 'x');
  const loaded = known.loaded !== undefined && !table.target.union ? known.loaded : await count(target, `SELECT count(*) AS n FROM ${t} x WHERE TRUE${own}`);
  const quarantined = await count(target, 'SELECT count(*) AS n FROM migration_quarantine WHERE table_name = $1', [table.name]);
  // 无键表 a keyless table's held rows have no key to look for in the target: the content pass compares it as a multiset
  const quarantinedButLoaded = isKeyless(table) ? 0 : await count(
    target,
    `SELECT count(*) AS n FROM migration_quarantine q JOIN ${t} x ON ${isComposite(table) ? keyMatchesSql(table, 'x', 'q.source_key') : `x.${quoteIdent(keyColumn(table).target)} = ${castKey('q.source_key', 'text', keyColumn(table).type)}`}${own} WHERE q.table_name = $1`,
    [table.name],
  );
  const quarantinedTwice = await countQuarantinedTwice(target, table);
  const sourceRows = await sourceCounted;
  const parent = table.parent && mapping ? findTable(mapping, table.parent.table) : undefined;
  const loadedOrphans = parent ? await count(target, `SELECT count(*) AS n FROM ${t} c WHERE ${parentMissingSql(table, parent, 'c')}${unionFilterSql(table, 'c')}`) : undefined;
  const problems: string[] = [];
  if (sourceRows !== loaded + quarantined) problems.push(`source ${sourceRows} ≠ loaded ${loaded} + quarantined ${quarantined} (difference ${sourceRows - loaded - quarantined})`);
  if (quarantinedButLoaded) problems.push(`${quarantinedButLoaded} quarantined source keys are also in the target`);
  if (quarantinedTwice) problems.push(`${quarantinedTwice} source keys are quarantined more than once`);
  if (loadedOrphans) problems.push(`${loadedOrphans} loaded rows name a ${parent!.name} row (${table.parent!.column}) that is not in the target 孤儿记录`);
  return { table: table.name, source: sourceRows, loaded, quarantined, quarantinedButLoaded, quarantinedTwice, loadedOrphans, ok: problems.length === 0, problems };
}
