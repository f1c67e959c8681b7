import fc from 'fast-check';
import { convertRow } from '../../migration/oracle/chunk-stream';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { resolveTable } from '../../migration/oracle/resolve';
import { isSourceRejection } from '../../migration/source-rejection';
import { drain, legacyTable, ScriptedOracle, scriptedResultSet } from './oracle-scripted';

/**
 * 字符集 A ZHS16GBK legacy: text is converted to UTF-8 on its way to the driver, and a character the
 * conversion cannot carry arrives as '?' (or U+FFFD). The server counts the '?' each stored value really
 * holds; a value that arrives with more is quarantined (invalid_text:substituted), never loaded garbled.
 */
const TABLE = legacyTable([
  { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
  { target: 'entname', type: 'text', source: 'entname', required: true },
  { target: 'dom', type: 'text', source: 'dom', required: false },
  { target: 'opscope', type: 'text', source: 'opscope', required: false },
]);
const DICTIONARY = [
  ['PRIPID', 'NUMBER', 'N', 20, 0],
  ['ENTNAME', 'VARCHAR2', 'N', null, null],
  ['DOM', 'NVARCHAR2', 'Y', null, null],
  ['OPSCOPE', 'CLOB', 'Y', null, null],
];
const SETTINGS = { user: 'jmlegacy', password: 'pw', connectString: 'db/JMREG' };


function server(charset: string, rows: unknown[][]): ScriptedOracle {
  return new ScriptedOracle([
    { match: /FROM all_tab_columns/, rows: DICTIONARY },
    { match: /parameter = 'NLS_CHARACTERSET'/, rows: [[charset]] },
    { match: /^SELECT "PRIPID"/, resultSet: () => scriptedResultSet(rows) },
  ]);
}

describe('ZHS16GBK text: substitutions found against the source bytes', () => {
  it('the chunk query counts the stored question marks of VARCHAR2 and CLOB columns (not NVARCHAR2, which is Unicode)', async () => {
    const db = server('ZHS16GBK', []);
    await drain(await new OracleSource(SETTINGS, db.driver()).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, '4711'));
    const sql = db.executed.find((e) => e.options.resultSet)!.sql;
    expect(sql).toContain(`"OPSCOPE", NVL(LENGTH("ENTNAME"), 0) - NVL(LENGTH(REPLACE("ENTNAME", '?')), 0) AS "JM_QMARKS_0", NVL(LENGTH("OPSCOPE"), 0) - NVL(LENGTH(REPLACE("OPSCOPE", '?')), 0) AS "JM_QMARKS_1" FROM`);
    expect(sql).not.toContain('REPLACE("DOM"');
  });

  it('quarantines a name whose characters became ?, loads one with a real ?, and says how many were replaced', async () => {
    const rows = [
      // pripid, entname, dom, opscope, ?-count(entname), ?-count(opscope)
      ['1', '江门?五金有限公司', null, null, 0, 0], // the source holds a character GBK could not pass on
      ['2', '江门五金(?)店', null, '经营范围?', 1, 1], // real question marks, stored as 0x3F
      ['3', '江门五金店', null, '零售??', 0, 1], // the CLOB lost one character
      ['4', '江门\uFFFD店', null, null, 0, 0], // bytes the conversion could not read at all
    ];
    const items = await drain(await new OracleSource(SETTINGS, server('ZHS16GBK', rows).driver()).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, null));
    expect(items[0]).toMatchObject({
      kind: 'source-rejection',
      rule: 'invalid_text:substituted',
      column: 'ENTNAME',
      key: '1',
      detail: expect.stringMatching(/1 character\(s\) replaced by '\?'/),
      fields: ['1', '江门?五金有限公司', null, null],
    });
    expect(items[1]).toBe('2\t江门五金(?)店\t\\N\t经营范围?');
    expect(items[2]).toMatchObject({ rule: 'invalid_text:substituted', column: 'OPSCOPE', detail: expect.stringMatching(/2 arrived, the source holds 1/) });
    expect(items[3]).toMatchObject({ rule: 'invalid_text:unconvertible', column: 'ENTNAME' });
  });

  it('an AL32UTF8 database adds no counting columns', async () => {
    const db = server('AL32UTF8', [['1', '江门?', null, null]]);
    const items = await drain(await new OracleSource(SETTINGS, db.driver()).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, null));
    expect(db.executed.find((e) => e.options.resultSet)!.sql).not.toContain('JM_QMARKS');
    expect(items).toEqual(['1\t江门?\t\\N\t\\N']);
  });

  it('property: a row is quarantined exactly when more ? arrived than the source holds', () => {
    const resolved = resolveTable(TABLE, DICTIONARY as never, { naiveUtcOffset: '+08:00', databaseCharset: 'ZHS16GBK' });
    const text = fc.array(fc.constantFrom('江', '门', '?', 'a', '(', ')'), { maxLength: 12 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(text, fc.nat(12), (name, storedRaw) => {
        const arrived = name.split('?').length - 1;
        const stored = Math.min(storedRaw, arrived);
        const item = convertRow(resolved, ['7', name === '' ? '名' : name, null, null, stored, 0]);
        const expectRejected = name !== '' && arrived > stored;
        return isSourceRejection(item) === expectRejected;
      }),
    );
  });
});
