import path from 'node:path';
import { loadRegistry3 } from '../../datagen/registry3-generator';
import { withClient } from '../../lib/db';
import { encodeKey } from '../../migration/composite-key';
import { RegistryRehearsal } from '../support/registry-rehearsal';

/**
 * A full rehearsal (彩排) through the API, the real worker, Temporal and PostgreSQL on a third legacy
 * registry (datagen/registry3-generator.ts, mapping in test/fixtures/registry3/): enterprises and individual
 * businesses in tables of their own feeding one market_entity (合并 a union with a discriminator), planted
 * key collisions between them, annual reports under a composite key (复合主键 ztbs numeric, nd smallint), the
 * type codes read from the legacy database by a query (代码查询). Every row lands once: loaded, or held under
 * the rule its plant calls for — both rows of a colliding key under key_collision, the reports of a colliding
 * enterprise waiting for it, reports of no enterprise as orphans; counts and content verification pass.
 */
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'registry3');

describe('rehearsal on a third legacy registry: a union, composite keys, a code table from a query (djk)', () => {
  const registry = new RegistryRehearsal(FIXTURE, (c) => loadRegistry3(c, { enterprises: 2500, individuals: 1200, seed: 31, collisions: 7 }));
  const { stack } = registry;

  beforeAll(() => registry.start());
  afterAll(() => registry.stop());

  it('moves every row once, holds both rows of each colliding key, verifies', async () => {
    const result = await registry.rehearse(`${stack.id}-r3`, 300);
    const { stats } = registry;

    const byName = Object.fromEntries(result.tables.map((t) => [t.table, t]));
    expect(Object.keys(byName)).toEqual(['enterprise', 'individual_business', 'annual_report']);
    for (const t of result.tables) expect({ table: t.table, reconciled: t.countsReconciled }).toEqual({ table: t.table, reconciled: true });
    expect(byName.individual_business.quarantinedByRule).toEqual({ 'key_collision:enterprise': stats.collisions.length });
    expect(byName.annual_report.quarantinedByRule).toEqual({ 'waiting_for:enterprise': stats.reportsWaiting, 'orphan:enterprise': stats.reportsOrphan });
    expect(result.verification?.counts.every((c) => c.ok)).toBe(true);
    expect(result.verification?.reasons.every((r) => /not run/.test(r))).toBe(true);

    await withClient(stack.settings.TARGET_DATABASE_URL, async (db) => {
      const sorted = (a: string[]) => [...a].sort();
      // 合并 every legacy row once: loaded under its member's discriminator, or held under its member
      const loaded = (await db.query<{ k: string; d: string }>('SELECT entity_id AS k, source_kind AS d FROM market_entity')).rows;
      const held = (await db.query<{ t: string; k: string; rule: string }>('SELECT table_name AS t, source_key AS k, rule FROM migration_quarantine')).rows;
      expect(loaded.filter((r) => r.d === 'QY').length + held.filter((r) => r.t === 'enterprise').length).toBe(stats.rows.qy_zt);
      expect(loaded.filter((r) => r.d === 'GT').length + held.filter((r) => r.t === 'individual_business').length).toBe(stats.rows.gt_zt);
      // 键冲突 both rows of each colliding key held, none loaded
      expect(sorted(held.filter((r) => r.t === 'enterprise').map((r) => `${r.k} ${r.rule}`))).toEqual(sorted(stats.collisions.map((k) => `${k} key_collision:individual_business`)));
      expect(sorted(held.filter((r) => r.t === 'individual_business').map((r) => r.k))).toEqual(sorted(stats.collisions));
      expect(loaded.filter((r) => stats.collisions.includes(r.k))).toEqual([]);
      // 代码查询 the types from the legacy code table (padded local code mapped); individual businesses 9500
      const types = (await db.query<{ d: string; t: string }>('SELECT DISTINCT source_kind AS d, enttype AS t FROM market_entity ORDER BY 1, 2')).rows.map((r) => `${r.d} ${r.t}`);
      expect(types).toEqual(['GT 9500', 'QY 1100', 'QY 1130', 'QY 1150']);
      // 复合主键 every report once, by its (ztbs, nd)
      const legacyReports = await withClient(stack.settings.LEGACY_DATABASE_URL, async (c) => (await c.query<{ k: string[] }>('SELECT ARRAY[ztbs::text, nd::text] AS k FROM djk.nb')).rows.map((r) => encodeKey(r.k)));
      const moved = [
        ...(await db.query<{ k: string[] }>('SELECT ARRAY[entity_id, year::text] AS k FROM annual_report')).rows.map((r) => encodeKey(r.k)),
        ...held.filter((r) => r.t === 'annual_report').map((r) => r.k),
      ];
      expect(sorted(moved)).toEqual(sorted(legacyReports));
    });
  });
});
