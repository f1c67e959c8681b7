import path from 'node:path';
import { loadRegistry3 } from '../../datagen/registry3-generator';
import { withClient } from '../../lib/db';
import { encodeKey } from '../../migration/composite-key';
import { RegistryRehearsal } from '../support/registry-rehearsal';
import { eventually } from '../support/stack';

/**
 * A full rehearsal (彩排) through the API, the real worker, Temporal and PostgreSQL on a third legacy
 * registry (datagen/registry3-generator.ts, mapping in test/fixtures/registry3/): enterprises and individual
 * businesses in tables of their own feeding one market_entity (合并 a union with a discriminator), planted
 * key collisions between them, annual reports under a composite key (复合主键 ztbs numeric, nd smallint), the
 * type codes read from the legacy database by a query (代码查询). Every row lands once: loaded, or held under
 * the rule its plant calls for — both rows of a colliding key under key_collision, the reports of a colliding
 * enterprise waiting for it, reports of no enterprise as orphans; counts and content verification pass. The operation
 * log (操作日志 djk.czrz) has no key at all (无键表): every entry loaded as often as the legacy holds it (exact repeats
 * too), entries with no operator held with the legacy row; verified as a multiset, which finds a changed entry and a
 * lost repeat in the target.
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
    expect(Object.keys(byName)).toEqual(['enterprise', 'individual_business', 'annual_report', 'operation_log']);
    for (const t of result.tables) expect({ table: t.table, reconciled: t.countsReconciled }).toEqual({ table: t.table, reconciled: true });
    expect(byName.individual_business.quarantinedByRule).toEqual({ 'key_collision:enterprise': stats.collisions.length });
    expect(byName.annual_report.quarantinedByRule).toEqual({ 'waiting_for:enterprise': stats.reportsWaiting, 'orphan:enterprise': stats.reportsOrphan });
    expect(byName.operation_log.quarantinedByRule).toEqual({ 'required:operator': stats.logHeld });
    expect(stats.logHeld).toBeGreaterThan(0);
    expect(result.verification?.counts.every((c) => c.ok)).toBe(true);
    expect(result.verification?.counts.find((c) => c.table === 'operation_log')).toMatchObject({ source: stats.rows.czrz, loaded: stats.rows.czrz - stats.logHeld, quarantined: stats.logHeld });
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
      // 无键表 every log entry once, an exact repeat as often as the legacy holds it (CHAR(8) padding kept)
      const logged = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM operation_log')).rows[0].n);
      expect(logged + held.filter((r) => r.t === 'operation_log').length).toBe(stats.rows.czrz);
      expect(stats.logRepeats.length).toBeGreaterThan(5);
      for (const [operator, action, entity, at, times] of stats.logRepeats) {
        const { rows } = await db.query<{ n: string; op: string }>(
          'SELECT count(*) AS n, min(operator) AS op FROM operation_log WHERE rtrim(operator) = $1 AND action = $2 AND entity_id = $3 AND logged_at = $4::timestamp',
          [operator, action, entity, at],
        );
        expect({ entry: [operator, at], n: Number(rows[0].n), op: rows[0].op }).toEqual({ entry: [operator, at], n: times, op: operator.padEnd(8) });
      }
      const heldLog = (await db.query<{ k: string | null; raw: Record<string, string | null> }>(`SELECT source_key AS k, raw_row AS raw FROM migration_quarantine WHERE table_name = 'operation_log'`)).rows;
      expect(heldLog.every((r) => r.k === null && r.raw.czry === null && typeof r.raw.czsj === 'string')).toBe(true);
    });
  });

  it('无键表 finds a changed log entry and a lost repeat in the target (a multiset: content and counts)', async () => {
    const { stack, stats } = registry;
    const [operator, action, entity, at, times] = stats.logRepeats[0];
    const changed = await withClient(stack.settings.TARGET_DATABASE_URL, async (db) => {
      // one copy of a repeated entry lost; one entry the legacy holds once changed
      await db.query('DELETE FROM operation_log WHERE ctid = (SELECT ctid FROM operation_log WHERE rtrim(operator) = $1 AND action = $2 AND entity_id = $3 AND logged_at = $4::timestamp LIMIT 1)', [operator, action, entity, at]);
      const { rows } = await db.query<{ operator: string; action: string; entity_id: string; logged_at: string }>(
        `UPDATE operation_log SET action = '撤销登记' WHERE ctid = (SELECT ctid FROM operation_log o WHERE (SELECT count(*) FROM operation_log p WHERE p = o) = 1 LIMIT 1)
         RETURNING operator, action, entity_id, to_char(logged_at, 'YYYY-MM-DD HH24:MI:SS') AS logged_at`,
      );
      return rows[0];
    });
    const started = await stack.http('POST', '/verifications', registry.operator, { runId: `${stack.id}-r3k`, segmentRows: 300, sample: { perType: 0 }, businessTests: { entities: 0 } });
    expect(started.status).toBe(201);
    const result = await eventually(async () => {
      const r = await stack.http('GET', `/verifications/${started.body.workflowId}`, registry.operator);
      return r.body.execution === 'COMPLETED' ? (r.body.result as { verdict: string; reasons: string[] }) : undefined;
    }, 'the verification to complete', 120_000);
    expect(result.verdict).toBe('failed');
    expect(result.reasons).toEqual([
      `记录数 counts: operation_log: source ${stats.rows.czrz} ≠ loaded ${stats.rows.czrz - stats.logHeld - 1} + quarantined ${stats.logHeld} (difference 1)`,
      '全量校验 checksums: operation_log: 1 of 1 segments differ (2 missing_in_target, 1 extra_in_target)',
    ]);
    const report = (await stack.http('GET', `/verifications/${started.body.workflowId}/reports/verification-report.json`, registry.operator)).body as {
      failedSegments: { differences: { kind: string; row?: Record<string, string | null>; count?: { source: number; target: number } }[] }[];
    };
    const differences = report.failedSegments.flatMap((s) => s.differences).map((d) => ({ kind: d.kind, row: d.row, count: d.count }));
    expect(differences).toEqual(
      expect.arrayContaining([
        { kind: 'missing_in_target', row: { operator: operator.padEnd(8), action, entity_id: entity, logged_at: at }, count: { source: times, target: times - 1 } },
        { kind: 'extra_in_target', row: { ...changed, action: '撤销登记' }, count: { source: 0, target: 1 } },
        { kind: 'missing_in_target', row: { ...changed, action: expect.any(String) }, count: { source: 1, target: 0 } },
      ]),
    );
    expect(differences).toHaveLength(3);
  });
});
