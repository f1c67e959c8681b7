import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { targetActivities, UNDO_TRIGGER } from '../../activities/target';
import type { ActivityDeps } from '../../activities/deps';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { loadSettings, Settings } from '../../lib/settings';
import { readStatementAudit, withTarget } from '../../lib/statement-audit';
import { ensureTargetDatabase, registerTarget } from '../../lib/target-guard';
import { copyChunk } from '../../migration/chunk-copy';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { inActivity } from '../support/activity-context';

/**
 * 快照 → 业务测试 → 回滚 on real PostgreSQL, both strategies: the template copy (PostgreSQL) and the undo
 * log (openGauss, and PostgreSQL when chosen). Changes of every kind after the snapshot — update, insert,
 * delete, the same row twice, a row inserted then deleted — and the rollback's checksums equal the
 * snapshot's; the undo triggers are gone afterwards. The target is migrated by the engine itself with
 * TARGET_DIALECT=opengauss, and everything sent to it is audited for that dialect.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `ts${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;
const runbookUrl = `${PG}/${id}_runbook`;
const mapping = loadMapping(path.join(__dirname, '..', '..', 'config', 'mapping.json'));
const AUDIT = `${id}-audit`;

function activitiesFor(env: Record<string, string>) {
  const settings: Settings = loadSettings({ LEGACY_DATABASE_URL: legacyUrl, TARGET_DATABASE_URL: targetUrl, RUNBOOK_DATABASE_URL: runbookUrl, LOG_LEVEL: 'silent', ...env }, { signing: false });
  const deps = { settings, mapping, logger: pino({ level: 'silent' }) } as unknown as ActivityDeps;
  return { settings, acts: inActivity(targetActivities(deps)) };
}

const target = <T>(sql: string, values: unknown[] = []) => withClient(targetUrl, async (c) => (await c.query(sql, values)).rows as T[]);
const undoTriggers = async () => (await target<{ n: number }>(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = $1`, [UNDO_TRIGGER]))[0].n;

/** What the business tests do between snapshot and rollback, and then some: every kind of change. */
async function businessChanges(tag: string): Promise<void> {
  await withClient(targetUrl, async (c) => {
    const [first] = (await c.query(`SELECT pripid FROM market_entity ORDER BY pripid LIMIT 1`)).rows;
    await c.query(`UPDATE market_entity SET dom = $2, regstate = '4' WHERE pripid = $1`, [first.pripid, `变更后地址 ${tag}`]);
    await c.query(`UPDATE market_entity SET dom = dom || ' again', estdate = DATE '2001-03-05' WHERE pripid = $1`, [first.pripid]);
    await c.query(`INSERT INTO market_entity (pripid, entname, enttype, regstate, regcap) VALUES ($1, '测试企业 test entity', '1100', '1', 1)`, [`TEST-${tag}`]);
    await c.query(`INSERT INTO entity_change (altid, pripid, altitem) VALUES ($1, $2, '注销')`, [`ALT-${tag}`, first.pripid]);
    await c.query(`DELETE FROM entity_change WHERE altid = $1`, [`ALT-${tag}`]);
    await c.query(`DELETE FROM entity_change WHERE altid = (SELECT min(altid) FROM entity_change)`);
    await c.query(`UPDATE approval_process SET finished_at = finished_at + interval '1 hour' WHERE procid IN (SELECT procid FROM approval_process ORDER BY procid LIMIT 3)`);
  });
}

