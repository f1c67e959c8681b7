import { ConfigError } from '../../lib/config-file';
import { quoteQualified } from '../../lib/db';
import { loadSettings } from '../../lib/settings';
import { legacyMappingSchema } from '../../migration/legacy-source';
import { loadMapping } from '../../migration/mapping';
import { chunkCopySql, keysCopySql } from '../../migration/pg-source';
import { writeMapping } from '../support/mapping-file';

/**
 * Legacy tables in any schema (issue 13): a mapping may name schema.table (it was refused as "expected a
 * lower-case SQL identifier"), LEGACY_SCHEMA qualifies the bare names of a PostgreSQL legacy database (an
 * Oracle source takes it as ORACLE_SCHEMA's default instead), and a key must have a declared order.
 */
describe('legacy schemas', () => {
  it('takes a schema-qualified legacy table and reads it qualified and quoted', () => {
    const m = loadMapping(writeMapping((x) => (x.tables[0].source.table = 'registry.e_baseinfo')));
    expect(m.tables[0].source.table).toBe('registry.e_baseinfo');
    expect(chunkCopySql(m.tables[0], { id: '1', keyFrom: null, keyTo: 'P1' })).toContain(`FROM "registry"."e_baseinfo" WHERE ("pripid") <= 'P1'`);
    expect(quoteQualified('registry.e_baseinfo')).toBe('"registry"."e_baseinfo"');
    // an orphan's legacy row read back by its key: qualified, each key a quoted literal (a quote in a key doubled)
    expect(keysCopySql(m.tables[0], ['P1', "P'2"])).toMatch(/^COPY \(SELECT "pripid", .* FROM "registry"."e_baseinfo" WHERE "pripid" IN \('P1', 'P''2'\) ORDER BY "pripid"\) TO STDOUT$/);
  });

  it('qualifies bare names with LEGACY_SCHEMA, keeps a name that has its own schema, and leaves Oracle to ORACLE_SCHEMA', () => {
    const file = writeMapping((x) => (x.tables[1].source.table = 'archive.e_name_reservation'));
    const m = loadMapping(file, { legacySchema: legacyMappingSchema('postgres://h/db', 'registry') });
    expect(m.tables.slice(0, 3).map((t) => t.source.table)).toEqual(['registry.e_baseinfo', 'archive.e_name_reservation', 'registry.e_group']);
    expect(loadMapping(file, { legacySchema: legacyMappingSchema('oracle://u@h/pdb', 'REGISTRY') }).tables[0].source.table).toBe('e_baseinfo');
    expect(loadMapping(file).tables[0].source.table).toBe('e_baseinfo');
  });

  it('LEGACY_SCHEMA is a setting, checked at start', () => {
    expect(loadSettings({ LEGACY_SCHEMA: 'registry' }, { signing: false }).LEGACY_SCHEMA).toBe('registry');
    expect(loadSettings({}, { signing: false }).LEGACY_SCHEMA).toBe('');
    expect(() => loadSettings({ LEGACY_SCHEMA: 'Registry; drop' }, { signing: false })).toThrow(/LEGACY_SCHEMA: expected a lower-case SQL identifier/);
  });

  it.each([
    ['a qualified name with three parts', (m: any) => (m.tables[0].source.table = 'a.b.c'), 'tables[0].source.table: expected a lower-case SQL identifier, or schema.table'],
    ['a key without a declared order', (m: any) => (m.tables[0].columns[0].type = 'date'), 'key column "pripid" has type date; a key must be one of text, integer, bigint, numeric'],
  ])('refuses %s', (_what, mutate, message) => {
    const file = writeMapping(mutate);
    expect(() => loadMapping(file)).toThrow(ConfigError);
    expect(() => loadMapping(file)).toThrow(message);
  });
});
