import { ApplicationFailure } from '@temporalio/common';
import type { TableMapping } from '../../migration/mapping';
import { classifyOracleError, FATAL_ORACLE_ERRORS, oracleFailure } from '../../migration/oracle/errors';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { isSourceRejection } from '../../migration/source-rejection';
import { drain, legacyTable, njsError, oraError, ScriptedOracle, scriptedResultSet } from './oracle-scripted';

/**
 * Error classes: what no retry cures stops at the first attempt, as a non-retryable Temporal failure
 * naming the cause and the action; what a retry can cure (a dropped connection, a call timeout) stays
 * an ordinary, retried error. The errors are the installed driver's own objects.
 */
const TABLE = legacyTable([
  { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
  { target: 'entname', type: 'text', source: 'entname', required: true },
  { target: 'regcap', type: 'numeric', source: 'regcap', required: false },
  { target: 'estdate', type: 'date', source: 'estdate', required: false },
]);
const DICTIONARY = [
  ['PRIPID', 'NUMBER', 'N', 20, 0],
  ['ENTNAME', 'VARCHAR2', 'N', null, null],
  ['REGCAP', 'NUMBER', 'Y', null, null],
  ['ESTDATE', 'DATE', 'Y', null, null],
];
const SETTINGS = { user: 'jmlegacy', password: 's3cret-Pa55', connectString: 'db:1521/JMREG', fetchArraySize: 2 };

function failure(err: unknown): ApplicationFailure {
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}


describe('Oracle error classes', () => {
  it.each([
    [oraError(1555, 'snapshot too old: rollback segment number 12 with name "_SYSSMU12_1$" too small'), 'OracleSnapshotTooOld', /re-plan the whole run at a new read point/],
    [oraError(22924, 'snapshot too old'), 'OracleSnapshotTooOld', /MODIFY LOB .*\(RETENTION\)/],
    [oraError(8181, 'specified number is not a valid system change number'), 'OracleScnTooOld', /re-plan/],
    [oraError(1466, 'unable to read data - table definition has changed'), 'OracleDefinitionChanged', /no DDL during the cutover window/],
    [oraError(1031, 'insufficient privileges'), 'OraclePrivilege', /grants FLASHBACK ON/],
    [njsError(138), 'OracleThinUnsupportedServer', /Thick mode.*Instant Client/],
    [njsError(100, 871), 'OracleNationalCharset', /Thick mode/],
  ])('%s → non-retryable %s with its action', (err, type, action) => {
    const f = failure(oracleFailure(err, '读取 read E_BASEINFO'));
    expect(f.nonRetryable).toBe(true);
    expect(f.type).toBe(type);
    expect(f.message).toMatch(/^读取 read E_BASEINFO: /);
    expect(f.message).toMatch(action);
    expect(f.message).toContain((err as Error).message.split('\n')[0]);
    expect(f.details?.[0]).toMatchObject({ code: expect.stringMatching(/^(ORA|NJS)-\d+$/), action: expect.any(String) });
  });

  it.each([
    ['ORA-03113 (the driver turns it into NJS-500)', oraError(3113, 'end-of-file on communication channel')],
    ['NJS-500 connection closed', njsError(500)],
    ['NJS-123 call timeout', njsError(123, 60000)],
    ['a socket error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
  ])('%s stays retryable: the error itself is rethrown', (_name, err) => {
    expect(classifyOracleError(err)).toBeNull();
    expect(oracleFailure(err, 'x')).toBe(err);
  });

  it('each rule is one row of data with a distinct code, a Chinese cause and an action', () => {
    const codes = FATAL_ORACLE_ERRORS.map((r) => r.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const r of FATAL_ORACLE_ERRORS) {
      expect(r.cause).toMatch(/[\u4e00-\u9fff]/);
      expect(r.action.length).toBeGreaterThan(10);
      expect(r.type).toMatch(/^Oracle[A-Z]/);
    }
  });
});

describe('the adapter stops at once on fatal errors and quarantines bad rows', () => {
  const dictionary = { match: /FROM all_tab_columns/, rows: DICTIONARY };

  it('ORA-01555 when the chunk query opens: non-retryable, connection released', async () => {
    const db = new ScriptedOracle([dictionary, { match: /^SELECT "PRIPID"/, error: oraError(1555, 'snapshot too old') }]);
    const err = await new OracleSource(SETTINGS, db.driver()).readChunk(TABLE, { id: 'c7', keyFrom: '1', keyTo: '9' }, '4711').catch((e: unknown) => e);
    const f = failure(err);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toMatch(/^读取 read E_BASEINFO chunk c7: 快照过旧/);
    expect(db.allReleased()).toBe(true);
  });

  it('ORA-01555 in the middle of a fetch: the stream fails non-retryable; result set and connection are closed', async () => {
    const rs = scriptedResultSet([[1, 'a', '1', ' 2003-05-12 00:00:00'], [2, 'b', '2', null], [3, 'c', '3', null]].map(([k, ...r]) => [String(k), ...r]), {
      call: 2,
      error: oraError(1555, 'snapshot too old'),
    });
    const db = new ScriptedOracle([dictionary, { match: /^SELECT "PRIPID"/, resultSet: () => rs }]);
    const stream = await new OracleSource(SETTINGS, db.driver()).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, '4711');
    const f = failure(await drain(stream).catch((e: unknown) => e));
    expect(f.type).toBe('OracleSnapshotTooOld');
    expect(rs.closed).toBe(true);
    expect(db.allReleased()).toBe(true);
  });

  it('a dropped connection mid-fetch stays an ordinary (retried) error', async () => {
    const rs = scriptedResultSet([['1', 'a', '1', null], ['2', 'b', '2', null], ['3', 'c', '3', null]], { call: 2, error: oraError(3113, 'end-of-file on communication channel') });
    const db = new ScriptedOracle([dictionary, { match: /^SELECT "PRIPID"/, resultSet: () => rs }]);
    const err = await drain(await new OracleSource(SETTINGS, db.driver()).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, null)).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect((err as Error).message).toMatch(/NJS-500/);
    expect(db.allReleased()).toBe(true);
  });

  it('counting at an SCN that is too old (ORA-08181) and planning without FLASHBACK (ORA-01031) stop at once', async () => {
    const db = new ScriptedOracle([
      dictionary,
      { match: /^SELECT COUNT\(\*\)/, error: oraError(8181, 'specified number is not a valid system change number') },
      { match: /ROW_NUMBER\(\)/, error: oraError(1031, 'insufficient privileges') },
    ]);
    const src = new OracleSource(SETTINGS, db.driver());
    expect(failure(await src.countRows(TABLE, '4711').catch((e: unknown) => e)).type).toBe('OracleScnTooOld');
    expect(failure(await src.planChunks(TABLE, 100).catch((e: unknown) => e)).type).toBe('OraclePrivilege');
    expect(db.allReleased()).toBe(true);
  });

  it('a missing DBMS_FLASHBACK grant and a mapping that does not fit are non-retryable too', async () => {
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: DICTIONARY.slice(0, 2) },
      { match: /DBMS_FLASHBACK/, error: oraError(6550, "line 1, column 7:\nPLS-00201: identifier 'DBMS_FLASHBACK' must be declared") },
    ]);
    const src = new OracleSource(SETTINGS, db.driver());
    const scn = failure(await src.readPoint().catch((e: unknown) => e));
    expect([scn.type, scn.nonRetryable]).toEqual(['OraclePrivilege', true]);
    expect(scn.message).toMatch(/grants EXECUTE ON SYS\.DBMS_FLASHBACK to JMLEGACY/);
    const mapping = failure(await src.planChunks(TABLE, 100).catch((e: unknown) => e));
    expect([mapping.type, mapping.nonRetryable]).toEqual(['OracleMappingMismatch', true]);
    expect(mapping.message).toMatch(/column REGCAP .* does not exist/);
  });

  it('a corrupt DATE and a NUMBER infinity go to quarantine with their raw text; the rows around them load', async () => {
    const rows = [
      ['1', '江门甲', '10', ' 2003-05-12 14:23:11'],
      ['2', '江门乙', '10', ' 2003-00-00 00:00:00'],
      ['3', '江门丙', '-1e126', null],
      ['4', '江门丁', '5', null],
    ];
    const db = new ScriptedOracle([dictionary, { match: /^SELECT "PRIPID"/, resultSet: () => scriptedResultSet(rows) }]);
    const items = await drain(await new OracleSource(SETTINGS, db.driver()).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, null));
    expect(items).toHaveLength(4);
    expect(items[0]).toBe('1\t江门甲\t10\t2003-05-12');
    expect(items[1]).toMatchObject({ kind: 'source-rejection', rule: 'invalid_date:corrupt', column: 'ESTDATE', key: '2', fields: ['2', '江门乙', '10', ' 2003-00-00 00:00:00'] });
    expect(items[2]).toMatchObject({ rule: 'invalid_number:infinity', column: 'REGCAP', key: '3', fields: ['3', '江门丙', '-1e126', null] });
    expect(isSourceRejection(items[3])).toBe(false);
  });
});

