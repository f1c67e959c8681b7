import type { Client } from 'pg';
import { quoteIdent, withClient } from '../lib/db';
import { findTable } from '../migration/mapping';
import type { ActivityDeps } from './deps';

/** 迁移结果验证 · record counts: every source row is either loaded or quarantined, per table. */
export interface TableCount {
  table: string;
  source: number;
  loaded: number;
  quarantined: number;
  ok: boolean;
}

export function verifyActivities(deps: ActivityDeps) {
  return {
    async verifyCounts(input: { tables: string[] }): Promise<TableCount[]> {
      const { LEGACY_DATABASE_URL, TARGET_DATABASE_URL } = deps.settings;
      return withClient(LEGACY_DATABASE_URL, (legacy) =>
        withClient(TARGET_DATABASE_URL, async (target) => {
          const counts: TableCount[] = [];
          for (const name of input.tables) {
            const t = findTable(deps.mapping, name);
            const source = await count(legacy, `SELECT count(*) FROM ${quoteIdent(t.source.table)}`);
            const loaded = await count(target, `SELECT count(*) FROM ${quoteIdent(t.target.table)}`);
            const quarantined = await count(target, 'SELECT count(*) FROM migration_quarantine WHERE table_name = $1', [t.name]);
            counts.push({ table: t.name, source, loaded, quarantined, ok: source === loaded + quarantined });
          }
          return counts;
        }),
      );
    },
  };
}

async function count(client: Client, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await client.query<{ count: string }>(sql, params);
  return Number(rows[0].count);
}
