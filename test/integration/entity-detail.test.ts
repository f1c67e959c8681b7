import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import { findTable, loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { prepareTargetSession } from '../../verification/canonical';
import { sampleEntities } from '../../verification/sampling';
import { writeMapping as writeMappingIn } from '../support/mapping-file';

/**
 * 主体详情 declared in the mapping: a registry that keeps individual businesses (个体工商户) in a table of
 * their own, with their own change records, is sampled per entity table and per type, each entity's
 * detail being the tables the mapping names — not market_entity.enttype and entity_change hard-coded.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `ed${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-detail-'));

/** The bundled mapping with individual businesses in a table of their own, and their change records. */
const writeMapping = (name: string, mutate: (m: any) => void) => writeMappingIn((m) => withIndividuals(m, mutate), { dir, name });

function withIndividuals(m: any, mutate: (m: any) => void): void {
  const individual = {
    name: 'individual_business', title: '个体工商户 individual businesses', category: 'entity',
    source: { table: 'e_individual', key: 'indid' }, target: { table: 'individual_business' },
    columns: [
      { target: 'indid', type: 'text', source: 'indid', required: true },
      { target: 'traname', type: 'text', source: 'traname', clean: 'name', required: true },
      { target: 'regstate', type: 'text', source: 'regstate', codeTable: 'regstate', required: true },
    ],
    derived: [{ target: 'enttype', type: 'text', expr: "'9500'" }],
  };
  const changes = {
    name: 'individual_change', title: '个体变更 individual business changes', category: 'history',
    source: { table: 'e_ind_alter', key: 'altid' }, target: { table: 'individual_change' },
    parent: { column: 'indid', table: 'individual_business' },
    columns: [
      { target: 'altid', type: 'text', source: 'altid', required: true },
      { target: 'indid', type: 'text', source: 'indid', required: true },
      { target: 'altitem', type: 'text', source: 'altitem' },
    ],
  };
  m.tables.splice(4, 0, individual);
  m.tables.splice(6, 0, changes);
  m.entityDetail = {
    entities: [
      { table: 'market_entity', typeColumn: 'enttype', types: ['1100', '9500'], detail: ['entity_person'] },
      { table: 'individual_business', typeColumn: 'regstate' },
    ],
  };
  mutate(m);
}

describe('entity detail declared in the mapping (主体详情)', () => {
  const mapping = loadMapping(writeMapping('mapping.json', () => undefined));
  const source = new PostgresSource(legacyUrl);

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    await withClient(legacyUrl, async (c) => {
      await loadLegacyDataset(c, { entities: 300, seed: 5, anomalyRate: 0.02 });
      await c.query('CREATE TABLE e_individual (indid varchar(20) PRIMARY KEY, traname varchar(200), regstate varchar(10))');
      await c.query('CREATE TABLE e_ind_alter (altid varchar(24) PRIMARY KEY, indid varchar(20), altitem varchar(10))');
      await c.query(`INSERT INTO e_individual SELECT 'GT' || lpad(g::text, 5, '0'), '江门市个体户' || g || '(分店)', (ARRAY['1', '1001', '4', '迁出'])[1 + g % 4] FROM generate_series(1, 40) g`);
      await c.query(`INSERT INTO e_ind_alter SELECT 'GA' || lpad(g::text, 6, '0'), 'GT' || lpad((1 + g % 40)::text, 5, '0'), (ARRAY['住所', '经营者'])[1 + g % 2] FROM generate_series(1, 120) g`);
    });
    await withClient(targetUrl, async (target) => {
      await ensureTargetSchema(target, mapping);
      for (const name of ['market_entity', 'entity_person', 'individual_business', 'individual_change']) {
        const table = findTable(mapping, name);
        for (const chunk of await source.planChunks(table, 10_000)) await copyChunk({ source, target, mapping, table, chunk, runId: 'r1', readPoint: null, attempt: 1 });
      }
    });
  });
  afterAll(async () => {
    await source.close();
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const sample = () =>
    withClient(legacyUrl, (legacy) =>
      withClient(targetUrl, async (target) => {
        await prepareTargetSession(target);
        return sampleEntities({ legacy, target, mapping, perType: 2, seed: 'S1' });
      }),
    );

  it('samples each declared entity table by its own strata, comparing the declared detail only', async () => {
    const result = await sample();
    expect(result.ok).toBe(true);
    expect(result.strata.map((s) => [s.table, s.enttype, s.population, s.sampled])).toEqual([
      ['market_entity', '1100', expect.any(Number), 2],
      ['market_entity', '9500', expect.any(Number), 2],
      // 1 and its old local code 1001 are one stratum; 迁出 is 6
      ['individual_business', '1', 20, 2],
      ['individual_business', '4', 10, 2],
      ['individual_business', '6', 10, 2],
    ]);
    const individuals = result.entities.filter((e) => e.table === 'individual_business');
    expect(individuals).toHaveLength(6);
    for (const e of individuals) expect(e.rows).toEqual({ individual_business: 1, individual_change: 3 });
    // market_entity's detail is what was declared: the entity and its persons, not its changes or applications
    expect(new Set(result.entities.filter((x) => x.table === 'market_entity').flatMap((e) => Object.keys(e.rows)))).toEqual(new Set(['market_entity', 'entity_person']));
  });

  it('finds a change record that differs in an individual business detail', async () => {
    const before = await sample();
    const victim = before.entities.find((e) => e.table === 'individual_business')!;
    await withClient(targetUrl, (c) => c.query(`UPDATE individual_change SET altitem = '篡改' WHERE altid = (SELECT min(altid) FROM individual_change WHERE indid = $1)`, [victim.pripid]));
    const after = await sample();
    expect(after.ok).toBe(false);
    const bad = after.entities.filter((e) => !e.ok);
    expect(bad.map((e) => [e.table, e.pripid])).toEqual([['individual_business', victim.pripid]]);
    expect(bad[0].differences).toEqual([expect.objectContaining({ table: 'individual_change', kind: 'changed', fields: [{ column: 'altitem', source: expect.any(String), target: '篡改' }] })]);
  });

  it('refuses a declared detail that does not fit the mapping, with the JSON path', () => {
    const bad = writeMapping('bad.json', (m) => {
      m.entityDetail.entities[0].typeColumn = 'entype';
      m.entityDetail.entities[1].detail = ['approval_material'];
      m.entityDetail.entities.push({ table: 'individual_busines' });
    });
    expect(() => loadMapping(bad)).toThrow('entityDetail.entities[0].typeColumn: "entype" is not a mapped target column of market_entity');
    expect(() => loadMapping(bad)).toThrow('entityDetail.entities[1].detail[0]: "approval_material" is not linked to individual_business through parents');
    expect(() => loadMapping(bad)).toThrow('entityDetail.entities[2].table: unknown table "individual_busines"');
  });
});
