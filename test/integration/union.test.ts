import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../lib/config-file';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import { findTable, loadMapping, loadSteps } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { countTable } from '../../verification/counts';
import { verifyContentInProcess } from '../../verification/run-content';

/**
 * 合并 One target table fed by two legacy tables (enterprises and individual businesses into one
 * market_entity), on real PostgreSQL through the engine's chunk copy, counts and content verification:
 * - every legacy row once, in the target (with its member's discriminator) or in its member's quarantine;
 * - 键冲突 a key both sources give is quarantined in BOTH members under key_collision:<the other>, never one
 *   silently kept;
 * - chunks retried — the later member's, and the earlier member's after the later one ran — remove only
 *   their own member's rows and hold nothing twice;
 * - the counts of each member reconcile and every verification segment of each member passes.
 * Today's main refuses such a mapping at load (a second table on one target table); before that refusal
 * the earlier member's cleanup DELETE removed the later member's rows.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `un${randomBytes(4).toString('hex')}_h13`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;

const member = (name: string, table: string, key: string, label: string, value: string) => ({
  name,
  title: `${label} 合并 union member`,
  category: 'entity',
  source: { table, key },
  target: { table: 'market_entity', union: { column: 'source_kind', value } },
  columns: [
    { target: 'entity_id', type: 'text', source: key, required: true },
    { target: 'name', type: 'text', source: 'mc', required: false },
    { target: 'regcap', type: 'numeric', source: 'zczb', required: false },
  ],
  derived: [{ target: 'source_kind', type: 'text', expr: `'${value}'` }],
});

function writeUnionMapping(mutate: (m: any) => void = () => undefined): string {
  const m: any = {
    codeTables: {},
    tables: [member('enterprise', 'djk_u.qy', 'qyid', '企业', 'QY'), member('individual_business', 'djk_u.gt', 'zch', '个体工商户', 'GT')],
  };
  mutate(m);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-union-'));
  const file = path.join(dir, 'mapping.json');
  fs.writeFileSync(file, JSON.stringify(m, null, 2));
  return file;
}

const QY = Array.from({ length: 300 }, (_, i) => String(i + 1));
// 51 keys both give (250…300), the rest its own
const GT = [...Array.from({ length: 151 }, (_, i) => String(250 + i)), ...Array.from({ length: 60 }, (_, i) => `GT${String(i).padStart(4, '0')}`)];
const COLLIDING = QY.filter((k) => GT.includes(k));

describe('a target table fed by a union of legacy tables, with key collisions', () => {
  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    await withClient(legacyUrl, async (c) => {
      await c.query('CREATE SCHEMA djk_u');
      await c.query('CREATE TABLE djk_u.qy (qyid bigint PRIMARY KEY, mc text, zczb numeric(18,2))');
      await c.query('CREATE TABLE djk_u.gt (zch varchar(20) PRIMARY KEY, mc text, zczb numeric(18,2))');
      await c.query(`INSERT INTO djk_u.qy SELECT k::bigint, '企业' || k, k::numeric * 10 FROM unnest($1::text[]) k`, [QY]);
      await c.query(`INSERT INTO djk_u.gt SELECT k, '个体' || k, NULL FROM unnest($1::text[]) k`, [GT]);
      await c.query('ANALYZE');
    });
  });
  afterAll(async () => {
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
  });

  it('loads each member, holds both rows of every colliding key, survives retries, and verifies', async () => {
    const mapping = loadMapping(writeUnionMapping());
    // the later member waits for the earlier one: it is the one that meets the earlier one's keys
    expect(loadSteps(mapping).find((s) => s.table === 'individual_business')!.after).toContain('enterprise');
    const qy = findTable(mapping, 'enterprise');
    const gt = findTable(mapping, 'individual_business');
    await withClient(targetUrl, (t) => ensureTargetSchema(t, mapping));
    const source = new PostgresSource(legacyUrl);
    try {
      const qyChunks = await source.planChunks(qy, 40);
      const gtChunks = await source.planChunks(gt, 40);
      expect(qyChunks.length).toBeGreaterThan(2);
      expect(gtChunks.length).toBeGreaterThan(2);
      await withClient(targetUrl, async (target) => {
        const copy = (table: typeof qy, chunk: (typeof qyChunks)[number], attempt: number) => copyChunk({ source, target, mapping, table, chunk, runId: 'u', readPoint: null, attempt });
        for (const c of qyChunks) await copy(qy, c, 1);
        for (const c of qyChunks.filter((_, i) => i % 2 === 0)) await copy(qy, c, 2);
        const gtResults = [];
        for (const c of gtChunks) gtResults.push(await copy(gt, c, 1));
        expect(gtResults.reduce((n, r) => n + (r.quarantinedByRule['key_collision:enterprise'] ?? 0), 0)).toBe(COLLIDING.length);
        // retries after the collisions: the later member's every chunk, and the earlier member's too
        for (const c of gtChunks) await copy(gt, c, 2);
        const qyAgain = [];
        for (const c of qyChunks) qyAgain.push(await copy(qy, c, 3));
        expect(qyAgain.reduce((n, r) => n + r.rowsLoaded, 0)).toBe(QY.length - COLLIDING.length);
        expect(qyAgain.reduce((n, r) => n + (r.quarantinedByRule['key_collision:individual_business'] ?? 0), 0)).toBe(COLLIDING.length);

        const loaded = (await target.query<{ k: string; d: string }>('SELECT entity_id AS k, source_kind AS d FROM market_entity')).rows;
        const held = (await target.query<{ k: string; t: string; rule: string }>('SELECT source_key AS k, table_name AS t, rule FROM migration_quarantine')).rows;
        const sorted = (a: string[]) => [...a].sort();
        expect(sorted(loaded.filter((r) => r.d === 'QY').map((r) => r.k))).toEqual(sorted(QY.filter((k) => !COLLIDING.includes(k))));
        expect(sorted(loaded.filter((r) => r.d === 'GT').map((r) => r.k))).toEqual(sorted(GT.filter((k) => !COLLIDING.includes(k))));
        // both rows of every colliding key held, each naming the other; nothing else held, nothing twice
        expect(sorted(held.filter((r) => r.t === 'enterprise').map((r) => `${r.k} ${r.rule}`))).toEqual(sorted(COLLIDING.map((k) => `${k} key_collision:individual_business`)));
        expect(sorted(held.filter((r) => r.t === 'individual_business').map((r) => `${r.k} ${r.rule}`))).toEqual(sorted(COLLIDING.map((k) => `${k} key_collision:enterprise`)));
        // the enterprise's row taken out of the target is kept as the target held it
        const raw = (await target.query(`SELECT raw_row FROM migration_quarantine WHERE table_name = 'enterprise' AND source_key = '260'`)).rows[0].raw_row;
        expect(raw).toMatchObject({ entity_id: '260', name: '企业260', source_kind: 'QY' });

        for (const table of [qy, gt]) {
          const counts = await countTable(source, null, target, table, mapping);
          expect({ table: table.name, problems: counts.problems }).toEqual({ table: table.name, problems: [] });
        }
      });
      const segments = await verifyContentInProcess({ source, targetUrl, mapping, segmentRows: 70, concurrency: 1 });
      expect(segments.filter((s) => !s.ok).map((s) => [s.table, s.differences])).toEqual([]);
      expect(segments.filter((s) => s.table === 'enterprise').reduce((n, s) => n + s.sourceRows + s.quarantinedRows, 0)).toBe(QY.length);
      expect(segments.filter((s) => s.table === 'individual_business').reduce((n, s) => n + s.sourceRows + s.quarantinedRows, 0)).toBe(GT.length);
    } finally {
      await source.close();
    }
  });

  it.each([
    ['a second table on the target without a discriminator', (m: any) => delete m.tables[1].target.union, 'tables[1] (individual_business).target.table: "market_entity" is already the target of table "enterprise"; a target table fed by several legacy tables (a union) needs "union"'],
    ['two members with one value', (m: any) => ((m.tables[1].target.union.value = 'QY'), (m.tables[1].derived[0].expr = "'QY'")), "tables[1] (individual_business).target.union.value: 'QY' is already tables[0] (enterprise)'s"],
    ['a discriminator that is no constant derived column', (m: any) => (m.tables[1].derived[0].expr = "'G' || name"), 'tables[1] (individual_business).target.union.column: "source_kind" must be a derived column of this table holding the constant \'GT\''],
    ['members of different shapes', (m: any) => (m.tables[1].columns[2].type = 'text'), "tables[1] (individual_business).target.table: the columns differ from tables[0] (enterprise)'s"],
  ])('refuses %s at load, naming the field', (_what, mutate, expected) => {
    const file = writeUnionMapping(mutate);
    expect(() => loadMapping(file)).toThrow(ConfigError);
    expect(() => loadMapping(file)).toThrow(expected);
  });
});
