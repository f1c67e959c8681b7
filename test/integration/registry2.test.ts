import path from 'node:path';
import { loadRegistry2, Registry2Table } from '../../datagen/registry2-generator';
import { withClient } from '../../lib/db';
import { legacyMappingSchema } from '../../migration/legacy-source';
import { encodeKey } from '../../migration/composite-key';
import { keyColumns, loadMapping } from '../../migration/mapping';
import { RegistryRehearsal } from '../support/registry-rehearsal';

/**
 * A full rehearsal (彩排) through the API, the real worker process, Temporal and PostgreSQL on a legacy
 * registry the engine was not written for (datagen/registry2-generator.ts, its own mapping in
 * test/fixtures/registry2/): schema jmreg given by LEGACY_SCHEMA and once written into the mapping,
 * bigint, integer and numeric keys (one mapped to a text key), a table without a primary key, CHAR
 * columns with their padding, individual businesses in their own table. Every table: source = loaded +
 * quarantined, counted from the target; every legacy key exactly once in the target or the quarantine;
 * verification's counts and content pass; each planted anomaly under the rule the mapping gives it.
 *
 * Sampling and business tests are not asked for (sample.perType 0, businessTests.entities 0): today
 * they read the bundled registry's market_entity only (issue 13 part B declares the entity view in the
 * mapping). The code tables are CSV files: today's format cannot read them from the legacy database.
 */
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'registry2');

