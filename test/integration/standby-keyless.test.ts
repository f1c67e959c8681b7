import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { ensureTargetSchema } from '../../migration/target-schema';
import { compareSegment, planStandbySegments } from '../../standby/consistency';
import { DIALECTS } from '../../standby/dialect';
import { prepareTargetSession } from '../../verification/canonical';

/**
 * 备点库 The standby consistency check on a 无键表 keyless table (an operation log whose exact repeats are rows of
 * their own): no key to plan segments or match rows by, so the table is one segment, read on both sides in one
 * shared order (the row's text), and compared as a multiset — the same rows stored in another physical order are
 * no difference; a repeat lost or a row changed on the standby is named by its content and both counts. Two plain
 * databases stand for the primary and the standby (no re-check rounds: nothing is in flight).
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `sk${randomBytes(4).toString('hex')}`;
const primaryUrl = `${PG}/${id}_primary`;
const standbyUrl = `${PG}/${id}_standby`;

const table: TableMapping = {
  name: 'oplog',
  title: '操作日志',
  category: 'history',
  source: { table: 'czrz', key: '', keyless: true },
  target: { table: 'oplog', checks: [] },
  columns: [
    { target: 'operator', type: 'text', source: 'czy', required: false },
    { target: 'action', type: 'text', source: 'dz', required: true },
    { target: 'n', type: 'integer', source: 'n', required: false },
  ],
};
const mapping: Mapping = { tables: [table], codeTables: new Map() };

describe('standby consistency on a keyless table (无键表)', () => {
  let primary: Client;
  let standby: Client;

  beforeAll(async () => {
    for (const [url, order] of [[primaryUrl, 'ASC'], [standbyUrl, 'DESC']] as const) {
      await ensureDatabase(url);
      await withClient(url, async (c) => {
        await ensureTargetSchema(c, mapping);
        // 300 rows, every tenth held three times over; the standby stores them in the reverse order
        await c.query(`INSERT INTO oplog SELECT CASE WHEN g % 7 = 0 THEN NULL ELSE 'op' || (g % 5) END, 'action ' || g, g FROM generate_series(1, 300) g, generate_series(1, 3) r WHERE r = 1 OR g % 10 = 0 ORDER BY g ${order}`);
      });
    }
    primary = new Client({ connectionString: primaryUrl });
    standby = new Client({ connectionString: standbyUrl });
    await primary.connect();
    await standby.connect();
  });
  afterAll(async () => {
    await primary?.end();
    await standby?.end();
    await dropDatabase(primaryUrl);
    await dropDatabase(standbyUrl);
  });

  const check = async () => {
    const segments = await planStandbySegments(primaryUrl, mapping, ['oplog'], 50);
    const keyCollate = await prepareTargetSession(primary);
    await prepareTargetSession(standby);
    return { segments, results: await Promise.all(segments.map(({ segment }) => compareSegment({ primary, standby, keyCollate, dialect: DIALECTS.postgresql, table, segment, recheckRounds: 0, catchUpTimeoutMs: 1000 }))) };
  };

  it('reads the table whole as one segment: the same rows in another physical order agree', async () => {
    const { segments, results } = await check();
    expect(segments).toHaveLength(1);
    expect(results).toEqual([expect.objectContaining({ ok: true, primaryRows: 360, standbyRows: 360, differences: [] })]);
    expect(results[0].primarySha256).toBe(results[0].standbySha256);
  });

  it('names a lost repeat and a changed row by their content, with how often each side holds them', async () => {
    await withClient(standbyUrl, async (c) => {
      await c.query(`DELETE FROM oplog WHERE ctid = (SELECT min(ctid) FROM oplog WHERE n = 20)`);
      await c.query(`UPDATE oplog SET action = 'altered' WHERE n = 33`);
    });
    const { results } = await check();
    expect(results[0]).toMatchObject({ ok: false, primaryRows: 360, standbyRows: 359, differenceTotals: { missing_in_target: 2, extra_in_target: 1 } });
    expect(results[0].differences).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'missing_in_target', key: '', row: { operator: 'op0', action: 'action 20', n: '20' }, count: { source: 3, target: 2 } }),
        expect.objectContaining({ kind: 'missing_in_target', row: { operator: 'op3', action: 'action 33', n: '33' }, count: { source: 1, target: 0 } }),
        expect.objectContaining({ kind: 'extra_in_target', row: { operator: 'op3', action: 'altered', n: '33' }, count: { source: 0, target: 1 } }),
      ]),
    );
    expect(results[0].differences).toHaveLength(3);
  });
});
