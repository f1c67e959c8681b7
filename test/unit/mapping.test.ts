import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadMapping, MappingError } from '../../migration/mapping';
import { compileTransform } from '../../migration/transform';

const REAL = path.join(__dirname, '..', '..', 'config', 'mapping.json');

function writeMapping(mutate: (m: any) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-mapping-'));
  fs.cpSync(path.join(path.dirname(REAL), 'code-tables'), path.join(dir, 'code-tables'), { recursive: true });
  const m = JSON.parse(fs.readFileSync(REAL, 'utf8'));
  mutate(m);
  const file = path.join(dir, 'mapping.json');
  fs.writeFileSync(file, JSON.stringify(m));
  return file;
}

describe('mapping (字段关系对照表 / 基础代码对照表)', () => {
  it('loads the bundled mapping with its code tables', () => {
    const m = loadMapping(REAL);
    expect(m.tables.map((t) => t.name)).toEqual(['market_entity']);
    expect(m.codeTables.get('enttype')!.values.get('9999')).toBe('9500');
    expect(m.codeTables.get('division')!.values.get('440782')).toBe('440705');
  });

  it.each([
    ['an unknown code table', (m: any) => (m.tables[0].columns[4].codeTable = 'nope'), 'columns.enttype.codeTable: unknown code table "nope"'],
    ['a key that no column maps', (m: any) => (m.tables[0].source.key = 'ghost'), 'source.key: "ghost" is not mapped by any column'],
    ['an identifier that could inject SQL', (m: any) => (m.tables[0].target.table = 'x; drop table y'), 'tables.0.target.table: expected a lower-case SQL identifier'],
    ['an unsupported column type', (m: any) => (m.tables[0].columns[0].type = 'varchar2'), 'tables.0.columns.0.type'],
    ['a missing code table file', (m: any) => (m.codeTables.enttype.file = 'code-tables/missing.csv'), 'codeTables.enttype: ENOENT'],
  ])('refuses %s with a message naming the field', (_what, mutate, expected) => {
    const file = writeMapping(mutate);
    expect(() => loadMapping(file)).toThrow(MappingError);
    expect(() => loadMapping(file)).toThrow(expected);
  });

  it('converts codes and names the rule when a row must be quarantined', () => {
    const m = loadMapping(REAL);
    const t = compileTransform(m, m.tables[0]);
    const row = ['JM1', '91440700768414040K', null, '江门市某某经营部', '9999', '迁出', '', '2001-02-03', '', '440782', '440703'];
    expect(t(row)).toEqual({
      ok: true,
      values: ['JM1', '91440700768414040K', null, '江门市某某经营部', '9500', '6', null, '2001-02-03', null, '440705', '440703'],
    });
    expect(t(row.map((v, i) => (i === 4 ? 'X9' : v)))).toMatchObject({ ok: false, rule: 'unmapped_code:enttype' });
    expect(t(row.map((v, i) => (i === 3 ? '' : v)))).toMatchObject({ ok: false, rule: 'required:entname' });
    expect(t(row.slice(1))).toMatchObject({ ok: false, rule: 'malformed_row' });
  });
});
