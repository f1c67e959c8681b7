import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import { encodeKey } from '../../migration/composite-key';
import { dataQualityReport } from '../../migration/data-quality';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { reloadHeld } from '../../migration/remediate';
import { ensureTargetSchema } from '../../migration/target-schema';
import { countTable } from '../../verification/counts';

/**
 * 复合主键 A composite-keyed child table beyond the copy, on real PostgreSQL: its rows wait for a held parent
 * under their tuple key (waiting_for:<parent>:<key>), follow the parent in when it is corrected and reloaded
 * (整改重载, matched by every key column), and the data-quality report finds each loaded-flagged row's
 * district by the tuple key; counts reconcile before and after.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `cr${randomBytes(4).toString('hex')}_h13`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;

const parent: TableMapping = {
  name: 'entity',
  title: '主体',
  category: 'entity',
  source: { table: 'djk_c.zt', key: 'ztid' },
  target: { table: 'entity', checks: [] },
  columns: [
    { target: 'ztid', type: 'bigint', source: 'ztid', required: true },
    { target: 'estdate', type: 'date', source: 'clrq', required: true },
  ],
};
const child: TableMapping = {
  name: 'report',
  title: '年报',
  category: 'history',
  source: { table: 'djk_c.nb', key: 'ztid', keys: ['ztid', 'nd'] },
  target: { table: 'report', checks: [] },
  parent: { column: 'ztid', table: 'entity' },
  columns: [
    { target: 'ztid', type: 'bigint', source: 'ztid', required: true },
    { target: 'year', type: 'text', source: 'nd', required: true },
    { target: 'regorg', type: 'text', source: 'djjg', required: false, codeTable: 'division' },
    { target: 'filer', type: 'text', source: 'tbr', required: true },
  ],
};
const mapping: Mapping = {
  tables: [parent, child],
  codeTables: new Map([['division', { name: 'division', title: '行政区划', values: new Map([['440703', '440703']]), origin: { file: 'inline' }, retired: [] }]]),
};

describe('composite keys: waiting children, remediation and the data-quality report', () => {
  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    await withClient(legacyUrl, async (c) => {
      await c.query('CREATE SCHEMA djk_c');
      await c.query('CREATE TABLE djk_c.zt (ztid bigint PRIMARY KEY, clrq date)');
      await c.query('CREATE TABLE djk_c.nb (ztid bigint, nd char(6), djjg varchar(6), tbr text, PRIMARY KEY (ztid, nd))');
      // entity 2 has no date: held (a required date has no placeholder); its reports wait for it
      await c.query(`INSERT INTO djk_c.zt VALUES (1, '2001-01-01'), (2, NULL), (10, '2010-10-10')`);
      // report (1, 2021) has no filer: loaded flagged with the placeholder, in district 440703
      await c.query(`INSERT INTO djk_c.nb VALUES (1, '2020', '440703', '陈伟'), (1, '2021', '440703', NULL), (2, '2020', '440703', '李芳'), (2, '2021', '440703', '李芳'), (10, '2020', '440703', '黄敏')`);
    });
    await withClient(targetUrl, (t) => ensureTargetSchema(t, mapping));
  });
  afterAll(async () => {
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
  });

  it('holds the children of a held parent by their tuple key, reloads them with it, and reports by tuple key', async () => {
    const source = new PostgresSource(legacyUrl);
    try {
      await withClient(targetUrl, async (target) => {
        for (const table of [parent, child]) {
          for (const chunk of await source.planChunks(table, 2)) await copyChunk({ source, target, mapping, table, chunk, runId: 'r', readPoint: null, attempt: 1 });
        }
        const waiting = (await target.query<{ k: string; rule: string }>(`SELECT source_key AS k, rule FROM migration_quarantine WHERE table_name = 'report' ORDER BY 1`)).rows;
        expect(waiting).toEqual([
          { k: encodeKey(['2', '2020  ']), rule: 'waiting_for:entity:2' },
          { k: encodeKey(['2', '2021  ']), rule: 'waiting_for:entity:2' },
        ]);
        for (const table of [parent, child]) expect((await countTable(source, null, target, table, mapping)).problems).toEqual([]);

        // 问题数据 the missing filer is loaded flagged; the report finds the loaded row by its tuple key for its district
        const dq = await dataQualityReport(target, mapping);
        expect(dq.flagged.filter((g) => g.table === 'report')).toEqual([
          expect.objectContaining({ rule: 'required:filer', district: '440703', rows: 1, examples: [`${encodeKey(['1', '2021  '])} filer=NULL`] }),
        ]);

        // a waiting report reloaded before its parent: it goes back to waiting (matched by every key column), not loaded
        const early = await reloadHeld({ target, mapping, table: 'report', keys: [encodeKey(['2', '2020  '])], runId: 'early' });
        expect(early.loaded).toEqual([]);
        expect(early.stillHeld).toEqual([expect.objectContaining({ table: 'report', key: encodeKey(['2', '2020  ']), rule: 'waiting_for:entity:2' })]);
        expect((await target.query('SELECT count(*)::int AS n FROM report WHERE ztid = 2')).rows[0].n).toBe(0);

        // 整改重载 the parent corrected: it loads, and its waiting reports follow it in
        const outcome = await reloadHeld({ target, mapping, table: 'entity', keys: ['2'], corrections: new Map([['2', { clrq: '2002-02-02' }]]), runId: 'fix' });
        expect(outcome.stillHeld).toEqual([]);
        expect(outcome.loaded.map((l) => `${l.table} ${l.key}`).sort()).toEqual(['entity 2', `report ${encodeKey(['2', '2020  '])}`, `report ${encodeKey(['2', '2021  '])}`]);
        expect((await target.query(`SELECT ztid::text, year FROM report WHERE ztid = 2 ORDER BY year`)).rows).toEqual([
          { ztid: '2', year: '2020  ' },
          { ztid: '2', year: '2021  ' },
        ]);
        expect((await target.query('SELECT count(*)::int AS n FROM migration_quarantine')).rows[0].n).toBe(0);
        for (const table of [parent, child]) expect((await countTable(source, null, target, table, mapping)).problems).toEqual([]);
      });
    } finally {
      await source.close();
    }
  });
});