describe('rehearsal on a second, differently shaped legacy registry (jmreg)', () => {
  const registry = new RegistryRehearsal(FIXTURE, (c) => loadRegistry2(c, { enterprises: 2500, individuals: 1500, seed: 13, anomalyRate: 0.04 }), { LEGACY_SCHEMA: 'jmreg' });
  const { stack } = registry;

  beforeAll(() => registry.start());
  afterAll(() => registry.stop());

  it('moves every row once, reconciles every table from the target, verifies, and quarantines each anomaly under its rule', async () => {
    const result = await registry.rehearse(`${stack.id}-r2`, 700);
    const { stats } = registry;

    const mapping = loadMapping(stack.settings.MAPPING_FILE, { legacySchema: legacyMappingSchema(stack.settings.LEGACY_DATABASE_URL, 'jmreg') });
    expect(mapping.tables.map((t) => t.source.table)).toEqual(['jmreg.qy_jbxx', 'jmreg.gt_jbxx', 'jmreg.qy_bgjl', 'jmreg.qy_nbxx', 'jmreg.sp_sqjl']);
    expect(result.tables.map((t) => t.table)).toEqual(mapping.tables.map((t) => t.name));
    for (const t of result.tables) {
      const table = mapping.tables.find((m) => m.name === t.table)!;
      const legacy = stats.tables[table.source.table.split('.')[1] as Registry2Table];
      expect({ table: t.table, read: t.rowsRead, quarantined: t.quarantinedByRule, flagged: t.flaggedByRule }).toEqual({ table: t.table, read: legacy.rows, quarantined: legacy.expectedQuarantine, flagged: legacy.expectedFlagged });
      expect(t.rowsLoaded + t.rowsQuarantined).toBe(legacy.rows);
      expect(t.countsReconciled).toBe(true);
      expect(t.chunks).toBeGreaterThan(1);

      // by keys: every legacy key once, in the target or in quarantine (none twice, none in both); a composite
      // key (复合主键, annual_report) as the text the quarantine holds it in (migration/composite-key.ts)
      // format('%s') prints a CHAR with its padding, as COPY does (::text drops it)
      const keyText = table.source.keys ? (cols: string[]) => `ARRAY[${cols.map((c) => `format('%s', ${c})`).join(', ')}]` : (cols: string[]) => `${cols[0]}::text`;
      const asKey = (k: string | string[]) => (Array.isArray(k) ? encodeKey(k) : k);
      const legacyKeys = await withClient(stack.settings.LEGACY_DATABASE_URL, async (c) =>
        (await c.query<{ k: string | string[] }>(`SELECT ${keyText(table.source.keys ?? [table.source.key])} AS k FROM ${table.source.table}`)).rows.map((r) => asKey(r.k)).sort(),
      );
      const moved = await withClient(stack.settings.TARGET_DATABASE_URL, async (c) => [
        ...(await c.query<{ k: string | string[] }>(`SELECT ${keyText(keyColumns(table).map((k) => k.target))} AS k FROM ${table.target.table}`)).rows.map((r) => asKey(r.k)),
        ...(await c.query<{ k: string }>(`SELECT source_key AS k FROM migration_quarantine WHERE table_name = $1`, [table.name])).rows.map((r) => r.k),
      ]);
      expect(moved.sort()).toEqual(legacyKeys);
    }
    // 异常数据处理策略: every enterprise and individual business loaded, each anomaly flagged; only real orphans held
    for (const planted of ['required:entname', 'unmapped_code:enttype', 'check:regcap']) expect(result.tables[0].flaggedByRule![planted]).toBeGreaterThan(0);
    expect(result.tables[0].rowsQuarantined + result.tables[1].rowsQuarantined).toBe(0);
    expect(result.tables[1].flaggedByRule!['required:opername']).toBeGreaterThan(0);
    expect(result.tables[2].quarantinedByRule['orphan:enterprise']).toBeGreaterThan(0);
    expect(result.tables[3].quarantinedByRule['orphan:enterprise']).toBeGreaterThan(0);
    expect(result.tables[4].flaggedByRule!['unmapped_code:apptype']).toBeGreaterThan(0);

    // verification: counts and every content segment pass; only sampling and business tests (not asked for) keep it incomplete
    expect(result.verification?.verdict).toBe('incomplete');
    expect(result.verification?.reasons.every((r) => /not run/.test(r))).toBe(true);
    expect(result.verification?.counts.every((c) => c.ok)).toBe(true);

    await withClient(stack.settings.TARGET_DATABASE_URL, async (db) => {
      // CHAR values keep their padding; local codes (a padded three-letter one too) and the retired division are mapped
      const e = (await db.query(`SELECT count(*) FILTER (WHERE length(uniscid) = 20 AND uniscid LIKE '% ')::int AS padded, count(uniscid)::int AS n,
                                        count(*) FILTER (WHERE enttype IN ('QY01', 'QY1', 'NZ01', 'QY1 '))::int AS local, count(*) FILTER (WHERE regorg = '440782')::int AS retired FROM enterprise`)).rows[0];
      expect(e).toEqual({ padded: e.n, n: e.n, local: 0, retired: 0 });
      // a missing required name loads flagged as （待整改） (the business stays in); every other keeps its CHAR padding
      const ib = (await db.query(`SELECT count(*) FILTER (WHERE length(opername) = 12)::int AS padded, count(*) FILTER (WHERE opername IS DISTINCT FROM '（待整改）')::int AS n FROM individual_business`)).rows[0];
      expect(ib.padded).toBe(ib.n);
      // a code no code table knows: the row is loaded flagged and the raw legacy value kept in its data-quality issue
      const dq = (await db.query(`SELECT raw_value FROM migration_data_quality WHERE table_name = 'enterprise' AND rule = 'unmapped_code:enttype' LIMIT 1`)).rows[0];
      expect(dq.raw_value).toBe('ZZZZ');
      // the quarantine keeps the legacy row as read: the legacy table's own column names, not the target's
      const q = (await db.query(`SELECT table_name, raw_row FROM migration_quarantine ORDER BY table_name, source_key LIMIT 1`)).rows[0];
      expect(q).toBeDefined();
      const quarantined = mapping.tables.find((t) => t.name === q.table_name)!;
      expect(Object.keys(q.raw_row).sort()).toEqual([...new Set(quarantined.columns.map((c) => c.source))].sort());
      // no approval whose enterprise is not loaded
      const orphans = (await db.query(`SELECT count(*)::int AS n FROM approval_record a WHERE NOT EXISTS (SELECT 1 FROM enterprise e WHERE e.qyid::text = a.qyid)`)).rows[0].n;
      expect(orphans).toBe(0);
    });
  });
});
