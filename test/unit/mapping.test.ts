import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../lib/config-file';
import { loadMapping } from '../../migration/mapping';
import { decodeLine, encodeLine, Field } from '../../migration/copy-text';
import { compileTransform, transformText } from '../../migration/transform';
import { BUNDLED_MAPPING, writeMapping } from '../support/mapping-file';

const REAL = BUNDLED_MAPPING;

describe('mapping (字段关系对照表 / 基础代码对照表)', () => {
  it('loads the bundled mapping with its code tables', () => {
    const m = loadMapping(REAL);
    expect(m.tables.map((t) => t.name)).toEqual([
      'market_entity', 'name_reservation', 'enterprise_group', 'entity_person', 'entity_change',
      'approval_application', 'approval_material', 'approval_process',
    ]);
    expect(m.codeTables.get('enttype')!.values.get('9999')).toBe('9500');
    expect(m.codeTables.get('division')!.values.get('440782')).toBe('440705');
  });

  it.each([
    ['an unknown code table', (m: any) => (m.tables[0].columns[5].codeTable = 'nope'), 'columns.enttype.codeTable: unknown code table "nope"'],
    ['a child listed before its parent', (m: any) => m.tables.unshift(m.tables.splice(3, 1)[0]), 'parent.table: "market_entity" must be listed before its child'],
    ['history data ordered before entity data', (m: any) => m.tables.unshift(m.tables.splice(4, 1)[0]), 'tables must come before "history" tables'],
    ['a CHECK that would carry SQL', (m: any) => (m.tables[0].target.checks = ['1=1); DROP TABLE x; --']), 'tables[0].target.checks[0]: not a valid CHECK: unexpected ";" at 5'],
    ['a CHECK that is no condition', (m: any) => (m.tables[0].target.checks = ["coalesce(dom, '')"]), 'tables[0].target.checks[0]: a CHECK must be a condition'],
    ['a CHECK on a column the table lacks', (m: any) => (m.tables[0].target.checks = ['opto >= estdaet']), 'tables[0] (market_entity).target.checks[0]: "opto >= estdaet" names "estdaet", which is no target column'],
    ['a derived column reading no mapped column', (m: any) => (m.tables[0].derived = [{ target: 'kind', type: 'text', expr: "'x' || enttyp" }]), 'tables[0] (market_entity).derived[0].expr: "enttyp" is not a mapped target column'],
    ['a derived column named like a mapped one', (m: any) => (m.tables[0].derived = [{ target: 'enttype', type: 'text', expr: "'9500'" }]), 'tables[0] (market_entity).derived[0].target: "enttype" is already a target column'],
    ['a derived expression that does not parse', (m: any) => (m.tables[0].derived = [{ target: 'kind', type: 'text', expr: "upper(" }]), 'tables[0].derived[0].expr: not a valid expression: expected a value at the end'],
    ['a key that no column maps', (m: any) => (m.tables[0].source.key = 'ghost'), 'source.key: "ghost" is not mapped by any column'],
    ['two tables feeding one target table without a discriminator', (m: any) => (m.tables[1].target.table = 'market_entity'), 'tables[1] (name_reservation).target.table: "market_entity" is already the target of table "market_entity"; a target table fed by several legacy tables (a union) needs "union": { "column", "value" } on each'],
    ['an identifier that could inject SQL', (m: any) => (m.tables[0].target.table = 'x; drop table y'), 'tables[0].target.table: expected a lower-case SQL identifier'],
    ['an unsupported column type', (m: any) => (m.tables[0].columns[0].type = 'varchar2'), 'tables[0].columns[0].type'],
    ['a missing code table file', (m: any) => (m.codeTables.enttype.file = 'code-tables/missing.csv'), 'codeTables.enttype: ENOENT'],
  ])('refuses %s with a message naming the field', (_what, mutate, expected) => {
    const file = writeMapping(mutate);
    expect(() => loadMapping(file)).toThrow(ConfigError);
    expect(() => loadMapping(file)).toThrow(expected);
  });

  it('refuses a misspelt property at load with its JSON path and the property meant (严格校验)', () => {
    const file = writeMapping((m) => {
      m.tables[0].columns[4].requried = true;
      m.tables[0].columns[5].codetable = 'enttype';
      m.tables[1].source.kye = 'nameid';
      m.codeTables.enttype.tilte = 'x';
    });
    let message = '';
    try {
      loadMapping(file);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain('tables[0].columns[4].requried: unknown property — did you mean "required"?');
    expect(message).toContain('tables[0].columns[5].codetable: unknown property — did you mean "codeTable"?');
    expect(message).toContain('tables[1].source.kye: unknown property — did you mean "key"?');
    expect(message).toContain('codeTables.enttype.tilte: unknown property — did you mean "title"?');
    // every problem at once, not the first only
    expect(message.split('\n  - ')).toHaveLength(5);
    // a name nothing resembles gets the list of known ones instead of a guess
    expect(() => loadMapping(writeMapping((m) => (m.tables[0].columns[0].zzzzzzzz = 1)))).toThrow(/tables\[0\]\.columns\[0\]\.zzzzzzzz: unknown property \(known: target, type, source, codeTable, clean, required, onAnomaly\)/);
  });

  it('reads code tables as real CSV: quoted fields, embedded commas and quotes, a BOM, CRLF', () => {
    const file = writeMapping(() => undefined);
    fs.writeFileSync(path.join(path.dirname(file), 'code-tables', 'regstate.csv'), '\ufefflegacy,target,label\r\n1,1,"存续, active"\r\n"迁 出",6,"say ""moved"""\r\n\r\n2,2,x\r\n');
    const m = loadMapping(file);
    expect([...m.codeTables.get('regstate')!.values]).toEqual([['1', '1'], ['迁 出', '6'], ['2', '2']]);
    const bad = (csv: string) => {
      fs.writeFileSync(path.join(path.dirname(file), 'code-tables', 'regstate.csv'), csv);
      return () => loadMapping(file);
    };
    expect(bad('legacy,target,label\n1,1,a,b\n')).toThrow(/regstate\.csv:2: expected 3 fields "legacy,target,label", got 4/);
    expect(bad('legacy,target,label\n1,1,"open\n')).toThrow(/regstate\.csv: not valid CSV: Quote Not Closed/);
    expect(bad('legacy,target,label\n1,1,a\n1,2,b\n')).toThrow(/regstate\.csv:3: legacy value "1" listed twice/);
    expect(bad('code,new,label\n')).toThrow(/first line must be the header/);
  });

  it('maps a retired code to its successor, and refuses a successor that is no target code (撤销代码)', () => {
    const m = loadMapping(REAL);
    const division = m.codeTables.get('division')!;
    expect(division.retired).toEqual([expect.objectContaining({ code: '440782', successor: '440705', retiredOn: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) })]);
    expect(division.values.get('440782')).toBe('440705');
    const file = writeMapping((m) => (m.codeTables.division.retired = [{ code: '440782', successor: '449999', retiredOn: '2002-06-01' }]));
    expect(() => loadMapping(file)).toThrow('codeTables.division.retired[0].successor: "449999" is not a target code of this table');
    const twice = writeMapping((m) => (m.codeTables.division.retired = [{ code: '440703', successor: '440705', retiredOn: '2002-06-01' }]));
    expect(() => loadMapping(twice)).toThrow('codeTables.division.retired[0].code: "440703" is also an ordinary code of the table');
    const neither = writeMapping((m) => delete m.codeTables.division.file);
    expect(() => loadMapping(neither)).toThrow('codeTables.division: give exactly one of "file"');
  });

  it('cleanses and converts codes, and names the rule when a row must be quarantined', () => {
    // every rule's policy set to quarantine (异常数据处理策略): the rule and its reason as the quarantine records them
    const m = loadMapping(writeMapping((x) => (x.anomalyPolicies = { invalid_date: 'quarantine', invalid_capital: 'quarantine', unmapped_code: 'quarantine', required: 'quarantine', check: 'quarantine' })));
    const transform = compileTransform(m, m.tables[0]);
    // The transform works on escaped COPY lines; the expectations read better decoded.
    const t = (row: Field[]) => {
      const o = transformText(transform, encodeLine(row));
      return o.ok ? { ok: true, values: decodeLine(o.line.slice(0, -1)) } : o;
    };
    // pripid uniscid uniscid_valid regno entname enttype regstate regcap regcapcur estdate apprdate opto dom domdistrict regorg opscope
    const row = ['JM1', '91440700768414040k', '91440700768414040k', null, ' 江门市某某(分店)经营部 ', '9999', '迁出', '伍拾万元', '156', '2001-02-03', '2001年3月5日', '9999-09-09', '', '440782', '440703', ''];
    expect(t(row)).toEqual({
      ok: true,
      values: ['JM1', '91440700768414040K', 't', null, '江门市某某（分店）经营部', '9500', '6', '50', '156', '2001-02-03', '2001-03-05', null, null, '440705', '440703', null],
    });
    const change = (i: number, v: string) => row.map((x, j) => (j === i ? v : x));
    expect(t(change(2, '91440700768414040J'))).toMatchObject({ ok: true, values: expect.arrayContaining(['f']) });
    expect(t(change(7, '5,000.00'))).toMatchObject({ ok: true, values: expect.arrayContaining(['5000.00']) });
    expect(t(change(7, '1亿'))).toMatchObject({ ok: true, values: expect.arrayContaining(['10000']) });
    expect(t(change(5, 'X9'))).toMatchObject({ ok: false, rule: 'unmapped_code:enttype' });
    // rules read real text though lines travel as their bytes: the reason quotes the value as written
    expect(t(change(6, '不存在'))).toMatchObject({ ok: false, rule: 'unmapped_code:regstate', detail: expect.stringContaining('="不存在"') });
    expect(t(change(4, ''))).toMatchObject({ ok: false, rule: 'required:entname' });
    expect(t(change(7, '约十万左右'))).toMatchObject({ ok: false, rule: 'invalid_capital:regcap' });
    expect(t(change(10, '1899-12-31'))).toMatchObject({ ok: false, rule: 'invalid_date:apprdate', detail: expect.stringContaining('before 1900') });
    expect(t(change(10, '2023-02-30'))).toMatchObject({ ok: false, rule: 'invalid_date:apprdate', detail: expect.stringContaining('not a calendar date') });
    // the compact legacy form: converted, and checked like the others
    expect(t(change(10, '19990710'))).toMatchObject({ ok: true, values: expect.arrayContaining(['1999-07-10']) });
    expect(t(change(10, '20230230'))).toMatchObject({ ok: false, rule: 'invalid_date:apprdate', detail: expect.stringContaining('not a calendar date') });
    expect(t(change(10, '18991231'))).toMatchObject({ ok: false, rule: 'invalid_date:apprdate', detail: expect.stringContaining('before 1900') });
    expect(t(change(11, '2024-02-29'))).toMatchObject({ ok: true, values: expect.arrayContaining(['2024-02-29']) });
    expect(t(change(11, '2023-02-29'))).toMatchObject({ ok: false, rule: 'invalid_date:opto' });
    expect(t(change(7, '-5'))).toMatchObject({ ok: false, rule: 'check:regcap', detail: "regcap=-5 violates the target's CHECK (regcap >= 0)" });
    // each row's own value, not the last one shown
    expect(t(change(7, '-7'))).toMatchObject({ ok: false, rule: 'check:regcap', detail: "regcap=-7 violates the target's CHECK (regcap >= 0)" });
    expect(t(change(7, '不详'))).toMatchObject({ ok: false, rule: 'invalid_capital:regcap' });
    expect(t(row.slice(1))).toMatchObject({ ok: false, rule: 'malformed_row' });
  });

  it('loads a row that breaks a non-key rule flagged under the default policies, with the rule, column and raw value; a key problem still fails the row', () => {
    const m = loadMapping(REAL);
    const transform = compileTransform(m, m.tables[0]);
    const t = (row: Field[]) => {
      const o = transformText(transform, encodeLine(row));
      return o.ok ? { ok: true, values: decodeLine(o.line.slice(0, -1)), flags: o.flags } : o;
    };
    const row = ['JM1', '91440700768414040K', '91440700768414040K', null, '江门市某某经营部', '9999', '1', '50', '156', '2001-02-03', '2001-03-05', null, null, '440703', '440703', null];
    const change = (i: number, v: string | null) => row.map((x, j) => (j === i ? v : x));
    // a row that breaks nothing carries no flags
    expect(t(row)).toEqual({ ok: true, values: expect.any(Array), flags: undefined });
    expect(t(change(5, 'X9'))).toMatchObject({ ok: true, values: expect.arrayContaining(['unknown']), flags: [{ rule: 'unmapped_code:enttype', column: 'enttype', raw: 'X9' }] });
    expect(t(change(4, ''))).toMatchObject({ ok: true, values: expect.arrayContaining(['（待整改）']), flags: [{ rule: 'required:entname', column: 'entname' }] });
    expect(t(change(4, null))).toMatchObject({ ok: true, flags: [{ rule: 'required:entname', raw: null }] });
    const capital = t(change(7, '约十万左右')) as { ok: true; values: Field[]; flags: unknown[] };
    expect(capital.values[7]).toBeNull();
    expect(capital.flags).toEqual([{ rule: 'invalid_capital:regcap', column: 'regcap', raw: '约十万左右', detail: expect.stringContaining('约十万左右') }]);
    const check = t(change(7, '-5')) as { ok: true; values: Field[]; flags: unknown[] };
    expect(check.values[7]).toBeNull();
    expect(check.flags).toEqual([{ rule: 'check:regcap', column: 'regcap', raw: '-5', detail: "regcap=-5 violates the target's CHECK (regcap >= 0)" }]);
    // two rules broken in one row: both recorded, neither holds the row back
    expect(t(change(10, '1899-12-31').map((x, j) => (j === 6 ? '不存在' : x)))).toMatchObject({
      ok: true,
      flags: [{ rule: 'unmapped_code:regstate', raw: '不存在' }, { rule: 'invalid_date:apprdate', raw: '1899-12-31' }],
    });
    // the key: quarantined, whatever the policies say
    expect(t(change(0, ''))).toMatchObject({ ok: false, rule: 'required:pripid' });
    // a child's link to its parent is a key problem too
    const person = compileTransform(m, m.tables.find((x) => x.name === 'entity_person')!);
    expect(transformText(person, encodeLine(['P1', '', '陈伟', '410A', '10', '440703199001011234']))).toMatchObject({ ok: false, rule: 'required:pripid' });
    expect(transformText(person, encodeLine(['P1', 'JM1', '', '410A', '10', '440703199001011234']))).toMatchObject({ ok: true, flags: [{ rule: 'required:name' }] });
  });

  it('passes fields without a rule through in their escaped form, an empty field as NULL, and still checks required ones', () => {
    const m = loadMapping(REAL);
    const person = m.tables.find((t) => t.name === 'entity_person')!;
    const compiled = compileTransform(m, person);
    const transform = (l: string) => transformText(compiled, l);
    // personid pripid name position certype cerno, as the legacy COPY line holds them
    const line = (...fields: string[]) => fields.join('\t');
    expect(transform(line('P1', 'JM1', '张\\\\三\\t', '', '\\N', 'A\\\\B'))).toEqual({ ok: true, line: 'P1\tJM1\t张\\\\三\\t\t\\N\t\\N\tA\\\\B\n' });
    expect(transform(line('', 'JM1', 'x', '', '', ''))).toMatchObject({ ok: false, rule: 'required:personid' });
    expect(transform(line('P1', '\\N', 'x', '', '', ''))).toMatchObject({ ok: false, rule: 'required:pripid' });
    expect(transform(line('P1', 'JM1', 'x', '', '', '', 'extra'))).toMatchObject({ ok: false, rule: 'malformed_row', detail: 'expected 6 fields, got 7' });
    expect(transform(line('P1', 'JM1', 'x', 'y'))).toMatchObject({ ok: false, rule: 'malformed_row', detail: 'expected 6 fields, got 4' });
    // the last field empty, and nothing to change at all
    expect(transform(line('P1', 'JM1', 'x', 'y', 'z', ''))).toEqual({ ok: true, line: 'P1\tJM1\tx\ty\tz\t\\N\n' });
    expect(transform(line('P1', 'JM1', 'x', 'y', 'z', 'w'))).toEqual({ ok: true, line: 'P1\tJM1\tx\ty\tz\tw\n' });
  });

  it('appends constant and derived columns, and checks CHECKs over mapped and derived values (常量/派生列)', () => {
    const file = writeMapping((m) => {
      const person = m.tables.find((t: any) => t.name === 'entity_person');
      person.derived = [
        { target: 'source_system', type: 'text', expr: "'JM-LEGACY'" },
        { target: 'display_name', type: 'text', expr: "coalesce(position, '成员') || '：' || name", required: true },
        { target: 'is_legal_rep', type: 'boolean', expr: "position IN ('法定代表人', '负责人')" },
      ];
      person.target.checks = ["certype IS NULL OR certype IN ('10', '20') OR cerno IS NULL", "display_name <> '成员：无名'"];
    });
    const m = loadMapping(file);
    const person = m.tables.find((t) => t.name === 'entity_person')!;
    const transform = (...fields: string[]) => transformText(compileTransform(m, person), fields.join('\t'));
    // 张\三 as the legacy wrote it (a backslash in the name): escaped in COPY text, and again in the derived field
    expect(transform('P1', 'JM1', '张\\\\三', '法定代表人', '10', 'X1')).toEqual({ ok: true, line: 'P1\tJM1\t张\\\\三\t法定代表人\t10\tX1\tJM-LEGACY\t法定代表人：张\\\\三\tt\n' });
    expect(transform('P2', 'JM1', '李四', '', '', '')).toEqual({ ok: true, line: 'P2\tJM1\t李四\t\\N\t\\N\t\\N\tJM-LEGACY\t成员：李四\t\\N\n' });
    expect(transform('P3', 'JM1', '王五', '', '99', 'C9')).toEqual({
      ok: false,
      rule: 'check:certype',
      detail: "certype=99, cerno=C9 violates the target's CHECK (certype IS NULL OR certype IN ('10', '20') OR cerno IS NULL)",
    });
    expect(transform('P4', 'JM1', '无名', '', '', '')).toMatchObject({ ok: false, rule: 'check:display_name' });
  });

  it('maps every code of a code table to its target code, written as it is or with blanks around it', () => {
    const m = loadMapping(REAL);
    const applications = m.tables.find((t) => t.name === 'approval_application')!;
    const transform = compileTransform(m, applications);
    const apptype = applications.columns.findIndex((c) => c.target === 'apptype');
    const codes = [...m.codeTables.get('apptype')!.values];
    expect(codes.length).toBeGreaterThan(3);
    for (const [legacy, target] of codes) {
      for (const written of [legacy, ` ${legacy} `]) {
        const row: Field[] = applications.columns.map((c) => (c.type === 'date' ? '2020-01-02' : 'x'));
        row[apptype] = written;
        const o = transformText(transform, encodeLine(row));
        expect([written, o.ok && decodeLine(o.line.slice(0, -1))[apptype]]).toEqual([written, target]);
      }
    }
  });
});
