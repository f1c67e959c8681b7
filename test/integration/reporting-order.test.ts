import path from 'node:path';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { largestFirst } from '../../reporting/order';
import { loadReportSpec } from '../../reporting/spec';

/**
 * 调度顺序 A cycle's lanes take the reported tables largest first — by the registry's bytes of every table
 * each reads (its source and the tables it joins) — so that they end together; equal sizes (here: tables
 * the registry does not have) keep the spec's order.
 */
const DB = `postgres://postgres@127.0.0.1:5432/jm_test_report_order_${process.pid}`;
const spec = loadReportSpec(path.join(__dirname, '..', '..', 'config', 'reporting', 'registry.json'));

describe('reporting table order', () => {
  beforeAll(async () => {
    await ensureDatabase(DB);
    await withClient(DB, async (c) => {
      for (const [table, rows] of [
        ['approval_process', 5000],
        ['approval_material', 3500],
        ['market_entity', 2000],
        ['entity_person', 1000],
        ['enterprise_group', 10],
      ] as const) {
        await c.query(`CREATE TABLE ${table} (id text PRIMARY KEY, pad text)`);
        await c.query(`INSERT INTO ${table} SELECT i::text, repeat('x', 180) FROM generate_series(1, ${rows}) i`);
      }
    });
  });
  afterAll(() => dropDatabase(DB));

  it('puts the tables that read the most bytes first, a joined table counted with its source', async () => {
    const names = spec.tables.map((t) => t.name);
    expect(names).toEqual([
      'rpt_market_entity',
      'rpt_name_reservation',
      'rpt_enterprise_group',
      'rpt_entity_person',
      'rpt_entity_change',
      'rpt_approval_application',
      'rpt_approval_process',
      'rpt_approval_material',
    ]);
    const order = await withClient(DB, (c) => largestFirst(c, spec, names));
    expect(order).toEqual([
      'rpt_approval_process', // 5,000 rows
      'rpt_approval_material', // 3,500
      'rpt_entity_person', // 1,000 + market_entity's 2,000 (joined)
      'rpt_enterprise_group', // 10 + market_entity's 2,000
      'rpt_market_entity', // 2,000
      'rpt_name_reservation', // not in this registry: as the spec has them
      'rpt_entity_change',
      'rpt_approval_application',
    ]);
    // a subset keeps to the same rule
    expect(await withClient(DB, (c) => largestFirst(c, spec, ['rpt_market_entity', 'rpt_approval_material']))).toEqual(['rpt_approval_material', 'rpt_market_entity']);
  });
});