describe('snapshot and rollback of the target (both strategies)', () => {
  const source = new PostgresSource(legacyUrl);

  beforeAll(async () => {
    for (const url of [legacyUrl, targetUrl, runbookUrl]) await ensureDatabase(url);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 300, seed: 21, anomalyRate: 0.02 }));
    // The engine migrates as it would with TARGET_DIALECT=opengauss, every statement audited.
    const { settings } = activitiesFor({ TARGET_DIALECT: 'opengauss' });
    await withTarget(settings, (c) => ensureTargetSchema(c, mapping), AUDIT);
    for (const table of mapping.tables) {
      for (const chunk of await source.planChunks(table, 400)) {
        await withTarget(settings, (c) => copyChunk({ source, target: c, mapping, table, chunk, runId: id, readPoint: null, attempt: 1 }), AUDIT);
        // Twice, as a retried chunk: the dialect's ledger upsert replaces the first attempt's row.
        await withTarget(settings, (c) => copyChunk({ source, target: c, mapping, table, chunk, runId: id, readPoint: null, attempt: 2 }), AUDIT);
      }
    }
    await registerTarget(targetUrl, legacyUrl, 'test-setup', 'opengauss');
    await registerTarget(targetUrl, legacyUrl, 'test-setup', 'postgresql');
  });
  afterAll(async () => {
    await source.close();
    for (const url of [legacyUrl, targetUrl, runbookUrl]) await dropDatabase(url);
    const snaps = await withClient(`${PG}/postgres`, async (c) => (await c.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${id}_target_snap_%`])).rows);
    for (const s of snaps) await dropDatabase(`${PG}/${s.datname}`);
  });

  it('migrated with the openGauss dialect: ledger rows replaced, not doubled', async () => {
    const [ledger] = await target<{ chunks: number; attempts: number[] }>(`SELECT count(*)::int AS chunks, array_agg(DISTINCT attempt) AS attempts FROM migration_chunk`);
    expect(ledger.chunks).toBeGreaterThan(mapping.tables.length);
    expect(ledger.attempts).toEqual([2]);
    expect((await target<{ n: number }>(`SELECT count(*)::int AS n FROM market_entity`))[0].n).toBeGreaterThan(250);
  });

  it.each([
    ['postgresql', 'auto', 'template'],
    ['opengauss', 'auto', 'undo-log'],
    ['postgresql', 'undo-log', 'undo-log'],
  ])('TARGET_DIALECT=%s, strategy %s: snapshot → changes → rollback gives the snapshot’s checksums back (%s)', async (dialect, configured, expected) => {
    const { acts } = activitiesFor({ TARGET_DIALECT: dialect, TARGET_SNAPSHOT_STRATEGY: configured });
    const runId = `${id}-${dialect}-${configured}`;
    const snap = await acts.snapshotTarget({ runId });
    expect(snap.strategy).toBe(expected);
    expect(await undoTriggers()).toBe(expected === 'undo-log' ? mapping.tables.length : 0);
    // A retried snapshot is the same snapshot.
    expect((await acts.snapshotTarget({ runId })).checksums).toEqual(snap.checksums);

    await businessChanges(runId.slice(-12));
    const changed = await acts.targetChecksums();
    expect(changed).not.toEqual(snap.checksums);
    const changedTables = changed.filter((c, i) => c.md5 !== snap.checksums[i].md5).map((c) => c.table);
    expect(changedTables).toEqual(['market_entity', 'entity_change', 'approval_process']);

    const rolled = await acts.rollbackTarget({ runId });
    expect(rolled.strategy).toBe(expected);
    if (expected === 'undo-log') expect(rolled.rowsUndone).toBe(9); // 2 updates, an insert, an insert then its delete, a delete, 3 updates
    expect(await acts.targetChecksums()).toEqual(snap.checksums);
    expect(await undoTriggers()).toBe(0);
    // Idempotent: a retried rollback changes nothing and still proves.
    await acts.rollbackTarget({ runId });
    expect(await acts.targetChecksums()).toEqual(snap.checksums);
    // The template rollback recreated the database: a new OID, which the oid-based identity (openGauss
    // dialect) rightly takes for another database. Registered again, as a DBA would after such a restore.
    if (expected === 'template') await registerTarget(targetUrl, legacyUrl, 'test-setup', 'opengauss');
    if (expected === 'undo-log') {
      expect((await target<{ n: number }>(`SELECT count(*)::int AS n FROM runbook_undo_log WHERE run_id = $1`, [runId]))[0].n).toBe(0);
      await expect(acts.snapshotTarget({ runId })).rejects.toThrow(/already rolled back/);
    }
  });

  it('refuses a rollback with no snapshot, and the template strategy on openGauss before anything runs', async () => {
    const { acts } = activitiesFor({ TARGET_DIALECT: 'opengauss' });
    await expect(acts.rollbackTarget({ runId: `${id}-never` })).rejects.toThrow(/took no undo-log snapshot/);
    expect(() => activitiesFor({ TARGET_DIALECT: 'opengauss', TARGET_SNAPSHOT_STRATEGY: 'template' })).toThrow(/template0 only/);
  });

  it('undoes any sequence of inserts, updates and deletes, in any order, on any keys (property)', async () => {
    const { acts } = activitiesFor({ TARGET_DIALECT: 'opengauss' });
    const keys = (await target<{ k: string }>(`SELECT nameid AS k FROM name_reservation ORDER BY nameid LIMIT 6`)).map((r) => r.k);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('update' as const), key: fc.constantFrom(...keys, 'NEW-1', 'NEW-2'), name: fc.string({ maxLength: 12 }) }),
      fc.record({ kind: fc.constant('insert' as const), key: fc.constantFrom(...keys, 'NEW-1', 'NEW-2', 'NEW-3'), name: fc.string({ maxLength: 12 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...keys, 'NEW-1', 'NEW-2'), name: fc.constant('') }),
      fc.record({ kind: fc.constant('rekey' as const), key: fc.constantFrom(...keys, 'NEW-1'), name: fc.constantFrom('NEW-2', 'NEW-4') }),
    );
    let run = 0;
    await fc.assert(
      // The log's sequence starts anywhere: the undo order must hold across 9 → 10, 99 → 100 … as well.
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.constantFrom(1, 5, 95, 996, 99_990), async (ops, seqStart) => {
        const runId = `${id}-prop-${run++}`;
        const snap = await acts.snapshotTarget({ runId });
        await target(`SELECT setval(pg_get_serial_sequence('runbook_undo_log', 'seq'), $1, false)`, [seqStart]);
        await withClient(targetUrl, async (c) => {
          for (const o of ops) {
            try {
              if (o.kind === 'update') await c.query(`UPDATE name_reservation SET entname = $2 WHERE nameid = $1`, [o.key, `名称${o.name}`]);
              if (o.kind === 'insert') await c.query(`INSERT INTO name_reservation (nameid, entname) VALUES ($1, $2)`, [o.key, `名称${o.name}`]);
              if (o.kind === 'delete') await c.query(`DELETE FROM name_reservation WHERE nameid = $1`, [o.key]);
              if (o.kind === 'rekey') await c.query(`UPDATE name_reservation SET nameid = $2 WHERE nameid = $1`, [o.key, o.name]);
            } catch (err) {
              // a duplicate key: the business system would be refused too; nothing else may fail
              expect((err as { code?: string }).code).toBe('23505');
            }
          }
        });
        await acts.rollbackTarget({ runId });
        expect(await acts.targetChecksums()).toEqual(snap.checksums);
        expect(await undoTriggers()).toBe(0);
      }),
      { numRuns: 20 },
    );
  });

  it('audits what was sent: clean for openGauss; the PostgreSQL dialect’s statements list what openGauss would refuse', async () => {
    const og = await readStatementAudit(runbookUrl, AUDIT, 'opengauss');
    expect(og.statements).toBeGreaterThan(5);
    expect(og.verdict).toMatchObject({ dialect: 'opengauss', clean: true, lacking: [], unverified: [] });
    // The same migration in the default dialect, audited under its own key.
    const { settings } = activitiesFor({});
    const pgKey = `${id}-pg`;
    // as on a fresh target: ensureTargetSchema sends its DDL only when something is missing (one catalog probe otherwise)
    await withClient(targetUrl, (c) => c.query('DROP TABLE IF EXISTS migration_data_quality'));
    await withTarget(settings, (c) => ensureTargetSchema(c, mapping), pgKey);
    const table = mapping.tables[0];
    const [chunk] = await source.planChunks(table, 100000);
    await withTarget(settings, (c) => copyChunk({ source, target: c, mapping, table, chunk, runId: id, readPoint: null, attempt: 3 }), pgKey);
    const pg = await readStatementAudit(runbookUrl, pgKey, 'postgresql');
    expect(pg.verdict.clean).toBe(true);
    const wouldRefuse = pg.others.find((o) => o.dialect === 'opengauss')!;
    expect(wouldRefuse.clean).toBe(false);
    expect(wouldRefuse.lacking.map((f) => f.construct)).toEqual(['on-conflict']);
    expect(wouldRefuse.unverified.map((f) => f.construct)).toEqual(['create-index-if-not-exists']);
  });

  it('register-target: creates a missing target (the PostgreSQL way on PostgreSQL), checks the dialect, registers an oid identity with the portable insert', async () => {
    const fresh = `${PG}/${id}_fresh`;
    try {
      await ensureTargetDatabase(fresh, 'opengauss');
      const first = await registerTarget(fresh, legacyUrl, 'zhang.dba', 'opengauss');
      expect(first.systemIdentifier).toMatch(/^oid \d+ port 5432$/);
      // Registering again is harmless (insert if absent), and the row names who registered first.
      await registerTarget(fresh, legacyUrl, 'li.dba', 'opengauss');
      const rows = await withClient(fresh, async (c) => (await c.query(`SELECT registered_by FROM runbook_target_registration`)).rows);
      expect(rows).toEqual([{ registered_by: 'zhang.dba' }]);
      // The legacy database is refused in this dialect too (the same identity form on both sides).
      await expect(registerTarget(legacyUrl, legacyUrl, 'someone', 'opengauss')).rejects.toThrow(/is the legacy database/);
    } finally {
      await dropDatabase(fresh);
    }
  });
});
