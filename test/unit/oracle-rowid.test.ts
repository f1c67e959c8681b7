import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { rowidChunks } from '../../migration/oracle/chunk-plan';
import { OracleSource } from '../../migration/oracle/oracle-source';
import type { OracleBinds } from '../../migration/oracle/driver';
import { ensureTargetSchema } from '../../migration/target-schema';
import { legacyTable, ScriptedOracle, scriptedResultSet } from './oracle-scripted';

/**
 * 按ROWID切分 ORACLE_CHUNKING=rowid against a real PostgreSQL target: the plan is built from extents, and a
 * chunk retried after an earlier attempt committed (the activity's completion was lost) replaces exactly
 * its own rows — by the keys it reads again — although its keys are scattered over the whole key range
 * (a key-range cleanup of a ROWID chunk would delete other chunks' rows). The scripted Oracle holds rows at
 * ROWIDs (data object, file, block, slot) and evaluates ROWID ranges as Oracle orders ROWIDs; the
 * extents it lists do not cover every row (an extent added after the plan), which the open ranges must.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function b64(n: number, width: number): string {
  let s = '';
  for (let i = 0; i < width; i++) {
    s = ALPHABET[n % 64] + s;
    n = Math.floor(n / 64);
  }
  return s;
}
/** an extended ROWID's text: OOOOOOFFFBBBBBBRRR */
function rowid(obj: number, file: number, block: number, slot: number): string {
  return b64(obj, 6) + b64(file, 3) + b64(block, 6) + b64(slot, 3);
}
function decode(r: string): number[] {
  const n = (s: string) => [...s].reduce((a, c) => a * 64 + ALPHABET.indexOf(c), 0);
  return [n(r.slice(0, 6)), n(r.slice(6, 9)), n(r.slice(9, 15)), n(r.slice(15))];
}
function cmpRowid(a: string, b: string): number {
  const [x, y] = [decode(a), decode(b)];
  for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

interface LegacyRow {
  rid: string;
  id: string;
  name: string;
}

function scriptedServer(rows: LegacyRow[], extents: { obj: number; file: number; block: number; blocks: number }[], stats: [number, number] | [null, null]): ScriptedOracle {
  return new ScriptedOracle([
    { match: /FROM all_tab_columns/, rows: [['ID', 'NUMBER', 'N', 20, 0], ['NAME', 'VARCHAR2', 'Y', null, null]] },
    { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
    {
      match: /FROM dba_extents e JOIN dba_objects o/,
      rows: (b: OracleBinds) => {
        expect(b).toEqual({ owner_name: 'JMLEGACY', table_name: 'T_APPROVAL' });
        return extents.map((e) => [rowid(e.obj, e.file, e.block + e.blocks - 1, 32767), e.blocks]).sort((x, y) => cmpRowid(x[0] as string, y[0] as string));
      },
    },
    { match: /FROM all_tables WHERE/, rows: [stats] },
    {
      match: /^SELECT "ID", "NAME" FROM "JMLEGACY"."T_APPROVAL" AS OF SCN :read_scn/,
      resultSet: (b: OracleBinds, sql: string) => {
        expect(sql).toMatch(/ORDER BY ROWID$/);
        const lo = b.key_lo === undefined ? null : String(b.key_lo);
        const hi = b.key_hi === undefined ? null : String(b.key_hi);
        const picked = rows.filter((r) => (lo === null || cmpRowid(r.rid, lo) > 0) && (hi === null || cmpRowid(r.rid, hi) <= 0)).sort((x, y) => cmpRowid(x.rid, y.rid));
        return scriptedResultSet(picked.map((r) => [r.id, r.name]));
      },
    },
  ]);
}

function approvals(keyType: 'bigint' | 'text'): TableMapping {
  return legacyTable(
    [
      { target: 'id', type: keyType, source: 'id', required: true },
      { target: 'name', type: 'text', source: 'name', required: false },
    ],
    { name: 'approval', category: 'approval', source: { table: 't_approval', key: 'id' }, target: { table: `rw_approval_${keyType}`, checks: [] } },
  );
}

const targetUrl = `postgres://postgres@127.0.0.1:5432/rw${randomBytes(4).toString('hex')}_target`;
let target: Client;
const ENTITY = legacyTable([{ target: 'pripid', type: 'text', source: 'pripid', required: true }], { target: { table: 'rw_entity', checks: [] } });
const CHILD = legacyTable(
  [
    { target: 'id', type: 'bigint', source: 'id', required: true },
    { target: 'pripid', type: 'text', source: 'pripid', required: true },
  ],
  { name: 'child', category: 'approval', source: { table: 't_child', key: 'id' }, target: { table: 'rw_child', checks: [] }, parent: { column: 'pripid', table: 'market_entity' } },
);
/** 无键表 the same legacy table mapped without a key: read by ROWID ranges whatever ORACLE_CHUNKING says, loaded once per chunk */
const KEYLESS = legacyTable(
  [
    { target: 'id', type: 'bigint', source: 'id', required: true },
    { target: 'name', type: 'text', source: 'name', required: false },
  ],
  { name: 'approval_log', category: 'approval', source: { table: 't_approval', key: '', keyless: true }, target: { table: 'rw_approval_log', checks: [] } },
);
const mapping: Mapping = { tables: [ENTITY, approvals('bigint'), approvals('text'), CHILD, KEYLESS], codeTables: new Map() };
beforeAll(async () => {
  await ensureDatabase(targetUrl);
  target = new Client({ connectionString: targetUrl });
  await target.connect();
  await ensureTargetSchema(target, mapping);
});
afterAll(async () => {
  await target.end();
  await dropDatabase(targetUrl);
});

/** A legacy table whose rows sit in blocks of some extents (and a few in blocks no listed extent holds). */
const legacyTableArb = fc
  .record({
    extents: fc.array(fc.record({ gap: fc.nat({ max: 20 }), blocks: fc.integer({ min: 1, max: 8 }), obj: fc.constantFrom(70001, 70002) }), { minLength: 1, maxLength: 6 }),
    rows: fc.uniqueArray(fc.record({ id: fc.bigInt({ min: 1n, max: 10n ** 12n }), extent: fc.nat(), offset: fc.nat(), slot: fc.nat({ max: 40 }), stray: fc.boolean() }), { minLength: 1, maxLength: 60, selector: (r) => r.id }),
  })
  .map(({ extents, rows }) => {
    let block = 128;
    const ext = extents.map((e) => {
      block += e.gap;
      const x = { obj: e.obj, file: 4, block, blocks: e.blocks };
      block += e.blocks;
      return x;
    });
    const legacy: LegacyRow[] = rows.map((r, i) => {
      const e = ext[r.extent % ext.length];
      // a stray row: in a block past every listed extent (added after the plan), or in another file
      const rid = r.stray && i % 3 === 0 ? rowid(e.obj, i % 2 ? 4 : 7, block + 50 + (r.offset % 9), r.slot) : rowid(e.obj, e.file, e.block + (r.offset % e.blocks), r.slot);
      return { rid, id: r.id.toString(), name: `row ${r.id}` };
    });
    return { extents: ext, rows: legacy };
  });

describe('ORACLE_CHUNKING=rowid 按ROWID切分', () => {
  it('rowidChunks: whole extents grouped to the chunk size, consecutive ranges open at both ends', () => {
    const e = (n: number) => [rowid(70001, 4, 128 + n * 8 - 1, 32767), 8];
    expect(rowidChunks('t', [e(1), e(2), e(3), e(4), e(5)], 16).map((c) => [c.keyFrom, c.keyTo, c.rowid])).toEqual([
      [null, rowid(70001, 4, 143, 32767), true],
      [rowid(70001, 4, 143, 32767), rowid(70001, 4, 159, 32767), true],
      [rowid(70001, 4, 159, 32767), null, true],
    ]);
    expect(rowidChunks('t', [], 16)).toEqual([{ id: 't:r000000', keyFrom: null, keyTo: null, rowid: true }]);
    expect(() => rowidChunks('t', [['not a rowid', 8]], 16)).toThrow(/not an extended ROWID/);
  });

  it('property: every row is loaded once, and a chunk retried after it committed replaces exactly its own rows (keys scattered across chunks)', async () => {
    await fc.assert(
      fc.asyncProperty(legacyTableArb, fc.integer({ min: 1, max: 30 }), fc.constantFrom<'bigint' | 'text'>('bigint', 'text'), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), async (legacy, rowsPerChunk, keyType, retries, noStats) => {
        const table = mapping.tables.find((t) => t.target.table === `rw_approval_${keyType}`)!;
        await target.query(`TRUNCATE ${table.target.table}, migration_chunk, migration_quarantine`);
        const db = scriptedServer(legacy.rows, legacy.extents, noStats ? [null, null] : [legacy.rows.length, legacy.extents.reduce((a, e) => a + e.blocks, 0)]);
        const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM', schema: 'jmlegacy', chunking: 'rowid' }, db.driver());
        const chunks = await source.planChunks(table, rowsPerChunk, '8124650001');
        expect(chunks.every((c) => c.rowid)).toBe(true);
        const copy = (i: number, attempt: number) => copyChunk({ source, target, mapping, table, chunk: chunks[i], runId: 'rw', readPoint: '8124650001', attempt });
        const first = [];
        for (let i = 0; i < chunks.length; i++) first.push(await copy(i, 1));
        for (const r of retries) await copy(r % chunks.length, 2);
        const { rows } = await target.query<{ id: string }>(`SELECT id::text FROM ${table.target.table}`);
        const loaded = rows.map((r) => r.id).sort();
        expect(loaded).toEqual(legacy.rows.map((r) => r.id).sort());
        const ledger = await target.query<{ n: string }>('SELECT sum(rows_loaded)::text AS n FROM migration_chunk WHERE table_name = $1', [table.name]);
        expect(Number(ledger.rows[0].n)).toBe(legacy.rows.length);
        expect(first.reduce((a, r) => a + r.rowsRead, 0)).toBe(legacy.rows.length);
        await source.close();
      }),
      { numRuns: 40 },
    );
  });

  it('无键表 property: a keyless table is planned by ROWID under key chunking too, every row (repeats included) loaded once however often a chunk is retried', async () => {
    await fc.assert(
      fc.asyncProperty(legacyTableArb, fc.integer({ min: 1, max: 30 }), fc.array(fc.nat(), { maxLength: 6 }), async (legacy, rowsPerChunk, retries) => {
        await target.query('TRUNCATE rw_approval_log, migration_chunk, migration_quarantine');
        // exact repeats: every third row written again in the next slot of its block
        const rows = legacy.rows.flatMap((r, i) => (i % 3 ? [r] : [r, { ...r, rid: r.rid.slice(0, 15) + b64(decode(r.rid)[3] + 100, 3) }]));
        const db = scriptedServer(rows, legacy.extents, [rows.length, legacy.extents.reduce((a, e) => a + e.blocks, 0)]);
        const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM', schema: 'jmlegacy' }, db.driver());
        const chunks = await source.planChunks(KEYLESS, rowsPerChunk, '8124650001');
        expect(chunks.every((c) => c.rowid)).toBe(true);
        expect(chunks[chunks.length - 1].keyTo).toBeNull();
        const copy = (i: number, attempt: number) => copyChunk({ source, target, mapping, table: KEYLESS, chunk: chunks[i], runId: 'rw', readPoint: '8124650001', attempt });
        for (let i = 0; i < chunks.length; i++) await copy(i, 1);
        for (const r of retries) await copy(r % chunks.length, 2);
        const loaded = (await target.query<{ id: string }>('SELECT id::text FROM rw_approval_log')).rows.map((r) => r.id).sort();
        expect(loaded).toEqual(rows.map((r) => r.id).sort());
        // verification reads it whole: one ROWID range
        expect(await source.planChunks(KEYLESS, rowsPerChunk, '8124650001', { byKey: true })).toEqual([{ id: 'approval_log:r000000', keyFrom: null, keyTo: null, rowid: true }]);
        await source.close();
      }),
      { numRuns: 30 },
    );
  });

  it('verification and the export still plan key ranges (byKey), whatever ORACLE_CHUNKING says', async () => {
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: [['ID', 'NUMBER', 'N', 20, 0], ['NAME', 'VARCHAR2', 'Y', null, null]] },
      { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
      { match: /ROW_NUMBER\(\) OVER \(ORDER BY "ID"\)/, rows: [['10'], ['20']] },
    ]);
    const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM', schema: 'jmlegacy', chunking: 'rowid' }, db.driver());
    const segments = await source.planChunks(approvals('bigint'), 10, null, { byKey: true });
    expect(segments.map((s) => [s.keyFrom, s.keyTo, s.rowid])).toEqual([
      [null, '10', undefined],
      ['10', '20', undefined],
      ['20', null, undefined],
    ]);
    expect(db.executed.some((e) => /dba_extents/.test(e.sql))).toBe(false);
    await source.close();
  });

  it('a ROWID chunk’s orphans are found by its own keys: a child whose parent is not in the target is quarantined with the legacy row, the others stay', async () => {
    await target.query('TRUNCATE rw_entity, rw_child, migration_chunk, migration_quarantine');
    await target.query("INSERT INTO rw_entity (pripid) VALUES ('P1'), ('P3')");
    const rows = [
      [rowid(70003, 4, 200, 0), '900', 'P1'],
      [rowid(70003, 4, 200, 1), '5', 'P2'],
      [rowid(70003, 4, 201, 0), '77', 'P3'],
    ] as const;
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: [['ID', 'NUMBER', 'N', 20, 0], ['PRIPID', 'VARCHAR2', 'N', null, null]] },
      { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
      { match: /FROM dba_extents e JOIN dba_objects o/, rows: [[rowid(70003, 4, 207, 32767), 8]] },
      { match: /FROM all_tables WHERE/, rows: [[3, 8]] },
      { match: /^SELECT "ID", "PRIPID" FROM "T_CHILD" AS OF SCN :read_scn/, resultSet: (b: OracleBinds) => scriptedResultSet(rows.filter((r) => b.key_hi === undefined || cmpRowid(r[0], String(b.key_hi)) <= 0).filter((r) => b.key_lo === undefined || cmpRowid(r[0], String(b.key_lo)) > 0).map((r) => [r[1], r[2]])) },
    ]);
    const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM', chunking: 'rowid' }, db.driver());
    const chunks = await source.planChunks(CHILD, 1000, '7');
    for (const attempt of [1, 2]) for (const chunk of chunks) await copyChunk({ source, target, mapping, table: CHILD, chunk, runId: 'rw', readPoint: '7', attempt });
    expect((await target.query('SELECT id::text FROM rw_child ORDER BY id')).rows.map((r) => r.id)).toEqual(['77', '900']);
    const q = await target.query('SELECT source_key, rule, raw_row FROM migration_quarantine WHERE table_name = $1', ['child']);
    expect(q.rows).toEqual([{ source_key: '5', rule: 'orphan:market_entity', raw_row: { id: '5', pripid: 'P2' } }]);
    await source.close();
  });
});
