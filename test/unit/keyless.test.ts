import fc from 'fast-check';
import { ConfigError } from '../../lib/config-file';
import { findTable, isKeyless, keyColumn, loadMapping, sourceKeyColumns } from '../../migration/mapping';
import { ctidChunks, ctidRangeSql } from '../../migration/pg-source';
import { targetTableDdl } from '../../migration/target-schema';
import { legacyExportSql } from '../../activities/backup';
import { checkCorrections } from '../../migration/corrections';
import type { Client } from 'pg';
import { writeMapping } from '../support/mapping-file';

/**
 * 无键表 Keyless tables: how the mapping declares one (source.keyless), where it is refused (a parent, a child, a
 * union member, an entity), and the chunks a PostgreSQL source plans for one — ranges of heap blocks that give
 * every row to exactly one chunk, rows in blocks added after planning included.
 */
describe('无键表 keyless tables in the mapping', () => {
  const keyless = (m: any) => {
    m.tables[1].source = { table: 'e_name_reservation', keyless: true };
  };

  it('loads a table declared keyless: no key column, no primary key on the target, exported in whole-row order', () => {
    const mapping = loadMapping(writeMapping(keyless));
    const table = findTable(mapping, 'name_reservation');
    expect(isKeyless(table)).toBe(true);
    expect(sourceKeyColumns(table.source)).toEqual([]);
    expect(() => keyColumn(table)).toThrow('无键表 keyless table name_reservation (e_name_reservation) has no key');
    expect(targetTableDdl(table)).not.toMatch(/PRIMARY KEY/);
    expect(targetTableDdl(findTable(mapping, 'market_entity'))).toMatch(/PRIMARY KEY/);
    expect(legacyExportSql('e_name_reservation', [])).toBe('COPY (SELECT x.* FROM "e_name_reservation" x ORDER BY x::text COLLATE "C") TO STDOUT');
  });

  it.each([
    ['keyless false', (m: any) => (m.tables[1].source = { table: 'e_name_reservation', keyless: false }), 'tables[1].source'],
    ['a key and keyless at once', (m: any) => (m.tables[1].source = { table: 'e_name_reservation', key: 'nameid', keyless: true }), 'tables[1].source'],
    ['neither a key nor keyless', (m: any) => (m.tables[1].source = { table: 'e_name_reservation' }), 'tables[1].source'],
    ['a keyless parent', (m: any) => (m.tables[0].source = { table: 'e_baseinfo', keyless: true }), 'tables[2] (enterprise_group).parent.table: "market_entity" is a 无键表 keyless table; a parent must have a key'],
    ['a keyless child', (m: any) => (m.tables[4].source = { table: 'e_alter', keyless: true }), 'tables[4] (entity_change).parent: a 无键表 keyless table cannot be a child table'],
    ['a keyless union member', (m: any) => {
      m.tables[1].source = { table: 'e_name_reservation', keyless: true };
      m.tables[1].target.union = { column: 'kind', value: 'A' };
    }, 'tables[1] (name_reservation).target.union: a 无键表 keyless table cannot be a union member'],
    ['a keyless entity', (m: any) => {
      m.tables[1].source = { table: 'e_name_reservation', keyless: true };
      m.entityDetail = { entities: [{ table: 'market_entity' }, { table: 'name_reservation' }] };
    }, 'entityDetail.entities[1].table: "name_reservation" is a 无键表 keyless table'],
  ])('refuses %s, naming the field', (_what, mutate, expected) => {
    const file = writeMapping(mutate);
    expect(() => loadMapping(file)).toThrow(ConfigError);
    expect(() => loadMapping(file)).toThrow(expected);
  });
});

describe('无键表 a keyless table in a correction sheet (整改单)', () => {
  it('is refused by the field that names it: its held rows have no key', async () => {
    const mapping = loadMapping(writeMapping((m: any) => (m.tables[1].source = { table: 'e_name_reservation', keyless: true })));
    // the refusal needs no target: a query would fail on this one
    const noTarget = { query: () => Promise.reject(new Error('no query expected')) } as unknown as Client;
    const { problems } = await checkCorrections(noTarget, mapping, { reason: '核对', corrections: [{ table: 'name_reservation', key: 'x', column: 'entname', value: '江门' }], codeMappings: [] });
    expect(problems).toEqual([expect.objectContaining({ field: 'corrections[0].table', rule: 'keyless_table', detail: expect.stringContaining('无键表 name_reservation is a keyless table') })]);
  });
});

describe('无键表 ctid block-range chunks (PostgreSQL source)', () => {
  /** a tid compared as PostgreSQL compares tids: block, then offset */
  const inChunk = (tid: [number, number], chunk: { keyFrom: string | null; keyTo: string | null }) =>
    (chunk.keyFrom === null || tid[0] >= Number(chunk.keyFrom)) && (chunk.keyTo === null || tid[0] < Number(chunk.keyTo));

  it('gives every row, in any block (those added after planning too), to exactly one chunk', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 80 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 700 }), fc.integer({ min: 1, max: 291 })), { maxLength: 300 }),
        (blocks, perChunk, tids) => {
          const chunks = ctidChunks(blocks, perChunk);
          expect(chunks[0].keyFrom).toBeNull();
          expect(chunks[chunks.length - 1].keyTo).toBeNull();
          expect(chunks.every((c) => c.rowid === true)).toBe(true);
          expect(new Set(chunks.map((c) => c.id)).size).toBe(chunks.length);
          // about blocks / perChunk chunks, none empty of planned blocks but the only one of an empty table
          expect(chunks.length).toBe(Math.max(1, Math.ceil(blocks / perChunk)));
          for (const tid of tids) expect(chunks.filter((c) => inChunk(tid, c)).length).toBe(1);
          // adjacent chunks meet: one's upper bound is the next one's lower bound
          for (let i = 1; i < chunks.length; i++) expect(chunks[i].keyFrom).toBe(chunks[i - 1].keyTo);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('renders a TID range, refusing a bound that is no block number', () => {
    expect(ctidRangeSql({ keyFrom: null, keyTo: '8' })).toBe("ctid < '(8,0)'::tid");
    expect(ctidRangeSql({ keyFrom: '8', keyTo: '16' })).toBe("ctid >= '(8,0)'::tid AND ctid < '(16,0)'::tid");
    expect(ctidRangeSql({ keyFrom: '16', keyTo: null })).toBe("ctid >= '(16,0)'::tid");
    expect(ctidRangeSql({ keyFrom: null, keyTo: null })).toBe('TRUE');
    expect(() => ctidRangeSql({ keyFrom: "1'); DROP TABLE x; --", keyTo: null })).toThrow('not a block number');
  });
});
