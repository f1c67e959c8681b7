import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { targetActivities } from '../../activities/target';
import type { ActivityDeps } from '../../activities/deps';
import { loadSettings } from '../../lib/settings';
import { registerTarget } from '../../lib/target-guard';
import { inActivity } from '../support/activity-context';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import { textOf } from '../../migration/copy-text';
import { findTable, loadMapping } from '../../migration/mapping';
import { ctidRangeSql, PostgresSource } from '../../migration/pg-source';
import type { Chunk } from '../../migration/source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { prepareTargetSession } from '../../verification/canonical';
import { planSegments, verifySegment } from '../../verification/content';
import { countTable } from '../../verification/counts';

/**
 * 无键表 A keyless legacy table on real PostgreSQL, without Temporal: planned in ctid block ranges, every row read by
 * exactly one chunk (rows added after planning by the last), loaded exactly once however often a chunk is copied
 * (one after the other, or two attempts at once), its held rows keeping the legacy row as read and no key.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `kl${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-keyless-'));
const file = path.join(dir, 'mapping.json');
fs.writeFileSync(
  file,
  JSON.stringify({
    codeTables: {},
    tables: [
      {
        name: 'operation_log',
        title: '操作日志 operation log (无键表)',
        category: 'history',
        source: { table: 'czrz', keyless: true },
        target: { table: 'operation_log' },
        columns: [
          { target: 'operator', type: 'text', source: 'czry', required: true, onAnomaly: { policy: 'quarantine' } },
          { target: 'action', type: 'text', source: 'czlx' },
          { target: 'done_on', type: 'date', source: 'czrq' },
        ],
      },
    ],
  }),
);
const mapping = loadMapping(file);
const table = findTable(mapping, 'operation_log');

/** rows [operator, action, day]; an operator of '' is held (required) */
type Row = [string, string, number];
async function fillLegacy(c: Client, rows: Row[]): Promise<void> {
  await c.query('DROP TABLE IF EXISTS czrz');
  await c.query('CREATE TABLE czrz (czry char(8), czlx varchar(20), czrq date)');
  for (let i = 0; i < rows.length; i += 500) {
    const part = rows.slice(i, i + 500);
    await c.query(`INSERT INTO czrz SELECT NULLIF(a, ''), b, DATE '2020-01-01' + d FROM unnest($1::text[], $2::text[], $3::int[]) AS r(a, b, d)`, [
      part.map((r) => r[0]),
      part.map((r) => r[1]),
      part.map((r) => r[2]),
    ]);
  }
}

const multiset = (lines: string[]) => [...lines].sort();

