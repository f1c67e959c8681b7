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
import { verifyContentInProcess } from '../../verification/run-content';
import { writeMapping } from '../support/mapping-file';

/**
 * 常量/派生列 and CHECK expressions end to end on real PostgreSQL: the target table gets the derived
 * columns and the CHECKs rendered from the parsed tree; the copy fills them per row; rows a CHECK
 * refuses are quarantined by the mapping (not by the target); the full-content verification, which
 * runs the same transform on the source side, finds the target equal.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `dc${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-derived-'));
const mappingFile = writeMapping((spec) => {
  const entitySpec = spec.tables[0];
  entitySpec.derived = [
    { target: 'entity_kind', type: 'text', expr: "CASE WHEN enttype = '9500' THEN '个体工商户' ELSE '企业' END", required: true },
    { target: 'source_system', type: 'text', expr: "'JM-LEGACY'" },
    { target: 'active', type: 'boolean', expr: "regstate IN ('1', '2')" },
  ];
  entitySpec.target.checks = ['regcap >= 0', "domdistrict IS NULL OR domdistrict >= '440700' AND domdistrict < '440800'", 'opto IS NULL OR estdate IS NULL OR opto >= estdate'];
}, { dir });
const mapping = loadMapping(mappingFile);
const table = findTable(mapping, 'market_entity');

describe('derived columns and CHECK expressions through the engine', () => {
  const source = new PostgresSource(legacyUrl);
  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 800, seed: 11, anomalyRate: 0.03 }));
    // a few rows for the new CHECK to refuse: ends before they start
    await withClient(legacyUrl, (c) => c.query(`UPDATE e_baseinfo SET opto = '1999-01-01', estdate = '2005-05-05' WHERE pripid IN (SELECT pripid FROM e_baseinfo ORDER BY md5(pripid) LIMIT 7)`));
    await withClient(targetUrl, (c) => ensureTargetSchema(c, mapping));
  });
  afterAll(async () => {
    await source.close();
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates, fills and verifies them; the mapping quarantines what a CHECK refuses', async () => {
    const constraints = await withClient(targetUrl, async (c) =>
      (await c.query<{ def: string }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'market_entity'::regclass AND contype = 'c' ORDER BY conname`)).rows.map((r) => r.def),
    );
    expect(constraints).toHaveLength(3);
    expect(constraints.join(' ')).toContain('COLLATE "C"');

    const results = await withClient(targetUrl, async (target) => {
      const out = [];
      for (const chunk of await source.planChunks(table, 300)) out.push(await copyChunk({ source, target, mapping, table, chunk, runId: 'r1', readPoint: null, attempt: 1 }));
      return out;
    });
    const read = results.reduce((n, r) => n + r.rowsRead, 0);
    const loaded = results.reduce((n, r) => n + r.rowsLoaded, 0);
    const byRule: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.quarantinedByRule)) byRule[k] = (byRule[k] ?? 0) + v;
    expect(read).toBe(800);
    expect(byRule['check:opto']).toBe(7);
    expect(results.every((r) => !r.carefulMode)).toBe(true); // the mapping caught them, not the target

    const target = await withClient(targetUrl, async (c) => (await c.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE entity_kind = '个体工商户')::int AS individual,
        count(*) FILTER (WHERE enttype = '9500')::int AS type_9500, count(*) FILTER (WHERE source_system = 'JM-LEGACY')::int AS tagged,
        count(*) FILTER (WHERE active = (regstate IN ('1', '2')))::int AS active_right FROM market_entity`)).rows[0]);
    expect(target).toEqual({ n: loaded, individual: target.type_9500, type_9500: target.type_9500, tagged: loaded, active_right: loaded });
    expect(target.individual).toBeGreaterThan(0);

    const segments = await verifyContentInProcess({ source, targetUrl, mapping, tables: ['market_entity'], segmentRows: 250, concurrency: 1 });
    expect(segments.flatMap((s) => s.differences)).toEqual([]);
    expect(segments.every((s) => s.ok)).toBe(true);
  });
});
