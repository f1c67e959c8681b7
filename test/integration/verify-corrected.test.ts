import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import type { SourceAdapter } from '../../migration/source';
import { prepareTargetSession } from '../../verification/canonical';
import { checkReloadedRows } from '../../verification/reloaded-rows';
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
    { target: 'w', type: 'text', source: 'w', required: false },
  ],
};
const mapping: Mapping = { tables: [table], codeTables: new Map() };

beforeAll(async () => {
  await ensureDatabase(legacyUrl);
  await ensureDatabase(targetUrl);
  await withClient(legacyUrl, async (l) => {
    await l.query('CREATE TABLE vc_legacy (k text PRIMARY KEY, v text, w text)');
    await l.query(`INSERT INTO vc_legacy VALUES ('a', 'x', 'p'), ('b', NULL, 'q'), ('c', 'z', 'r')`);
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
      await t.query(`INSERT INTO vc VALUES ('b', 'fixed', 'q')`);
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

it('a corrected row may differ in the columns its correction changed, and only there', async () => {
  const source = new PostgresSource(legacyUrl);
  try {
    // b's correction set v (recorded with the columns it may change, as the remediation loop now records it); c is back in the target.
    // The legacy b has since been given a v of its own: the source side delivers b, so its row is compared column by column.
    await withClient(legacyUrl, (l) => l.query(`UPDATE vc_legacy SET v = 'from the legacy' WHERE k = 'b'`));
    await withClient(targetUrl, async (t) => {
      await t.query(`ALTER TABLE migration_remediation ADD COLUMN columns text`);
      await t.query(`DELETE FROM migration_remediation WHERE source_key = 'c'`);
      await t.query(`INSERT INTO vc VALUES ('c', 'z', 'r')`);
      await t.query(`UPDATE migration_remediation SET columns = '["v"]' WHERE source_key = 'b'`);
    });
    const clean = await verifyContentInProcess({ source, targetUrl, mapping, segmentRows: 10, concurrency: 1 });
    expect(clean.map((s) => ({ ok: s.ok, corrected: s.corrected }))).toEqual([{ ok: true, corrected: 1 }]);

    // b's w changed too, which its correction never touched: a difference, named by column
    await withClient(targetUrl, (t) => t.query(`UPDATE vc SET w = 'tampered' WHERE k = 'b'`));
    const [changed] = await verifyContentInProcess({ source, targetUrl, mapping, segmentRows: 10, concurrency: 1 });
    expect(changed.ok).toBe(false);
    expect(changed.differences.map((d) => ({ kind: d.kind, key: d.key, columns: d.fields?.map((f) => f.column) }))).toEqual([{ kind: 'changed', key: 'b', columns: ['v', 'w'] }]);

    // recorded before the columns were kept (NULL): any column, as before
    await withClient(targetUrl, (t) => t.query(`UPDATE migration_remediation SET columns = NULL WHERE source_key = 'b'`));
    const [old] = await verifyContentInProcess({ source, targetUrl, mapping, segmentRows: 10, concurrency: 1 });
    expect(old.ok).toBe(true);
  } finally {
    await source.close();
  }
});

it('整改复核 the rows a remediation loaded are compared with the legacy row read again and its correction applied', async () => {
  const source = new PostgresSource(legacyUrl);
  try {
    // b's legacy v is NULL again (it breaks the rule); its correction sets v; the target holds b with it
    await withClient(legacyUrl, (l) => l.query(`UPDATE vc_legacy SET v = NULL WHERE k = 'b'`));
    await withClient(targetUrl, (t) => t.query(`UPDATE vc SET v = 'fixed', w = 'q' WHERE k = 'b'`));
    const fixes = (...rows: [string, Record<string, string | null>][]) => new Map(rows);
    const check = (rows: Map<string, Record<string, string | null>>, adapter: SourceAdapter = source) =>
      withClient(targetUrl, async (t) => {
        await prepareTargetSession(t);
        return checkReloadedRows({ source: adapter, target: t, mapping, table, rows });
      });
    // a follower (loaded as it was: a) and the corrected row (b): as the legacy gives them, b with its correction
    expect(await check(fixes(['a', {}], ['b', { v: 'fixed' }]))).toEqual({ table: 'vc', checked: 2, differences: [] });

    // b's w changed in the target; a gone from it; a correction that does not make b pass the rule
    await withClient(targetUrl, async (t) => {
      await t.query(`UPDATE vc SET w = 'tampered' WHERE k = 'b'`);
      await t.query(`DELETE FROM vc WHERE k = 'a'`);
    });
    const found = await check(fixes(['a', {}], ['b', { v: 'fixed' }]));
    expect(found.differences.map((d) => ({ kind: d.kind, key: d.key, columns: d.fields?.map((f) => f.column) }))).toEqual([
      { kind: 'missing_in_target', key: 'a', columns: undefined },
      { kind: 'changed', key: 'b', columns: ['w'] },
    ]);
    expect((await check(fixes(['b', {}]))).differences).toEqual([expect.objectContaining({ kind: 'unaccounted_source_row', key: 'b', note: expect.stringContaining('required:v') })]);

    // a source that cannot read rows by key: said, not guessed
    const withoutKeys: SourceAdapter = { kind: 'postgres', readPoint: () => source.readPoint(), countRows: (t) => source.countRows(t), planChunks: (t, n) => source.planChunks(t, n), readChunk: (t, c) => source.readChunk(t, c), close: async () => undefined };
    expect(await check(fixes(['b', { v: 'fixed' }]), withoutKeys)).toEqual({ table: 'vc', checked: 0, unchecked: 'the postgres source does not read rows by key', differences: [] });
  } finally {
    await source.close();
  }
});
