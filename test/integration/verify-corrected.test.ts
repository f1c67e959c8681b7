import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { verifyContentInProcess } from '../../verification/run-content';

/**
 * 整改 What verification forgives on a corrected key, on real PostgreSQL: the row an approved correction loaded
 * (its legacy row still breaks the rule) passes; a corrected row that has gone from the target does not — the
 * correction explains a different row, never a missing one.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `vc${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;

const table: TableMapping = {
  name: 'vc',
  title: 'corrected rows',
  category: 'entity',
  source: { table: 'vc_legacy', key: 'k' },
  target: { table: 'vc', checks: [] },
  columns: [
    { target: 'k', type: 'text', source: 'k', required: true },
    { target: 'v', type: 'text', source: 'v', required: true, onAnomaly: { policy: 'quarantine' } },
  ],
};
const mapping: Mapping = { tables: [table], codeTables: new Map() };

beforeAll(async () => {
  await ensureDatabase(legacyUrl);
  await ensureDatabase(targetUrl);
  await withClient(legacyUrl, async (l) => {
    await l.query('CREATE TABLE vc_legacy (k text PRIMARY KEY, v text)');
    await l.query(`INSERT INTO vc_legacy VALUES ('a', 'x'), ('b', NULL), ('c', 'z')`);
  });
  await withClient(targetUrl, (t) => ensureTargetSchema(t, mapping));
});
afterAll(async () => {
  await dropDatabase(legacyUrl);
  await dropDatabase(targetUrl);
});

it('a corrected row passes; a corrected row missing from the target is a difference', async () => {
  const source = new PostgresSource(legacyUrl);
  try {
    await withClient(targetUrl, async (t) => {
      await copyChunk({ source, target: t, mapping, table, chunk: { id: '1', keyFrom: null, keyTo: null }, runId: 'r', readPoint: null, attempt: 1 });
      expect((await t.query(`SELECT source_key, rule FROM migration_quarantine`)).rows).toEqual([{ source_key: 'b', rule: 'required:v' }]);
      // what the remediation loop does for an approved correction of b (v := 'fixed'): out of quarantine, loaded, logged
      await t.query(`CREATE TABLE migration_remediation (run_id text NOT NULL, table_name text NOT NULL, source_key text NOT NULL, chunk_id text, followed text, loaded_at timestamptz NOT NULL DEFAULT now())`);
      await t.query(`DELETE FROM migration_quarantine WHERE source_key = 'b'`);
      await t.query(`INSERT INTO vc VALUES ('b', 'fixed')`);
      await t.query(`INSERT INTO migration_remediation (run_id, table_name, source_key, chunk_id) VALUES ('r', 'vc', 'b', '1')`);
    });
    const clean = await verifyContentInProcess({ source, targetUrl, mapping, segmentRows: 10, concurrency: 1 });
    expect(clean.map((s) => ({ ok: s.ok, corrected: s.corrected }))).toEqual([{ ok: true, corrected: 1 }]);

    // c is logged as corrected too, but its row has gone from the target
    await withClient(targetUrl, async (t) => {
      await t.query(`INSERT INTO migration_remediation (run_id, table_name, source_key, chunk_id) VALUES ('r', 'vc', 'c', '1')`);
      await t.query(`DELETE FROM vc WHERE k = 'c'`);
    });
    const [lost] = await verifyContentInProcess({ source, targetUrl, mapping, segmentRows: 10, concurrency: 1 });
    expect(lost.ok).toBe(false);
    expect(lost.differences.map((d) => ({ kind: d.kind, key: d.key }))).toEqual([{ kind: 'missing_in_target', key: 'c' }]);
  } finally {
    await source.close();
  }
});