describe('无键表 a keyless table: ctid chunks, loaded exactly once', () => {
  const source = new PostgresSource(legacyUrl);

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    await withClient(targetUrl, (c) => ensureTargetSchema(c, mapping));
  });
  afterAll(async () => {
    await source.close();
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
  });

  const readAll = async (chunks: Chunk[]) => {
    const perChunk: string[][] = [];
    for (const chunk of chunks) {
      const lines: string[] = [];
      for await (const batch of await source.readChunk(table, chunk)) for (const l of batch as string[]) lines.push(textOf(l));
      perChunk.push(lines);
    }
    return perChunk;
  };
  const legacyLines = () => withClient(legacyUrl, async (c) => (await c.query<{ l: string }>(`SELECT concat_ws(E'\\t', coalesce(rpad(czry, 8), '\\N'), coalesce(czlx, '\\N'), coalesce(czrq::text, '\\N')) AS l FROM czrz`)).rows.map((r) => r.l));

  it('reads every row of generated tables (holes, duplicates, rows added after planning) in exactly one chunk', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('张三', '李四', 'wang'), fc.constantFrom('登记', '变更', 'x'), fc.integer({ min: 0, max: 3 })), { minLength: 0, maxLength: 1500 }),
        fc.integer({ min: 20, max: 700 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 300 }),
        async (rows, rowsPerChunk, deleted, added) => {
          await withClient(legacyUrl, async (c) => {
            await fillLegacy(c, rows);
            // holes: rows removed from the middle of the heap
            await c.query(`DELETE FROM czrz WHERE ctid IN (SELECT ctid FROM czrz ORDER BY random() LIMIT $1)`, [deleted]);
            await c.query('ANALYZE czrz');
          });
          const chunks = await source.planChunks(table, rowsPerChunk);
          expect(chunks[chunks.length - 1].keyTo).toBeNull();
          // rows written after planning: in new blocks past the plan, read by the open-ended last chunk
          await withClient(legacyUrl, (c) => c.query(`INSERT INTO czrz SELECT 'later', 'x', DATE '2021-01-01' FROM generate_series(1, $1)`, [added]));
          const perChunk = await readAll(chunks);
          expect(multiset(perChunk.flat())).toEqual(multiset(await legacyLines()));
          // each row in one range: the ranges' counts add up to the table's
          const counts = await withClient(legacyUrl, async (c) => {
            const out: number[] = [];
            for (const chunk of chunks) out.push(Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM czrz WHERE ${ctidRangeSql(chunk)}`)).rows[0].n));
            return out;
          });
          expect(counts).toEqual(perChunk.map((l) => l.length));
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);

  describe('loading', () => {
    /** 1200 rows: every row of the first 100 three times over, 7 with no operator (held) */
    const rows: Row[] = [];
    for (let i = 0; i < 1200; i++) rows.push(i < 300 ? [`op${i % 100}`, '登记', i % 100] : i % 150 === 1 ? ['', '注销', i] : [`op${i}`, '变更', i % 400]);
    const held = rows.filter((r) => r[0] === '').length;
    let chunks: Chunk[];

    beforeAll(async () => {
      await withClient(legacyUrl, async (c) => {
        await fillLegacy(c, rows);
        await c.query('ANALYZE czrz');
      });
      chunks = await source.planChunks(table, 200);
    });

    const copyAll = (runId: string, attempt: number) =>
      withClient(targetUrl, async (target) => {
        const out = [];
        for (const chunk of chunks) out.push(await copyChunk({ source, target, mapping, table, chunk, runId, readPoint: null, attempt }));
        return out;
      });
    const targetState = () =>
      withClient(targetUrl, async (c) => ({
        rows: Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM operation_log')).rows[0].n),
        tripled: Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM operation_log GROUP BY operator, action, done_on HAVING count(*) = 3) s`)).rows[0].n),
        held: (await c.query<{ k: string | null; rule: string; raw: Record<string, string | null> }>('SELECT source_key AS k, rule, raw_row AS raw FROM migration_quarantine ORDER BY id')).rows,
        ledger: (await c.query<{ n: string; attempt: number }>('SELECT count(*) AS n, max(attempt) AS attempt FROM migration_chunk')).rows[0],
      }));

    it('loads each legacy row once, duplicates as often as the legacy holds them; a held row keeps the legacy row and no key', async () => {
      expect(chunks.length).toBeGreaterThan(3);
      const first = await copyAll('r1', 1);
      const state = await targetState();
      expect(state.rows).toBe(rows.length - held);
      expect(first.reduce((s, r) => s + r.rowsLoaded, 0)).toBe(rows.length - held);
      expect(first.reduce((s, r) => s + r.rowsRead, 0)).toBe(rows.length);
      expect(state.tripled).toBe(100);
      expect(state.held).toHaveLength(held);
      // the legacy row as read: CHAR(8) NULL operator, the action and date as the legacy gives them
      expect(state.held[0]).toEqual({ k: null, rule: 'required:operator', raw: { czry: null, czlx: '注销', czrq: '2020-10-28' } });
      expect(Number(state.ledger.n)).toBe(chunks.length);
    });

    it('a retried chunk whose first attempt committed loads nothing again and answers as the first attempt did', async () => {
      const before = await targetState();
      const first = await withClient(targetUrl, (c) => c.query<{ chunk_id: string; checksum: string }>('SELECT chunk_id, checksum FROM migration_chunk ORDER BY chunk_id'));
      const again = await copyAll('r1', 2);
      expect(await targetState()).toEqual(before);
      expect(again.map((r) => r.checksum)).toEqual(first.rows.map((r) => r.checksum));
      expect(again.reduce((s, r) => s + r.rowsLoaded, 0)).toBe(rows.length - held);
      expect(again.reduce((s, r) => s + r.rowsQuarantined, 0)).toBe(held);
      expect(again.reduce((s, r) => s + (r.quarantinedByRule['required:operator'] ?? 0), 0)).toBe(held);
    });

    it('two attempts of one chunk at once load it once', async () => {
      await withClient(targetUrl, (c) => c.query('TRUNCATE operation_log, migration_quarantine, migration_data_quality, migration_chunk'));
      const chunk = chunks[1];
      const attempt = (n: number) => withClient(targetUrl, (target) => copyChunk({ source, target, mapping, table, chunk, runId: 'r2', readPoint: null, attempt: n }));
      const [a, b] = await Promise.all([attempt(1), attempt(2)]);
      expect(a.rowsLoaded).toBe(b.rowsLoaded);
      expect(a.rowsLoaded).toBeGreaterThan(0);
      expect((await targetState()).rows).toBe(a.rowsLoaded);
    });

    it('verifies the table as a multiset: passes as loaded; a changed row and a lost duplicate are reported with their content and counts', async () => {
      await withClient(targetUrl, (c) => c.query('TRUNCATE operation_log, migration_quarantine, migration_data_quality, migration_chunk'));
      await copyAll('v1', 1);
      const verify = () =>
        withClient(targetUrl, async (target) => {
          const keyCollate = await prepareTargetSession(target);
          const segments = await planSegments(source, mapping, ['operation_log'], 300);
          expect(segments).toHaveLength(1);
          return verifySegment({ source, target, keyCollate, mapping, table, segment: segments[0].segment, readPoint: null });
        });
      const counts = () => withClient(targetUrl, (target) => countTable(source, null, target, table, mapping));
      // proven in one pass (each side's multiset digest, no row kept); a table that differs is read a second time to name the rows
      const reads = jest.spyOn(source, 'readChunk');
      const passed = await verify();
      expect(reads).toHaveBeenCalledTimes(1);
      expect(passed).toMatchObject({ ok: true, sourceRows: rows.length - held, quarantinedRows: held, targetRows: rows.length - held, differences: [] });
      expect(passed.sourceSha256).toBe(passed.targetSha256);
      expect(await counts()).toMatchObject({ ok: true, source: rows.length, loaded: rows.length - held, quarantined: held });

      await withClient(targetUrl, async (c) => {
        // one row changed (a row the legacy holds once), one of a thrice-held row removed
        await c.query(`UPDATE operation_log SET action = '撤销' WHERE ctid = (SELECT ctid FROM operation_log WHERE rtrim(operator) = 'op500' LIMIT 1)`);
        await c.query(`DELETE FROM operation_log WHERE ctid = (SELECT ctid FROM operation_log WHERE rtrim(operator) = 'op7' LIMIT 1)`);
      });
      reads.mockClear();
      const failed = await verify();
      expect(reads).toHaveBeenCalledTimes(2);
      reads.mockRestore();
      expect(failed.ok).toBe(false);
      expect(failed.sourceSha256).not.toBe(failed.targetSha256);
      expect(failed.differenceTotals).toEqual({ missing_in_target: 2, extra_in_target: 1 });
      const pad = (s: string) => s.padEnd(8);
      expect(failed.differences.map((d) => ({ kind: d.kind, row: d.row, count: d.count }))).toEqual(
        expect.arrayContaining([
          { kind: 'missing_in_target', row: { operator: pad('op7'), action: '登记', done_on: '2020-01-08' }, count: { source: 3, target: 2 } },
          { kind: 'missing_in_target', row: { operator: pad('op500'), action: '变更', done_on: '2020-04-10' }, count: { source: 1, target: 0 } },
          { kind: 'extra_in_target', row: { operator: pad('op500'), action: '撤销', done_on: '2020-04-10' }, count: { source: 0, target: 1 } },
        ]),
      );
      expect(failed.differences).toHaveLength(3);
      const after = await counts();
      expect(after.ok).toBe(false);
      expect(after.problems).toEqual([`source ${rows.length} ≠ loaded ${rows.length - held - 1} + quarantined ${held} (difference 1)`]);
    });

    it('the undo log (快照 → 业务测试 → 回滚) puts a keyless table back as a multiset: one of several equal rows changed, removed, added', async () => {
      const settings = loadSettings({ LEGACY_DATABASE_URL: legacyUrl, TARGET_DATABASE_URL: targetUrl, RUNBOOK_DATABASE_URL: `${PG}/${id}_legacy`, LOG_LEVEL: 'silent', TARGET_SNAPSHOT_STRATEGY: 'undo-log' }, { signing: false });
      const acts = inActivity(targetActivities({ settings, mapping, logger: pino({ level: 'silent' }) } as unknown as ActivityDeps));
      await registerTarget(targetUrl, legacyUrl, 'test-setup');
      const multisetOf = () => withClient(targetUrl, async (c) => (await c.query<{ r: string; n: number }>('SELECT x::text AS r, count(*)::int AS n FROM operation_log x GROUP BY 1 ORDER BY 1')).rows);
      const before = await multisetOf();
      // the rows the tests above loaded: op3, op4 and op5 each three times
      expect(before.filter((r) => /^\("op[345] /.test(r.r)).map((r) => r.n)).toEqual([3, 3, 3]);
      const snap = await acts.snapshotTarget({ runId: 'undo1' });
      await withClient(targetUrl, async (c) => {
        await c.query(`UPDATE operation_log SET action = '撤销' WHERE ctid = (SELECT ctid FROM operation_log WHERE rtrim(operator) = 'op3' LIMIT 1)`);
        await c.query(`DELETE FROM operation_log WHERE ctid = (SELECT ctid FROM operation_log WHERE rtrim(operator) = 'op4' LIMIT 1)`);
        await c.query(`INSERT INTO operation_log SELECT * FROM operation_log WHERE rtrim(operator) = 'op5' LIMIT 1`);
      });
      expect(await multisetOf()).not.toEqual(before);
      const rolled = await acts.rollbackTarget({ runId: 'undo1' });
      expect(rolled.rowsUndone).toBe(3);
      expect(await multisetOf()).toEqual(before);
      expect(await acts.targetChecksums()).toEqual(snap.checksums);
    });

    it("refuses a chunk another run loaded (its rows cannot be told from this run's), naming the table", async () => {
      const chunk = chunks[1];
      await expect(withClient(targetUrl, (target) => copyChunk({ source, target, mapping, table, chunk, runId: 'r3', readPoint: null, attempt: 1 }))).rejects.toThrow(
        `无键表 keyless table operation_log: chunk ${chunk.id} was loaded by run v1`,
      );
    });
  });
});
