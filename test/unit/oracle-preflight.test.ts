import type { Mapping, TableMapping } from '../../migration/mapping';
import { formatPreflightReport } from '../../migration/oracle/preflight';
import { checkKeyFit, checkKeyIndex, checkLobRetention, checkServerVersion, checkUndo } from '../../migration/oracle/preflight-checks';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { legacyTable, njsError, oraError, ScriptedAnswer, ScriptedOracle } from './oracle-scripted';

/**
 * 预检 Oracle preflight against scripted servers whose answers (dictionary rows, parameters, driver and
 * server errors) are what a real server and the installed driver return; the scripted server also holds
 * the adapter to its SQL and binds (oracle-scripted.ts).
 */
const ENTITY = legacyTable([
  { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
  { target: 'entname', type: 'text', source: 'entname', required: true },
  { target: 'opscope', type: 'text', source: 'opscope', required: false },
]);
const APPROVAL = legacyTable(
  [
    { target: 'apprno', type: 'text', source: 'apprno', required: true },
    { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
  ],
  { name: 'approval', category: 'approval', source: { table: 'e_approval', key: 'apprno' } },
);
const MAPPING: Mapping = { tables: [ENTITY, APPROVAL], codeTables: new Map() };

const DICTIONARIES: Record<string, unknown[][]> = {
  E_BASEINFO: [
    ['PRIPID', 'NUMBER', 'N', 20, 0],
    ['ENTNAME', 'NVARCHAR2', 'N', null, null],
    ['OPSCOPE', 'CLOB', 'Y', null, null],
  ],
  E_APPROVAL: [
    ['APPRNO', 'VARCHAR2', 'N', null, null],
    ['PRIPID', 'NUMBER', 'N', 20, 0],
  ],
};

/** A well-kept 19c: every check passes. Tests override single answers. */
function healthyServer(): ScriptedAnswer[] {
  return [
    { match: /FROM product_component_version/, rows: [['19.0.0.0.0']] },
    { match: /FROM all_tab_columns/, rows: (b) => DICTIONARIES[String(b.table_name)] ?? [] },
    {
      match: /FROM nls_database_parameters/,
      rows: [
        ['NLS_CHARACTERSET', 'AL32UTF8'],
        ['NLS_NCHAR_CHARACTERSET', 'AL16UTF16'],
      ],
    },
    {
      match: /FROM v\$parameter/,
      rows: [
        ['undo_management', 'AUTO'],
        ['undo_retention', '86400'],
      ],
    },
    { match: /DBMS_FLASHBACK\.GET_SYSTEM_CHANGE_NUMBER/, rows: [['8124650033']] },
    { match: /AS OF SCN :read_scn WHERE ROWNUM <= 1/, rows: [[1]] },
    { match: /FROM all_lobs/, rows: [['OPSCOPE', 'YES', null, 86400]] },
    { match: /^SELECT i\.index_name, i\.clustering_factor/, rows: [['PK_IDX', 12_000, 1_000_000, 11_000]] },
    { match: /WHERE LENGTHB\(/, rows: [[0]] },
    { match: /i\.uniqueness = 'UNIQUE'/, rows: [[1]] },
  ];
}

function override(answers: ScriptedAnswer[], ...changes: ScriptedAnswer[]): ScriptedAnswer[] {
  return [...changes, ...answers];
}

const SETTINGS = { user: 'jmlegacy', password: 's3cret-Pa55', connectString: 'db:1521/JMREG', schema: 'jmlegacy' };

describe('Oracle preflight 预检', () => {
  it('a healthy 19c with every grant has no problems, and every statement was bound exactly', async () => {
    const db = new ScriptedOracle(healthyServer());
    const problems = await new OracleSource(SETTINGS, db.driver()).preflight(MAPPING);
    expect(problems).toEqual([]);
    // the AS OF probe ran for both tables at the one SCN
    expect(db.executed.filter((e) => /AS OF SCN/.test(e.sql)).map((e) => [e.sql, e.binds])).toEqual([
      ['SELECT COUNT(*) FROM "JMLEGACY"."E_BASEINFO" AS OF SCN :read_scn WHERE ROWNUM <= 1', { read_scn: '8124650033' }],
      ['SELECT COUNT(*) FROM "JMLEGACY"."E_APPROVAL" AS OF SCN :read_scn WHERE ROWNUM <= 1', { read_scn: '8124650033' }],
    ]);
    expect(db.executed.find((e) => /all_lobs/.test(e.sql))!.binds).toEqual({ owner_name: 'JMLEGACY', table_name: 'E_BASEINFO' });
    expect(db.allReleased()).toBe(true);
  });

  it('an 11g server with a UTF8 national character set and no FLASHBACK grant: all three problems in one report', async () => {
    const db = new ScriptedOracle(
      override(
        healthyServer(),
        { match: /FROM product_component_version/, rows: [['11.2.0.4.0']] },
        {
          match: /FROM nls_database_parameters/,
          rows: [
            ['NLS_CHARACTERSET', 'ZHS16GBK'],
            ['NLS_NCHAR_CHARACTERSET', 'UTF8'],
          ],
        },
        { match: /AS OF SCN/, error: oraError(1031, 'insufficient privileges') },
      ),
    );
    const problems = await new OracleSource(SETTINGS, db.driver()).preflight(MAPPING);
    const text = problems.map((p) => `${p.where} | ${p.problem} | ${p.action ?? ''}`);
    expect(text).toEqual([
      expect.stringMatching(/^oracle\.server \| .*Oracle 11\.2\.0\.4\.0 \(11g\).*NJS-138.* \| .*Thick mode.*Instant Client.*ORACLE_CLIENT_LIB_DIR/),
      expect.stringMatching(/^oracle\.charset \| .*NLS_NCHAR_CHARACTERSET UTF8.*NJS-100.*E_BASEINFO\.ENTNAME \| .*Thick mode/),
      expect.stringMatching(/^tables\[0\]\.source\.table \| E_BASEINFO AS OF SCN 8124650033: 权限不足 .*ORA-01031.* \| .*grants FLASHBACK ON/),
      expect.stringMatching(/^tables\[1\]\.source\.table \| E_APPROVAL AS OF SCN 8124650033: .*ORA-01031/),
    ]);
    expect(db.allReleased()).toBe(true);
  });

  it('a server Thin mode cannot even connect to (NJS-138 from the real driver) is reported, not thrown', async () => {
    const db = new ScriptedOracle(healthyServer());
    db.connectError = njsError(138);
    const problems = await new OracleSource(SETTINGS, db.driver()).preflight(MAPPING);
    expect(problems).toHaveLength(1);
    expect(problems[0].where).toBe('oracle.connection');
    expect(problems[0].problem).toMatch(/cannot connect to oracle jmlegacy@db:1521\/JMREG.*NJS-138.*run the preflight again in Thick mode/);
    expect(problems[0].action).toMatch(/Instant Client/);
    expect(JSON.stringify(problems)).not.toContain('s3cret');
  });

  it('lists the missing grants and the short retentions it finds, each with its action, and keeps going', async () => {
    const db = new ScriptedOracle(
      override(
        healthyServer(),
        { match: /FROM v\$parameter/, error: oraError(942, 'table or view does not exist') },
        { match: /DBMS_FLASHBACK/, error: oraError(6550, "line 1, column 7:\nPLS-00201: identifier 'DBMS_FLASHBACK' must be declared") },
        { match: /FROM all_lobs/, rows: [['OPSCOPE', 'NO', 10, null]] },
        { match: /^SELECT i\.index_name, i\.clustering_factor/, rows: [] },
      ),
    );
    const problems = await new OracleSource(SETTINGS, db.driver()).preflight(MAPPING);
    const wheres = problems.map((p) => p.where);
    expect(wheres).toEqual(['oracle.undo', 'oracle.flashback', 'tables[0].columns', 'tables[0].source.key', 'tables[1].source.key']);
    expect(problems[0].problem).toMatch(/undo retention \(needs SELECT on V_\$PARAMETER\).*ORA-00942/);
    expect(problems[1].problem).toMatch(/EXECUTE on SYS\.DBMS_FLASHBACK/);
    expect(problems[2]).toMatchObject({ problem: expect.stringMatching(/LOB E_BASEINFO\.OPSCOPE .*PCTVERSION 10.*ORA-22924/), action: expect.stringMatching(/MODIFY LOB \(OPSCOPE\) \(RETENTION\)/) });
    expect(problems[3].problem).toMatch(/no index leads with key E_BASEINFO\.PRIPID/);
  });

  it('reports a mapping that does not fit the legacy tables with the JSON path of the table', async () => {
    const db = new ScriptedOracle(
      override(healthyServer(), { match: /FROM all_tab_columns/, rows: (b) => (b.table_name === 'E_APPROVAL' ? [] : DICTIONARIES.E_BASEINFO) }),
    );
    const problems = await new OracleSource(SETTINGS, db.driver()).preflight(MAPPING);
    expect(problems).toEqual([
      { where: 'tables[1].source', problem: expect.stringMatching(/E_APPROVAL: not found/), action: expect.any(String) },
    ]);
  });

  it('ORACLE_CHUNKING=rowid: accepted when DBA_EXTENTS is readable; without the grant, the problem names it', async () => {
    const ok = new ScriptedOracle(override(healthyServer(), { match: /FROM dba_extents WHERE ROWNUM <= 1/, rows: [['AAAAABAABAAAAABAAA']] }));
    expect(await new OracleSource({ ...SETTINGS, chunking: 'rowid' }, ok.driver()).preflight(MAPPING)).toEqual([]);
    const denied = new ScriptedOracle(override(healthyServer(), { match: /FROM dba_extents WHERE ROWNUM <= 1/, error: oraError(942, 'table or view does not exist') }));
    const problems = await new OracleSource({ ...SETTINGS, chunking: 'rowid' }, denied.driver()).preflight(MAPPING);
    expect(problems).toEqual([{ where: 'ORACLE_CHUNKING', problem: expect.stringMatching(/DBA_EXTENTS, which the migration user cannot read: ORA-00942/), action: expect.stringMatching(/SELECT_CATALOG_ROLE/) }]);
  });

  it('checks an unconstrained NUMBER key against an integer target with a query, and a GBK text key for non-ASCII values', async () => {
    const wide: TableMapping = { ...ENTITY, columns: [{ ...ENTITY.columns[0], type: 'bigint' }, ...ENTITY.columns.slice(1)] };
    const db = new ScriptedOracle(
      override(
        healthyServer(),
        {
          match: /FROM all_tab_columns/,
          rows: (b) => (b.table_name === 'E_BASEINFO' ? [['PRIPID', 'NUMBER', 'N', null, null], ...DICTIONARIES.E_BASEINFO.slice(1)] : DICTIONARIES.E_APPROVAL),
        },
        {
          match: /FROM nls_database_parameters/,
          rows: [
            ['NLS_CHARACTERSET', 'ZHS16GBK'],
            ['NLS_NCHAR_CHARACTERSET', 'AL16UTF16'],
          ],
        },
        { match: /<> TRUNC\("PRIPID"\)/, rows: [[3]] },
        { match: /LENGTHB\("APPRNO"\) <> LENGTH\("APPRNO"\)/, rows: [[1]] },
      ),
    );
    const problems = await new OracleSource(SETTINGS, db.driver()).preflight({ tables: [wide, APPROVAL], codeTables: new Map() });
    expect(problems.map((p) => [p.where, p.problem])).toEqual([
      ['tables[0].source.key', expect.stringMatching(/3 keys of E_BASEINFO\.PRIPID \(NUMBER without precision\) are fractional or beyond bigint/)],
      ['tables[1].source.key', expect.stringMatching(/text key E_APPROVAL\.APPRNO holds non-ASCII characters, which ZHS16GBK orders/)],
    ]);
  });
});

describe('the preflight with the real driver, nothing listening', () => {
  it('a refused connection is the one problem, reported with the driver’s code and never the password', async () => {
    const src = new OracleSource({ user: 'jmlegacy', password: 's3cret-Pa55', connectString: '127.0.0.1:1/FREEPDB1', callTimeoutSeconds: 5 });
    try {
      const problems = await src.preflight(MAPPING);
      expect(problems).toEqual([{ where: 'oracle.connection', problem: expect.stringMatching(/^cannot connect to oracle jmlegacy@127\.0\.0\.1:1\/FREEPDB1: NJS-50\d/) }]);
      const report = formatPreflightReport('oracle jmlegacy@127.0.0.1:1/FREEPDB1', problems);
      expect(report).toMatch(/^预检 Oracle preflight of oracle jmlegacy@127\.0\.0\.1:1\/FREEPDB1: 1 problem\(s\) 问题\n1\. \[oracle\.connection\] cannot connect/);
      expect(report).not.toContain('s3cret');
    } finally {
      await src.close();
    }
  });

  it('the report gives each problem its action', () => {
    expect(formatPreflightReport('t', [{ where: 'oracle.undo', problem: 'short', action: 'raise it' }])).toBe(
      '预检 Oracle preflight of t: 1 problem(s) 问题\n1. [oracle.undo] short\n   处理 action: raise it\n',
    );
    expect(formatPreflightReport('t', [])).toBe('预检 Oracle preflight of t: no problems 通过\n');
  });
});

describe('preflight rules on captured answers', () => {
  it('server versions: 11g refused in Thin mode only', () => {
    expect(checkServerVersion('11.2.0.4.0', true)?.problem).toMatch(/NJS-138/);
    expect(checkServerVersion('11.2.0.4.0', false)).toBeNull();
    expect(checkServerVersion('12.1.0.2.0', true)).toBeNull();
    expect(checkServerVersion('23.4.0.24.5', true)).toBeNull();
    expect(checkServerVersion('banner', true)?.problem).toMatch(/unrecognised/);
  });

  it('undo retention against the planned run', () => {
    const params = (retention: string, management = 'AUTO') => new Map([['undo_management', management], ['undo_retention', retention]]);
    expect(checkUndo(params('900'), 720)).toEqual([expect.objectContaining({ problem: expect.stringMatching(/UNDO_RETENTION 900 s is shorter than the planned run \(720 min = 43200 s\)/), action: expect.stringMatching(/UNDO_RETENTION = 43200/) })]);
    expect(checkUndo(params('43200'), 720)).toEqual([]);
    expect(checkUndo(params('86400', 'MANUAL'), 720)).toHaveLength(1);
  });

  it('LOB retention: only mapped LOBs; PCTVERSION or a short retention', () => {
    const mapped = new Set(['OPSCOPE']);
    expect(checkLobRetention('w', 'e_baseinfo', [['OPSCOPE', 'NO', 10, null], ['PHOTO', 'NO', 10, null]], mapped, 60)).toHaveLength(1);
    expect(checkLobRetention('w', 'e_baseinfo', [['OPSCOPE', 'YES', null, 900]], mapped, 60)[0].problem).toMatch(/900 s/);
    expect(checkLobRetention('w', 'e_baseinfo', [['OPSCOPE', 'NO', null, 3600]], mapped, 60)).toEqual([]);
  });

  it('key fit: order and range of the legacy key against the target key type', () => {
    const t = (type: 'text' | 'numeric' | 'integer' | 'bigint') => type;
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'NUMBER', 'N', 20, 0], t('text'))[0].problem).toMatch(/'10' < '9'/);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'NUMBER', 'N', 20, 0], t('bigint'))[0].problem).toMatch(/do not all fit bigint/);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'NUMBER', 'N', 18, 0], t('bigint'))).toEqual([]);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'NUMBER', 'N', 12, 2], t('bigint'))[0].problem).toMatch(/decimals/);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'NUMBER', 'N', 10, 0], t('integer'))[0].problem).toMatch(/integer/);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'VARCHAR2', 'N', null, null], t('numeric'))[0].problem).toMatch(/'0012'/);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'VARCHAR2', 'Y', null, null], t('text'))[0].problem).toMatch(/nullable/);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'NUMBER', 'N', null, null], t('numeric'))).toEqual([]);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'NVARCHAR2', 'N', null, null], t('text'))[0].problem).toMatch(/UTF-16 code units/);
    expect(checkKeyFit('k', ENTITY, ['PRIPID', 'VARCHAR2', 'N', null, null], t('text'))).toEqual([]);
  });

  it('a NUMBER key without precision mapped to a text key: the preflight counts keys TO_CHAR writes in scientific notation, and names them', async () => {
    const textKeyed: Mapping = { tables: [legacyTable([{ target: 'pripid', type: 'text', source: 'pripid', required: true }, { target: 'entname', type: 'text', source: 'entname', required: true }])], codeTables: new Map() };
    const dictionary = { match: /FROM all_tab_columns/, rows: [['PRIPID', 'NUMBER', 'N', null, null], ['ENTNAME', 'VARCHAR2', 'N', null, null]] };
    const scientific = new ScriptedOracle(override(healthyServer(), dictionary, { match: /TO_CHAR\("PRIPID", 'TM9'\)\), 'E'\) > 0/, rows: [[3]] }));
    const problems = await new OracleSource(SETTINGS, scientific.driver()).preflight(textKeyed);
    expect(problems.map((p) => p.problem)).toEqual(
      expect.arrayContaining([expect.stringMatching(/compares it as the target does \('10' < '9'/), expect.stringMatching(/^3 keys of E_BASEINFO.PRIPID are written in scientific notation/)]),
    );
    expect(scientific.executed.some((e) => e.sql === `SELECT COUNT(*) FROM "JMLEGACY"."E_BASEINFO" WHERE INSTR(UPPER(TO_CHAR("PRIPID", 'TM9')), 'E') > 0`)).toBe(true);
    // NUMBER(20,0) has fixed notation by its declaration: no count is needed
    const declared = new ScriptedOracle(override(healthyServer(), { ...dictionary, rows: [['PRIPID', 'NUMBER', 'N', 20, 0], ['ENTNAME', 'VARCHAR2', 'N', null, null]] }));
    await new OracleSource(SETTINGS, declared.driver()).preflight(textKeyed);
    expect(declared.executed.some((e) => /'TM9'\)\), 'E'/.test(e.sql))).toBe(false);
  });

  it('键不唯一 a key without a unique index is counted for repeats: found, with the count; a unique index spares the count', async () => {
    const repeated = new ScriptedOracle(
      override(healthyServer(), { match: /i\.uniqueness = 'UNIQUE'/, rows: (b) => [[b.table_name === 'E_APPROVAL' ? 0 : 1]] }, { match: /GROUP BY "APPRNO" HAVING COUNT\(\*\) > 1/, rows: [[4]] }),
    );
    const problems = await new OracleSource(SETTINGS, repeated.driver()).preflight(MAPPING);
    expect(problems).toEqual([{ where: 'tables[1].source.key', problem: expect.stringMatching(/^键不唯一 key E_APPROVAL\.APPRNO is not unique: 4 key values/), action: expect.stringMatching(/declare a column that is unique in E_APPROVAL/) }]);
    const uniqueCheck = repeated.executed.find((e) => /i\.uniqueness/.test(e.sql) && e.binds.table_name === 'E_APPROVAL')!;
    expect(uniqueCheck.binds).toEqual({ owner_name: 'JMLEGACY', table_name: 'E_APPROVAL', column_name: 'APPRNO' });
    expect(repeated.executed.filter((e) => /GROUP BY/.test(e.sql)).map((e) => e.sql)).toEqual([
      'SELECT COUNT(*) FROM (SELECT "APPRNO" FROM "JMLEGACY"."E_APPROVAL" WHERE "APPRNO" IS NOT NULL GROUP BY "APPRNO" HAVING COUNT(*) > 1)',
    ]);
  });

  it('key index: missing, scattered, clustered, no statistics', () => {
    expect(checkKeyIndex('k', ENTITY, [], 100_000)[0].problem).toMatch(/no index/);
    expect(checkKeyIndex('k', ENTITY, [['I', 29_000_000, 30_000_000, 900_000]], 100_000)[0].problem).toMatch(/scattered by key .* about 96667 blocks/);
    expect(checkKeyIndex('k', ENTITY, [['I', 29_000_000, 30_000_000, 900_000], ['J', 950_000, 30_000_000, 900_000]], 100_000)).toEqual([]);
    expect(checkKeyIndex('k', ENTITY, [['I', null, null, null]], 100_000)[0].problem).toMatch(/no optimizer statistics/);
  });
});

