import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import { migrateActivities } from '../../activities/migrate';
import type { ActivityDeps } from '../../activities/deps';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { loadSettings } from '../../lib/settings';
import { copyChunk } from '../../migration/chunk-copy';
import { findTable, loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import type { SourceAdapter } from '../../migration/source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { prepareTargetSession } from '../../verification/canonical';
import { planSegments, verifySegment } from '../../verification/content';
import { countTable } from '../../verification/counts';

/**
 * What the migration leaves behind, on the bundled registry: the quarantine keeps the legacy row as read
 * (an orphan's raw_row held target values, its dates as JavaScript date strings); a loaded orphan fails
 * the count reconciliation; identical rows in another order are no difference; and the migrate step's
 * reconciliation takes the target's own counts of what each chunk stored, failing (non-retryable, the table
 * named) when the target kept fewer rows than were sent; the verify step counts every table whole.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `mt${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;
const mapping = loadMapping(path.join(__dirname, '..', '..', 'config', 'mapping.json'));

describe('the migration tells the truth about what it loaded', () => {
  const source = new PostgresSource(legacyUrl);
  /** per table: the rows its chunks sent (rowsLoaded) and the rows the target said it stored (rowsStored) */
  const migrated = new Map<string, { loaded: number; stored: number }>();

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 800, seed: 21, anomalyRate: 0.05 }));
    await withClient(targetUrl, (c) => ensureTargetSchema(c, mapping));
    await withClient(targetUrl, async (target) => {
      for (const table of mapping.tables) {
        const totals = { loaded: 0, stored: 0 };
        for (const chunk of await source.planChunks(table, 700)) {
          const r = await copyChunk({ source, target, mapping, table, chunk, runId: 'mt', readPoint: null, attempt: 1 });
          totals.loaded += r.rowsLoaded;
          totals.stored += r.rowsStored;
        }
        migrated.set(table.name, totals);
      }
    });
  });
  afterAll(async () => {
    await source.close();
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
  });

  /** approval_application's real orphans in the quarantine, and the legacy rows of their keys (as text) */
  async function heldOrphansAndLegacy() {
    const table = findTable(mapping, 'approval_application');
    const orphans = await withClient(targetUrl, async (c) =>
      (await c.query<{ source_key: string; raw_row: Record<string, string | null>; detail: string }>(
        `SELECT source_key, raw_row, detail FROM migration_quarantine WHERE table_name = 'approval_application' AND rule = 'orphan:market_entity' ORDER BY source_key`,
      )).rows,
    );
    expect(orphans.length).toBeGreaterThan(0);
    const cols = table.columns.map((c) => c.source);
    const legacy = await withClient(legacyUrl, async (c) =>
      (await c.query<Record<string, string | null>>(`SELECT ${cols.map((s) => `${s}::text AS ${s}`).join(', ')} FROM a_application WHERE appid = ANY($1::text[]) ORDER BY appid COLLATE "C"`, [orphans.map((o) => o.source_key)])).rows,
    );
    return { orphans, legacy };
  }

  it('an orphan (its parent missing from the legacy) is quarantined with the legacy row as read: legacy names and legacy values', async () => {
    const { orphans, legacy } = await heldOrphansAndLegacy();
    expect(orphans.map((o) => o.raw_row)).toEqual(legacy);
    // a date as the legacy database printed it, never "Thu Jan 23 2020 … GMT"
    for (const o of orphans) expect(String(o.raw_row.appdate)).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // real orphans only: under the default policies no entity is held back, so none of them names an entity the legacy has
    // (a child of a held parent is waiting_for:<parent>:<key> instead: anomaly-policy.test.ts)
    const parentsInLegacy = await withClient(legacyUrl, async (c) => (await c.query(`SELECT count(*)::int AS n FROM e_baseinfo WHERE pripid = ANY($1::text[])`, [orphans.map((o) => o.raw_row.pripid)])).rows[0].n);
    expect(parentsInLegacy).toBe(0);
  });

  it("an orphan's legacy row is read back by its key, not by reading its chunk again; a key read that fails or misses falls back to the chunk", async () => {
    const table = findTable(mapping, 'approval_application');
    const chunks = await source.planChunks(table, 700);
    /** the legacy source, counting its reads; readKeys replaced (or removed: undefined) as the case asks */
    const counting = (readKeys: SourceAdapter['readKeys']) => {
      const reads = { chunks: 0, keys: 0 };
      const adapter: SourceAdapter = {
        kind: 'postgres',
        readPoint: () => source.readPoint(),
        countRows: (t) => source.countRows(t),
        planChunks: (t, n) => source.planChunks(t, n),
        readChunk: (t, c) => (reads.chunks++, source.readChunk(t, c)),
        ...(readKeys ? { readKeys: (t: typeof table, k: string[], p: string | null) => (reads.keys++, readKeys(t, k, p)) } : {}),
        close: async () => undefined,
      };
      return { adapter, reads };
    };
    const recopy = (adapter: SourceAdapter) =>
      withClient(targetUrl, async (target) => {
        const out = [];
        for (const chunk of chunks) out.push(await copyChunk({ source: adapter, target, mapping, table, chunk, runId: 'mt', readPoint: null, attempt: 2 }));
        return out;
      });
    const held = (results: { quarantinedByRule: Record<string, number> }[]) => results.filter((r) => Object.keys(r.quarantinedByRule).some((k) => k.startsWith('orphan:'))).length;

    const byKey = counting((t, k) => source.readKeys(t, k));
    const firstCopy = await recopy(byKey.adapter);
    const withOrphans = held(firstCopy);
    expect(withOrphans).toBeGreaterThan(0);
    expect(firstCopy.filter((r) => r.orphanReadFallback)).toEqual([]);
    expect(byKey.reads).toEqual({ chunks: chunks.length, keys: withOrphans }); // each chunk read once
    let { orphans, legacy } = await heldOrphansAndLegacy();
    expect(orphans.map((o) => o.raw_row)).toEqual(legacy);

    // a key read the legacy refuses (e.g. a key its type cannot take), one that finds nothing, and an adapter without it
    for (const readKeys of [async () => Promise.reject(new Error('invalid input syntax for type bigint')), async () => source.readKeys(table, ['no such key']), undefined]) {
      const fallback = counting(readKeys);
      const copied = await recopy(fallback.adapter);
      expect(held(copied)).toBe(withOrphans);
      // the chunk says why it was read again (logged with it by the activity); an adapter without a key read has no fallback to report
      const reasons = copied.map((r) => r.orphanReadFallback).filter(Boolean);
      if (readKeys) expect(reasons).toEqual(Array(withOrphans).fill(expect.stringMatching(/^the key read (failed: invalid input syntax for type bigint|missed \d+ of \d+ keys)$/)));
      else expect(reasons).toEqual([]);
      expect(fallback.reads).toEqual({ chunks: chunks.length + withOrphans, keys: readKeys ? withOrphans : 0 });
      ({ orphans, legacy } = await heldOrphansAndLegacy());
      expect(orphans.map((o) => o.raw_row)).toEqual(legacy);
    }
  });

  it('a loaded orphan fails the count reconciliation (referential integrity of what was loaded)', async () => {
    const table = findTable(mapping, 'entity_change');
    const before = await withClient(targetUrl, (t) => countTable(source, null, t, table, mapping));
    expect(before.problems).toEqual([]);
    expect(before.loadedOrphans).toBe(0);
    // a parent removed after its children loaded (the target has no foreign keys): they are orphans now
    const { n } = await withClient(targetUrl, async (t) => {
      const r = (await t.query<{ pripid: string; n: number }>(`SELECT pripid, count(*)::int AS n FROM entity_change GROUP BY pripid ORDER BY pripid LIMIT 1`)).rows[0];
      await t.query(`DELETE FROM market_entity WHERE pripid = $1`, [r.pripid]);
      return r;
    });
    expect(n).toBeGreaterThan(0);
    const after = await withClient(targetUrl, (t) => countTable(source, null, t, table, mapping));
    expect(after.loadedOrphans).toBe(n);
    expect(after.ok).toBe(false);
    expect(after.problems.join()).toContain(`${n} loaded rows name a market_entity row (pripid) that is not in the target`);
  });

  it('identical rows ordered otherwise by the target are no difference: rows are matched by key', async () => {
    const table = findTable(mapping, 'name_reservation');
    await withClient(targetUrl, (t) => t.query(`ALTER TABLE name_reservation ALTER COLUMN nameid TYPE text COLLATE "en-x-icu"`));
    try {
      await withClient(legacyUrl, (l) => l.query(`UPDATE e_name_reservation SET nameid = lower(nameid) WHERE right(nameid, 1) IN ('2', '5')`));
      await withClient(targetUrl, (t) => t.query(`UPDATE name_reservation SET nameid = lower(nameid) WHERE right(nameid, 1) IN ('2', '5')`));
      const segments = await planSegments(source, mapping, ['name_reservation'], 100_000);
      const results = await withClient(targetUrl, async (target) => {
        await prepareTargetSession(target);
        // '' : the target orders by its column's own (linguistic) collation, the legacy side in code-point order
        return Promise.all(segments.map(({ segment }) => verifySegment({ source, target, keyCollate: '', mapping, table, segment, readPoint: null })));
      });
      expect(results.map((r) => r.sourceSha256 === r.targetSha256)).toContain(false); // the orders really differ
      expect(results.map((r) => [r.ok, r.differenceTotals])).toEqual(results.map(() => [true, {}]));
    } finally {
      await withClient(targetUrl, (t) => t.query(`ALTER TABLE name_reservation ALTER COLUMN nameid TYPE text COLLATE "C"`));
    }
  });

  it("the migrate step reconciles each table with the rows the target said it stored at each chunk's commit, and fails, naming it, when they are fewer than were sent", async () => {
    const deps = { settings: loadSettings({ LEGACY_DATABASE_URL: legacyUrl, TARGET_DATABASE_URL: targetUrl, RUNBOOK_DATABASE_URL: targetUrl }, { signing: false }), mapping, legacySource: source, logger: pino({ level: 'silent' }) } as unknown as ActivityDeps;
    const activities = migrateActivities(deps);
    // an activity (it heartbeats while it counts): run as the worker would run it
    const reconcile = (input: Parameters<typeof activities.reconcileTable>[0]) => new MockActivityEnvironment().run(activities.reconcileTable, input) as ReturnType<typeof activities.reconcileTable>;
    const table = findTable(mapping, 'approval_material');
    const countTarget = async () => withClient(targetUrl, async (t) => (await t.query(`SELECT count(*)::int AS n FROM approval_material`)).rows[0].n as number);
    const totals = migrated.get(table.name)!;
    const held = await countTarget();
    // what the chunks' COPY commands reported is what the table holds
    expect(totals).toEqual({ loaded: held, stored: held });
    const ok = await reconcile({ table: table.name, readPoint: null, chunksLoaded: totals.loaded, chunksStored: totals.stored });
    expect(ok).toMatchObject({ ok: true, loaded: held, problems: [] });
    expect(ok.source).toBe(ok.loaded + ok.quarantined);

    // the workflow's tally says one more than the target stored
    const claimed = reconcile({ table: table.name, readPoint: null, chunksLoaded: totals.loaded + 1, chunksStored: totals.stored });
    await expect(claimed).rejects.toBeInstanceOf(ApplicationFailure);
    await expect(claimed).rejects.toMatchObject({ nonRetryable: true, type: 'MigrationReconciliation' });
    await expect(claimed).rejects.toThrow(/approval_material.*holds \d+ rows but its chunks reported \d+ loaded/);

    // the target keeps fewer rows than it is sent (a trigger suppresses one): the chunks' own counts say so
    const gone = await withClient(targetUrl, async (t) => (await t.query(`SELECT matid FROM approval_material ORDER BY matid LIMIT 1`)).rows[0].matid as string);
    await withClient(targetUrl, async (t) => {
      await t.query(`CREATE FUNCTION mt_suppress() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.matid = '${gone}' THEN RETURN NULL; END IF; RETURN NEW; END $$`);
      await t.query(`CREATE TRIGGER mt_suppress BEFORE INSERT ON approval_material FOR EACH ROW EXECUTE FUNCTION mt_suppress()`);
    });
    const again = { loaded: 0, stored: 0 };
    await withClient(targetUrl, async (target) => {
      for (const chunk of await source.planChunks(table, 700)) {
        const r = await copyChunk({ source, target, mapping, table, chunk, runId: 'mt', readPoint: null, attempt: 2 });
        again.loaded += r.rowsLoaded;
        again.stored += r.rowsStored;
      }
      await target.query('DROP TRIGGER mt_suppress ON approval_material');
    });
    expect(again).toEqual({ loaded: totals.loaded, stored: totals.stored - 1 });
    expect(await countTarget()).toBe(held - 1);
    const lost = reconcile({ table: table.name, readPoint: null, chunksLoaded: again.loaded, chunksStored: again.stored });
    await expect(lost).rejects.toThrow(/迁移对账失败 migration of approval_material does not reconcile: source \d+ ≠ loaded \d+ \+ quarantined \d+ \(difference 1\); the target holds \d+ rows but its chunks reported \d+ loaded \(difference -1\)/);

    // without the chunks' counts (results of an older worker) the table is counted whole, and finds the same
    await expect(reconcile({ table: table.name, readPoint: null, chunksLoaded: again.loaded })).rejects.toThrow(/source \d+ ≠ loaded \d+ \+ quarantined \d+ \(difference 1\)/);
    // the verify step's count (记录数核对) counts every table whole: a row taken out after its chunk committed is found there
    const counted = await withClient(targetUrl, (t) => countTable(source, null, t, table, mapping));
    expect(counted.problems.join('; ')).toMatch(/source \d+ ≠ loaded \d+ \+ quarantined \d+ \(difference 1\)/);
  });
});