describe('bounded reads', () => {
  it('every connection gets the callTimeout; a LOB table fetches fewer rows per round trip; a NOT NULL key has no IS NULL branch', async () => {
    const lobTable: TableMapping = { ...TABLE, columns: [...TABLE.columns, { target: 'opscope', type: 'text', source: 'opscope', required: false }] };
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: [...DICTIONARY, ['OPSCOPE', 'CLOB', 'Y', null, null]] },
      { match: /^SELECT "PRIPID"/, resultSet: () => scriptedResultSet([]) },
    ]);
    const src = new OracleSource({ ...SETTINGS, fetchArraySize: 5000, lobFetchArraySize: 50, callTimeoutSeconds: 120 }, db.driver());
    await drain(await src.readChunk(lobTable, { id: 'c', keyFrom: '100', keyTo: null }, '4711'));
    const query = db.executed.find((e) => e.options.resultSet)!;
    expect(query.options).toMatchObject({ fetchArraySize: 50, prefetchRows: 50 });
    expect(query.sql).toContain('WHERE "PRIPID" > :key_lo ORDER BY "PRIPID"');
    expect(query.sql).not.toContain('IS NULL');
    expect(db.connections.map((c) => c.callTimeout)).toEqual([120_000, 120_000]);
  });

  it('a nullable key keeps its rows: the last chunk still reads NULL keys', async () => {
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: [['PRIPID', 'NUMBER', 'Y', 20, 0], ...DICTIONARY.slice(1)] },
      { match: /^SELECT "PRIPID"/, resultSet: () => scriptedResultSet([]) },
    ]);
    await drain(await new OracleSource(SETTINGS, db.driver()).readChunk(TABLE, { id: 'c', keyFrom: '100', keyTo: null }, null));
    expect(db.executed.find((e) => e.options.resultSet)!.sql).toContain('("PRIPID" > :key_lo OR "PRIPID" IS NULL)');
  });
});