describe('复合主键 Oracle preflight of a composite key', () => {
  const CHANGE = legacyTable(
    [
      { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
      { target: 'seq', type: 'text', source: 'seq', required: true },
      { target: 'note', type: 'text', source: 'note', required: false },
    ],
    { name: 'entity_change', category: 'history', source: { table: 'e_change', key: 'pripid', keys: ['pripid', 'seq'] } },
  );
  const mapping: Mapping = { tables: [CHANGE], codeTables: new Map() };
  const dictionary = (seq: unknown[]): ScriptedAnswer => ({ match: /FROM all_tab_columns/, rows: [['PRIPID', 'NUMBER', 'N', 20, 0], seq, ['NOTE', 'VARCHAR2', 'Y', null, null]] });

  it('each key column is checked against its own target column (where names it), the tuple for repeats by all its columns', async () => {
    const db = new ScriptedOracle(
      override(
        healthyServer(),
        dictionary(['SEQ', 'VARCHAR2', 'Y', null, null]),
        { match: /i\.uniqueness = 'UNIQUE'/, rows: [[0]] },
        { match: /GROUP BY "PRIPID", "SEQ" HAVING COUNT\(\*\) > 1/, rows: [[3]] },
      ),
    );
    const problems = await new OracleSource(SETTINGS, db.driver()).preflight(mapping);
    expect(problems).toEqual([
      { where: 'tables[0].source.key[1]', problem: expect.stringMatching(/^key E_CHANGE\.SEQ is nullable/), action: expect.any(String) },
      {
        where: 'tables[0].source.key',
        problem: expect.stringMatching(/^键不唯一 key E_CHANGE\.\(PRIPID, SEQ\) is not unique: 3 key values/),
        action: expect.stringMatching(/declare columns that are unique together in E_CHANGE as source\.key \(复合主键/),
      },
    ]);
    const unique = db.executed.find((e) => /i\.uniqueness/.test(e.sql))!;
    expect(unique.binds).toEqual({ owner_name: 'JMLEGACY', table_name: 'E_CHANGE', column_0: 'PRIPID', column_1: 'SEQ' });
    expect(unique.sql).toContain('c.column_name IN (:column_0, :column_1)) = 2');
    expect(db.executed.filter((e) => /GROUP BY/.test(e.sql)).map((e) => e.sql)).toEqual([
      'SELECT COUNT(*) FROM (SELECT "PRIPID", "SEQ" FROM "JMLEGACY"."E_CHANGE" WHERE "PRIPID" IS NOT NULL AND "SEQ" IS NOT NULL GROUP BY "PRIPID", "SEQ" HAVING COUNT(*) > 1)',
    ]);
    // a unique index on exactly the key's columns spares the count
    const indexed = new ScriptedOracle(override(healthyServer(), dictionary(['SEQ', 'VARCHAR2', 'N', null, null])));
    expect(await new OracleSource(SETTINGS, indexed.driver()).preflight(mapping)).toEqual([]);
    expect(indexed.executed.some((e) => /GROUP BY/.test(e.sql))).toBe(false);
  });

  it('a key column of a type keyset chunks cannot range over is named; under ORACLE_CHUNKING=rowid the table is said to be read in key ranges (a warning), its index still checked', async () => {
    const dated = new ScriptedOracle(override(healthyServer(), dictionary(['SEQ', 'DATE', 'N', null, null])));
    const problems = await new OracleSource(SETTINGS, dated.driver()).preflight(mapping);
    expect(problems).toContainEqual({ where: 'tables[0].source', problem: 'E_CHANGE: 复合主键 composite key column SEQ has type DATE; keyset chunks need NUMBER or character key columns', action: expect.any(String) });

    const rowid = new ScriptedOracle(override(healthyServer(), dictionary(['SEQ', 'VARCHAR2', 'N', null, null]), { match: /FROM dba_extents WHERE ROWNUM/, rows: [['AAAAAB']] }));
    const warned = await new OracleSource({ ...SETTINGS, chunking: 'rowid' }, rowid.driver()).preflight(mapping);
    expect(warned).toEqual([
      {
        where: 'tables[0].source.key',
        severity: 'warning',
        problem: expect.stringMatching(/^复合主键 composite key E_CHANGE\.\(PRIPID, SEQ\): ORACLE_CHUNKING=rowid does not apply to this table — it is planned and read in key ranges/),
        action: expect.any(String),
      },
    ]);
    expect(rowid.executed.some((e) => /^SELECT i\.index_name, i\.clustering_factor/.test(e.sql) && e.binds.column_name === 'PRIPID')).toBe(true);
  });
});
