import path from 'node:path';
import { Client } from 'pg';
import { withClient } from '../../lib/db';
import { repoRoot } from '../../lib/settings';
import { loadMapping, Mapping } from '../../migration/mapping';
import { DIALECTS } from '../../standby/dialect';
import { pgStandby, ReplicaLayout } from '../../standby/replicas';
import { seedMigratedRegistry } from '../../standby/seed';
import { TEST_PORTS } from './standby-ports';

export { TEST_PORTS };

/**
 * Real replicas for the standby tests, made by the project's script: a primary of our own (the shared 5432
 * cluster is not reconfigured), a streaming standby and the DR copy, on ports of their own under .data/.
 * The registry is seeded once (a marker table says how many entities) and reused by later test files.
 */
export const TEST_LAYOUT: ReplicaLayout = {
  dir: path.join(repoRoot, '.data', 'test-standby'),
  primaryPort: TEST_PORTS.primary,
  standbyPort: TEST_PORTS.standby,
  drPort: TEST_PORTS.dr,
  slot: 'jm_test_standby',
  drSlot: 'jm_test_dr',
};
export const ENTITIES = 400;
export const url = (port: number, db = 'jm_sb_target') => `postgres://postgres@127.0.0.1:${port}/${db}`;
export const PRIMARY_URL = url(TEST_LAYOUT.primaryPort);
export const STANDBY_URL = url(TEST_LAYOUT.standbyPort);
export const DR_URL = url(TEST_LAYOUT.drPort);
export const mapping: Mapping = loadMapping(path.join(repoRoot, 'config', 'mapping.json'));

export async function ensureStandbyEnv(): Promise<void> {
  await pgStandby(TEST_LAYOUT, ['up']);
  const seeded = await withClient(url(TEST_LAYOUT.primaryPort, 'postgres'), async (c) => {
    const db = await c.query(`SELECT 1 FROM pg_database WHERE datname = 'jm_sb_target'`);
    if (!db.rowCount) return false;
    return withClient(PRIMARY_URL, async (t) => (await t.query(`SELECT entities FROM standby_test_meta`).catch(() => ({ rows: [] as { entities: number }[] }))).rows[0]?.entities === ENTITIES);
  });
  if (!seeded) {
    await seedMigratedRegistry({ legacyUrl: url(TEST_LAYOUT.primaryPort, 'jm_sb_legacy'), targetUrl: PRIMARY_URL, mapping, entities: ENTITIES, rowsPerChunk: 2000 });
    await withClient(PRIMARY_URL, (c) => c.query('CREATE TABLE standby_test_meta (entities integer NOT NULL); INSERT INTO standby_test_meta VALUES (' + ENTITIES + ')'));
  }
  await caughtUp(STANDBY_URL);
  await caughtUp(DR_URL);
}

/** Waits until a replica replayed the primary's current position (60 s at most). */
export async function caughtUp(replicaUrl: string): Promise<void> {
  const lsn = await withClient(PRIMARY_URL, async (c) => (await c.query(`SELECT ${DIALECTS.postgresql.currentLsn}::text AS l`)).rows[0].l as string);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await withClient(replicaUrl, async (c) => (await c.query(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok`, [lsn])).rows[0].ok as boolean).catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${replicaUrl} did not replay past ${lsn} within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A writer loop on the primary: updates random entities' names and adds change records, as the live
 * registry does, until stopped. Returns how many transactions it committed.
 */
export function startWriter(): { stop: () => Promise<number> } {
  let running = true;
  let writes = 0;
  const done = (async () => {
    const c = new Client({ connectionString: PRIMARY_URL });
    await c.connect();
    try {
      while (running) {
        await c.query(`UPDATE market_entity SET entname = entname || '' , regcap = COALESCE(regcap, 0) + 1 WHERE pripid = (SELECT pripid FROM market_entity OFFSET floor(random() * ${ENTITIES}) LIMIT 1)`);
        await c.query(
          `INSERT INTO entity_change (altid, pripid, altitem, altbe, altaf, altdate) SELECT 'W' || to_char(clock_timestamp(), 'YYYYMMDDHH24MISSUS') || floor(random()*1000)::int, pripid, '名称', 'a', 'b', current_date FROM market_entity LIMIT 1`,
        );
        writes += 2;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return writes;
    },
  };
}
