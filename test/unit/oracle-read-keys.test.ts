import type { TableMapping } from '../../migration/mapping';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { keysQuery, ORACLE_IN_LIST_MAX } from '../../migration/oracle/sql';
import { readLegacyLines } from '../../migration/remediate';
import { compareDecimal, drain, legacyTable, ScriptedOracle, scriptedResultSet } from './oracle-scripted';

/**
 * 按键读取 The Oracle adapter reads rows by their keys (SourceAdapter.readKeys), as the PostgreSQL one does:
 * the chunk copy's orphan check reads a chunk's few orphans by key instead of the whole chunk again, and the
 * remediation loop (重新加载) reloads held rows from Oracle. The scripted server holds the binds to the
 * statement's placeholders (ORA-01008 / NJS-098) and answers with the rows whose NUMBER key equals a bound key,
 * compared as Oracle compares a NUMBER with a character bind (converted to a number: '007' is 7).
 */
const ENTITY = legacyTable([
  { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
  { target: 'entname', type: 'text', source: 'entname', required: true },
]);
const LEGACY_ROWS = Array.from({ length: 3000 }, (_, i) => [String(i + 1), `江门企业${i + 1}`]);

function server(): ScriptedOracle {
  return new ScriptedOracle([
    { match: /FROM all_tab_columns/, rows: [['PRIPID', 'NUMBER', 'N', 20, 0], ['ENTNAME', 'NVARCHAR2', 'N', null, null]] },
    {
      match: /^SELECT "PRIPID", "ENTNAME" FROM "E_BASEINFO"( AS OF SCN :read_scn)? WHERE /,
      resultSet: (binds) => {
        const wanted = Object.entries(binds).filter(([name]) => /^k\d+$/.test(name)).map(([, v]) => String(v));
        return scriptedResultSet(LEGACY_ROWS.filter((r) => wanted.some((k) => compareDecimal(r[0], k) === 0)));
      },
    },
  ]);
}

describe('Oracle readKeys (按键读取)', () => {
  it('names each key as a bind, at the read point, in IN lists of at most 1,000 (ORA-01795), OR-ed', () => {
    const keys = Array.from({ length: 2 * ORACLE_IN_LIST_MAX + 1 }, (_, i) => String(i));
    const q = keysQuery({ schema: 'JMREG', table: 'e_baseinfo', key: 'pripid', columns: [{ name: 'pripid', kind: 'number' }], readPoint: '8124650033', keys });
    expect(q.sql).toMatch(/^SELECT "PRIPID" FROM "JMREG"\."E_BASEINFO" AS OF SCN :read_scn WHERE \("PRIPID" IN \(:k0, .*:k999\) OR "PRIPID" IN \(:k1000, .*:k1999\) OR "PRIPID" IN \(:k2000\)\) ORDER BY "PRIPID"$/);
    expect(q.sql.match(/:k\d+/g)).toHaveLength(keys.length);
    expect(q.binds).toEqual({ read_scn: '8124650033', ...Object.fromEntries(keys.map((k, i) => [`k${i}`, k])) });
    expect(keysQuery({ schema: null, table: 't', key: 'id', columns: [{ name: 'id', kind: 'text' }], readPoint: null, keys: ['a'] })).toEqual({ sql: 'SELECT "ID" FROM "T" WHERE "ID" IN (:k0) ORDER BY "ID"', binds: { k0: 'a' } });
    expect(() => keysQuery({ schema: null, table: 't', key: 'id', columns: [], readPoint: null, keys: [] })).toThrow(/no keys to read from t/);
  });

  it('streams just the rows of the keys asked for, converted as a chunk is, and releases its connection', async () => {
    const db = server();
    const source = new OracleSource({ user: 'jmlegacy', password: 'pw', connectString: 'db/JMREG' }, db.driver());
    const rows = await drain(await source.readKeys!(ENTITY, ['7', '2999', '12', '40000'], '8124650033'));
    expect(rows).toEqual(['7\t江门企业7', '12\t江门企业12', '2999\t江门企业2999']);
    const read = db.executed.find((e) => e.options.resultSet)!;
    expect(read.binds).toEqual({ read_scn: '8124650033', k0: '7', k1: '2999', k2: '12', k3: '40000' });
    expect(db.allReleased()).toBe(true);
    await source.close();
  });

  it('the remediation reload reads held rows from Oracle by key, 1,000 at a time, instead of answering that it cannot', async () => {
    const db = server();
    const source = new OracleSource({ user: 'jmlegacy', password: 'pw', connectString: 'db/JMREG' }, db.driver());
    const keys = Array.from({ length: 1500 }, (_, i) => String(2 * i + 1));
    const lines = await readLegacyLines(source, ENTITY, keys);
    expect(typeof lines).not.toBe('string');
    const got = lines as Map<string, (string | null)[]>;
    expect(got.size).toBe(1500);
    expect(got.get('2999')).toEqual(['2999', '江门企业2999']);
    expect(db.executed.filter((e) => e.options.resultSet).map((e) => Object.keys(e.binds).length)).toEqual([1000, 500]);
    expect(db.allReleased()).toBe(true);
    await source.close();
  });

  it('a composite key is refused by name (its rows are read back by chunk)', async () => {
    const composite: TableMapping = { ...ENTITY, source: { table: 'e_baseinfo', key: 'pripid', keys: ['pripid', 'entname'] } };
    const source = new OracleSource({ user: 'jmlegacy', password: 'pw', connectString: 'db/JMREG' }, server().driver());
    await expect(source.readKeys!(composite, ['1'], null)).rejects.toThrow(/readKeys takes a one-column key; market_entity has a composite key/);
  });
});
