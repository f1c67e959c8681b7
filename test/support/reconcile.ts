import { withClient } from '../../lib/db';
import type { Mapping } from '../../migration/mapping';

/**
 * 对账 Per mapped table, the legacy keys against the target's keys plus the quarantined ones: count and
 * a digest of the sorted keys. Equal on both sides means every legacy row was loaded or quarantined
 * exactly once — nothing lost, nothing duplicated.
 */
export async function keyReconciliation(legacyUrl: string, targetUrl: string, mapping: Mapping): Promise<{ source: object[]; target: object[] }> {
  const source: object[] = [];
  const target: object[] = [];
  for (const t of mapping.tables) {
    const key = t.source.key;
    const [src] = await withClient(legacyUrl, async (c) => (await c.query(`SELECT count(*)::int AS n, md5(string_agg(${key}, ',' ORDER BY ${key})) AS digest FROM ${t.source.table}`)).rows);
    const [dst] = await withClient(targetUrl, async (c) =>
      (
        await c.query(
          `SELECT count(*)::int AS n, md5(string_agg(k, ',' ORDER BY k)) AS digest FROM (
             SELECT ${key} AS k FROM ${t.target.table}
             UNION ALL SELECT source_key FROM migration_quarantine WHERE table_name = $1) u`,
          [t.name],
        )
      ).rows,
    );
    source.push({ table: t.name, ...src });
    target.push({ table: t.name, ...dst });
  }
  return { source, target };
}
