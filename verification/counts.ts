import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import type { TableMapping } from '../migration/mapping';
import { keyColumn } from '../migration/mapping';

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
  ok: boolean;
  problems: string[];
}

async function count(client: Client, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await client.query<{ n: string }>(sql, params);
  return Number(rows[0].n);
}

/** `legacy` is a PostgreSQL session on the legacy database (Oracle sources are counted by the content pass). */
export async function countTable(legacy: Client, target: Client, table: TableMapping): Promise<TableCountCheck> {
  const key = quoteIdent(keyColumn(table).target);
  const t = quoteIdent(table.target.table);
  const source = await count(legacy, `SELECT count(*) AS n FROM ${quoteIdent(table.source.table)}`);
  const loaded = await count(target, `SELECT count(*) AS n FROM ${t}`);
  const quarantined = await count(target, 'SELECT count(*) AS n FROM migration_quarantine WHERE table_name = $1', [table.name]);
  const quarantinedButLoaded = await count(
    target,
    `SELECT count(*) AS n FROM migration_quarantine q JOIN ${t} x ON x.${key} = q.source_key WHERE q.table_name = $1`,
    [table.name],
  );
  const quarantinedTwice = await count(
    target,
    `SELECT count(*) AS n FROM (SELECT source_key FROM migration_quarantine WHERE table_name = $1 GROUP BY source_key HAVING count(*) > 1) d`,
    [table.name],
  );
  const problems: string[] = [];
  if (source !== loaded + quarantined) problems.push(`source ${source} ≠ loaded ${loaded} + quarantined ${quarantined} (difference ${source - loaded - quarantined})`);
  if (quarantinedButLoaded) problems.push(`${quarantinedButLoaded} quarantined source keys are also in the target`);
  if (quarantinedTwice) problems.push(`${quarantinedTwice} source keys are quarantined more than once`);
  return { table: table.name, source, loaded, quarantined, quarantinedButLoaded, quarantinedTwice, ok: problems.length === 0, problems };
}
