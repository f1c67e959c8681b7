import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { buildReferenceApp } from '../../reference-app/app';
import { rollBack, runBusinessTests, takeBeforeImages } from '../../verification/business-tests';
import { prepareTargetSession } from '../../verification/canonical';
import type { RowDifference, SegmentResult } from '../../verification/content';
import { countTable } from '../../verification/counts';
import { decideVerdict, renderMarkdown, summariseContent, VerificationReport } from '../../verification/report';
import { verifyContentInProcess } from '../../verification/run-content';
import { sampleEntities } from '../../verification/sampling';

/**
 * Verification on real PostgreSQL, without Temporal: a correct migration (the engine's own chunk copy,
 * anomalies quarantined) verifies clean; then faults planted directly in the target are each caught
 * and pinpointed by table, key and field.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `vf${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;
const mappingFile = path.join(__dirname, '..', '..', 'config', 'mapping.json');
const mapping = loadMapping(mappingFile);

describe('verification (验证) on real PostgreSQL', () => {
  const source = new PostgresSource(legacyUrl);
  const content = () => verifyContentInProcess({ source, targetUrl, mapping, segmentRows: 700, concurrency: 2 });
  const diffs = (segments: SegmentResult[]): RowDifference[] => segments.flatMap((s) => s.differences);

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(targetUrl);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 1200, seed: 11, anomalyRate: 0.03 }));
    await withClient(targetUrl, async (target) => {
      await ensureTargetSchema(target, mapping);
      for (const table of mapping.tables) {
        for (const chunk of await source.planChunks(table, 1000)) {
          await copyChunk({ source, target, mapping, table, chunk, runId: 'r1', readPoint: null, attempt: 1 });
        }
      }
    });
  });
  afterAll(async () => {
    await source.close();
    await dropDatabase(legacyUrl);
    await dropDatabase(targetUrl);
  });

  it('verifies a correct migration clean: counts, every segment, the sample', async () => {
    const counts = await withClient(targetUrl, async (target) => {
      const out = [];
      for (const t of mapping.tables) out.push(await countTable(source, null, target, t));
      return out;
    });
    expect(counts.filter((c) => !c.ok)).toEqual([]);
    expect(counts.reduce((n, c) => n + c.quarantined, 0)).toBeGreaterThan(0);

    const segments = await content();
    expect(segments.filter((s) => !s.ok)).toEqual([]);
    // The source side on worker threads (VERIFY_SOURCE_THREADS) hashes exactly the same lines.
    const threaded = await verifyContentInProcess({ source, targetUrl, mapping, segmentRows: 700, concurrency: 2, threads: { size: 2, legacyUrl, mappingFile } });
    const hashes = (r: SegmentResult[]) => r.map((s) => `${s.table}/${s.segmentId}:${s.sourceSha256}:${s.targetSha256}:${s.ok}`).sort();
    expect(hashes(threaded)).toEqual(hashes(segments));
    const summary = summariseContent(segments);
    for (const c of counts) {
      const s = summary.find((x) => x.table === c.table)!;
      // Every source row accounted for: verified in the target or expected in quarantine.
      expect({ table: c.table, rows: s.sourceRows + s.quarantinedRows, target: s.targetRows }).toEqual({ table: c.table, rows: c.source, target: c.loaded });
    }

    const sample = await withClient(legacyUrl, (legacy) => withClient(targetUrl, (target) => sampleEntities({ legacy, target, mapping, perType: 2, seed: 'S1' })));
    expect(sample.ok).toBe(true);
    // Every mapped entity type is a stratum; the local 9999 and 9500 are one.
    expect(sample.strata.map((s) => s.enttype)).toEqual(['1100', '1130', '1150', '1220', '4531', '4540', '5100', '7200', '9100', '9500']);
    expect(sample.entities).toHaveLength(20);
    expect(sample.entities.some((e) => (e.rows.approval_process ?? 0) > 0 && (e.rows.entity_person ?? 0) > 0)).toBe(true);
    // Reproducible: the same seed draws the same entities, another seed others.
    const again = await withClient(legacyUrl, (legacy) => withClient(targetUrl, (target) => sampleEntities({ legacy, target, mapping, perType: 2, seed: 'S1' })));
    expect(again.entities.map((e) => e.pripid)).toEqual(sample.entities.map((e) => e.pripid));
    const other = await withClient(legacyUrl, (legacy) => withClient(targetUrl, (target) => sampleEntities({ legacy, target, mapping, perType: 2, seed: 'S2' })));
    expect(other.entities.map((e) => e.pripid)).not.toEqual(sample.entities.map((e) => e.pripid));
  });

  it('performs 变更 and 注销 through the reference business system, reads them back from the target, and rolls them back', async () => {
    const app: FastifyInstance = await buildReferenceApp({ targetUrl });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      await withClient(targetUrl, async (target) => {
        const { rows } = await target.query(`SELECT pripid FROM market_entity WHERE regstate = '1' ORDER BY pripid LIMIT 2`);
        const images = await takeBeforeImages(target, 'bt1', rows.map((r) => r.pripid));
        const cases = await runBusinessTests({ target, baseUrl: base, images, date: '2026-11-25' });
        expect(cases.map((c) => [c.operation, c.ok, c.persisted, c.httpStatus])).toEqual([
          ['change', true, true, 201], ['cancellation', true, true, 201], ['change', true, true, 201], ['cancellation', true, true, 201],
        ]);
        const state = await target.query(`SELECT regstate, dom FROM market_entity WHERE pripid = $1`, [images[0].pripid]);
        expect(state.rows[0]).toEqual({ regstate: '4', dom: expect.stringContaining('验证测试地址') });
        const bad = await fetch(`${base}/entities/${images[1].pripid}/changes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ changeId: 'x1', field: 'regcap', after: '1', date: '2026-11-25' }) });
        expect(bad.status).toBe(400);
        expect(await bad.json()).toMatchObject({ field: 'body.field' });
        // A cancelled entity refuses a further change: the check can fail.
        const refused = await runBusinessTests({ target, baseUrl: base, images: [{ ...images[0], changeId: 'other-change' }], date: '2026-11-25' });
        expect(refused[0]).toMatchObject({ ok: false, httpStatus: 409 });
        await rollBack(target, [...images, { ...images[0], changeId: 'other-change' }]);
      });
      const segments = await content();
      expect(segments.filter((s) => !s.ok)).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('catches and pinpoints each planted fault: missing, extra, changed field, wrong code, truncated text, time-zone shift', async () => {
    const planted = await withClient(targetUrl, async (t) => {
      const one = async (sql: string) => (await t.query(sql)).rows[0].k as string;
      const missing = await one(`DELETE FROM entity_person WHERE personid = (SELECT min(personid) FROM entity_person) RETURNING personid AS k`);
      await t.query(`INSERT INTO approval_material (matid, appid, matname, pages) SELECT 'M9999999999', appid, '伪造材料', 1 FROM approval_application ORDER BY appid LIMIT 1`);
      const changed = await one(`UPDATE market_entity SET dom = dom || '（改）' WHERE pripid = (SELECT pripid FROM market_entity ORDER BY pripid OFFSET 100 LIMIT 1) RETURNING pripid AS k`);
      const code = await one(`UPDATE market_entity SET enttype = '1100' WHERE pripid = (SELECT pripid FROM market_entity WHERE enttype = '9500' ORDER BY pripid OFFSET 3 LIMIT 1) RETURNING pripid AS k`);
      const truncated = await one(`UPDATE entity_change SET altaf = left(altaf, 2) WHERE altid = (SELECT max(altid) FROM entity_change) RETURNING altid AS k`);
      const shifted = await one(`UPDATE approval_process SET finished_at = finished_at - interval '8 hours' WHERE procid = (SELECT procid FROM approval_process ORDER BY procid OFFSET 500 LIMIT 1) RETURNING procid AS k`);
      return { missing, changed, code, truncated, shifted };
    });
    const segments = await content();
    const found = diffs(segments);
    const at = (table: string, key: string) => found.filter((d) => d.table === table && d.key === key);
    expect(at('entity_person', planted.missing)).toEqual([expect.objectContaining({ kind: 'missing_in_target' })]);
    expect(at('approval_material', 'M9999999999')).toEqual([expect.objectContaining({ kind: 'extra_in_target' })]);
    expect(at('market_entity', planted.changed)).toEqual([expect.objectContaining({ kind: 'changed', fields: [{ column: 'dom', source: expect.any(String), target: expect.stringMatching(/（改）$/) }] })]);
    expect(at('market_entity', planted.code)).toEqual([expect.objectContaining({ kind: 'changed', fields: [{ column: 'enttype', source: '9500', target: '1100' }] })]);
    const trunc = at('entity_change', planted.truncated)[0];
    expect(trunc.fields).toEqual([{ column: 'altaf', source: expect.any(String), target: expect.any(String) }]);
    expect(trunc.fields![0].source!.startsWith(trunc.fields![0].target!)).toBe(true);
    const shift = at('approval_process', planted.shifted)[0];
    expect(shift.fields).toHaveLength(1);
    expect(shift.fields![0].column).toBe('finished_at');
    expect(Date.parse(shift.fields![0].source!.replace(' ', 'T') + 'Z') - Date.parse(shift.fields![0].target!.replace(' ', 'T') + 'Z')).toBe(8 * 3600 * 1000);
    // Nothing else is reported: six faults, six differences.
    expect(found).toHaveLength(6);
    // The failing segments count the target's rows themselves: one fewer person, one more material.
    const failing = (table: string) => segments.filter((s) => s.table === table && !s.ok).map((s) => s.targetRows - s.sourceRows);
    expect([failing('entity_person'), failing('approval_material'), failing('market_entity')]).toEqual([[-1], [1], [0]]);

    const counts = await withClient(targetUrl, async (target) => {
      const out = [];
      for (const t of mapping.tables) out.push(await countTable(source, null, target, t));
      return out;
    });
    expect(counts.filter((c) => !c.ok).map((c) => c.table).sort()).toEqual(['approval_material', 'entity_person']);
    const report: VerificationReport = {
      runId: 'faults', verdict: 'passed', reasons: [], startedAt: '', finishedAt: '', legacy: '', target: '', canonicalForm: '',
      counts, content: summariseContent(segments), failedSegments: segments.filter((s) => !s.ok), rowsVerified: 0, contentMs: 0,
    };
    Object.assign(report, decideVerdict(report));
    expect(report.verdict).toBe('failed');
    const md = renderMarkdown(report);
    expect(md.split('\n')[2]).toContain('FAILED');
    for (const key of Object.values(planted)) expect(md).toContain(key);
    expect(md).toContain('`finished_at`');

    // The sample reads the same faults on its own path when it draws an affected entity (here: every entity).
    const sample = await withClient(legacyUrl, (legacy) =>
      withClient(targetUrl, async (target) => {
        await prepareTargetSession(target);
        return sampleEntities({ legacy, target, mapping, perType: 1000, seed: 'S1' });
      }),
    );
    const bad = sample.entities.filter((e) => !e.ok);
    expect(bad.map((e) => e.pripid)).toEqual(expect.arrayContaining([planted.changed, planted.code]));
    expect(bad.find((e) => e.pripid === planted.code)!.differences[0].fields).toEqual([{ column: 'enttype', source: '9500', target: '1100' }]);
  });
});
