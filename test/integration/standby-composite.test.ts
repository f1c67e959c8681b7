import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { encodeKey } from '../../migration/composite-key';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { ensureTargetSchema } from '../../migration/target-schema';
import { compareSegment, planStandbySegments } from '../../standby/consistency';
import { DIALECTS } from '../../standby/dialect';
import { prepareTargetSession } from '../../verification/canonical';

/**
 * 备点库 The standby consistency check on a composite-keyed table (复合主键) whose key columns the mapping
 * renames: segments are planned on the primary's copy as tuple ranges, and a row that differs on the standby is
 * named by its whole key — many rows share the first key column, and matching by it alone would mistake one for
 * another. Two plain databases stand for the primary and the standby (no re-check rounds: nothing is in flight).
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `sc${randomBytes(4).toString('hex')}_h13`;
const primaryUrl = `${PG}/${id}_primary`;
const standbyUrl = `${PG}/${id}_standby`;

const table: TableMapping = {
  name: 'report',
  title: '年报',
  category: 'entity',
  source: { table: 'nb', key: 'ztbs', keys: ['ztbs', 'nd'] },
  target: { table: 'report', checks: [] },
  columns: [
    { target: 'entity_id', type: 'bigint', source: 'ztbs', required: true },
    { target: 'year', type: 'text', source: 'nd', required: true },
    { target: 'assets', type: 'numeric', source: 'zcze', required: false },
  ],
};
const mapping: Mapping = { tables: [table], codeTables: new Map() };

describe('standby consistency on a composite key', () => {
  beforeAll(async () => {
    for (const url of [primaryUrl, standbyUrl]) {
      await ensureDatabase(url);
      await withClient(url, async (c) => {
        await ensureTargetSchema(c, mapping);
        await c.query(`INSERT INTO report SELECT e, y::text, e * 10 + y FROM generate_series(1, 40) e, generate_series(2015, 2024) y`);
        await c.query('ANALYZE report');
      });
    }
    await withClient(standbyUrl, (c) => c.query(`UPDATE report SET assets = -1 WHERE entity_id = 7 AND year = '2019'`));
  });
  afterAll(async () => {
    await dropDatabase(primaryUrl);
    await dropDatabase(standbyUrl);
  });

  it('plans tuple segments on the primary and names the one differing row by its whole key', async () => {
    const segments = await planStandbySegments(primaryUrl, mapping, ['report'], 100);
    expect(segments.length).toBeGreaterThan(1);
    const primary = new Client({ connectionString: primaryUrl });
    const standby = new Client({ connectionString: standbyUrl });
    await primary.connect();
    await standby.connect();
    try {
      const keyCollate = await prepareTargetSession(primary);
      await prepareTargetSession(standby);
      const results = [];
      for (const { segment } of segments) results.push(await compareSegment({ primary, standby, keyCollate, dialect: DIALECTS.postgresql, table, segment, recheckRounds: 0, catchUpTimeoutMs: 1000 }));
      expect(results.reduce((n, r) => n + r.primaryRows, 0)).toBe(400);
      expect(results.flatMap((r) => r.differences)).toEqual([
        expect.objectContaining({ kind: 'changed', key: encodeKey(['7', '2019']), fields: [{ column: 'assets', source: '2089', target: '-1' }] }),
      ]);
    } finally {
      await primary.end();
      await standby.end();
    }
  });
});
