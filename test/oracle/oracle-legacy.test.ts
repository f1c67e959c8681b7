import type { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { decodeLine, textOf } from '../../migration/copy-text';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { oracleOptionsFromEnv } from '../../migration/oracle/config';
import type { OracleConnection, OraclePool } from '../../migration/oracle/driver';
import { loadOracleDriver } from '../../migration/oracle/driver';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { isSourceRejection } from '../../migration/source-rejection';

/**
 * The legacy as it really is, against a real Oracle (npm run test:oracle; it says "did not run" without
 * ORACLE_URL). The list the scripted unit tests cannot prove:
 * 1. the preflight on a real dictionary: version, character sets, the AS OF probe of an owned table;
 * 2. NVARCHAR2 and bytes the database character set does not define (garbled text → quarantine);
 * 3. fetchArraySize 2 with CLOBs (LOB queries are not prefetched in Thin mode);
 * 4. a corrupt stored DATE (month 0, made with DBMS_STATS.CONVERT_RAW_VALUE) → quarantined, not a failed chunk;
 * 5. an SCN too old (ORA-08181) and DDL after the SCN (ORA-01466) → non-retryable failures at once;
 * 6. on a ZHS16GBK database (NLS_CHARACTERSET says which): the chunk query counts stored '?'.
 * ORA-01555 forced with a tiny undo needs ALTER SYSTEM and a second session writing: it is checked by
 * the unit tests on the driver's error object, and by the DBA rehearsal, not here.
 */
const options = oracleOptionsFromEnv();
if (!options) throw new Error('no Oracle configured: set ORACLE_URL (npm run test:oracle explains)');

const T = `jm_lg_${process.pid}`;
const table = (over: Partial<TableMapping> & Pick<TableMapping, 'columns'>): TableMapping => ({
  name: 'lg_entity',
  title: 'legacy as it is',
  category: 'entity',
  source: { table: T, key: 'pripid' },
  target: { table: 'lg_entity', checks: [] },
  ...over,
});
const ENTITY = table({
  columns: [
    { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
    { target: 'entname', type: 'text', source: 'entname', required: true },
    { target: 'nname', type: 'text', source: 'nname', required: false },
    { target: 'estdate', type: 'date', source: 'estdate', required: false },
    { target: 'opscope', type: 'text', source: 'opscope', required: false },
  ],
});

let admin: OraclePool;
let conn: OracleConnection;
let source: OracleSource;

async function items(stream: Readable): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const batch of stream) for (const item of batch as unknown[]) out.push(typeof item === 'string' ? decodeLine(textOf(item)) : item);
  return out;
}

beforeAll(async () => {
  const driver = loadOracleDriver(options.clientLibDir);
  admin = await driver.createPool({ user: options.user, password: options.password, connectString: options.connectString, poolMin: 0, poolMax: 1, poolIncrement: 1 });
  conn = await admin.getConnection();
  await conn.execute(`CREATE TABLE ${T} (pripid NUMBER(20) NOT NULL PRIMARY KEY, entname VARCHAR2(200), nname NVARCHAR2(100), estdate DATE, opscope CLOB)`);
  for (let i = 1; i <= 5; i++) {
    await conn.execute(`INSERT INTO ${T} VALUES (:id, :name, :nname, TO_DATE('2003-05-12 14:23:11', 'YYYY-MM-DD HH24:MI:SS'), TO_CLOB(:scope))`, {
      id: i,
      name: `江门市第${i}公司`,
      nname: `江门${i}`,
      scope: '经营范围'.repeat(1000 * i),
    });
  }
  // 6: bytes that are not a character of the database character set, stored as they came (pass-through)
  await conn.execute(`INSERT INTO ${T} (pripid, entname) VALUES (6, UTL_RAW.CAST_TO_VARCHAR2(HEXTORAW('E6B19FFF8080')))`);
  // 7: a DATE with month 0 and day 0, as old OCI programs wrote them (no validation on the way in)
  await conn.execute(`DECLARE d DATE; BEGIN DBMS_STATS.CONVERT_RAW_VALUE(HEXTORAW('78670000010101'), d); INSERT INTO ${T} (pripid, entname, estdate) VALUES (7, 'corrupt', d); END;`);
  await conn.execute('COMMIT');
  // the preflight judges the key's index by its statistics
  await conn.execute(`BEGIN DBMS_STATS.GATHER_TABLE_STATS(USER, '${T.toUpperCase()}'); END;`);
  source = new OracleSource({ ...options, fetchArraySize: 2, lobFetchArraySize: 2 });
});

afterAll(async () => {
  await source?.close();
  await conn?.execute(`DROP TABLE ${T} PURGE`).catch(() => undefined);
  await conn?.close();
  await admin?.close(0);
});

it('1. the preflight reads the real dictionary and finds no problem with an owned, indexed table', async () => {
  const mapping: Mapping = { tables: [ENTITY], codeTables: new Map() };
  const problems = await source.preflight(mapping);
  // undo settings need SELECT on V_$PARAMETER, which a fresh test user may lack: that is reported, not thrown
  const others = problems.filter((p) => p.where !== 'oracle.undo');
  expect(others).toEqual([]);
});

it('2-4. NVARCHAR2 read, garbled bytes and a corrupt DATE quarantined, CLOBs two rows at a time', async () => {
  const scn = await source.readPoint();
  const all = await items(await source.readChunk(ENTITY, { id: 'all', keyFrom: null, keyTo: null }, scn));
  expect(all).toHaveLength(7);
  expect((all[0] as string[]).slice(0, 4)).toEqual(['1', '江门市第1公司', '江门1', '2003-05-12']);
  expect((all[4] as string[])[4]).toBe('经营范围'.repeat(5000));
  expect(isSourceRejection(all[5])).toBe(true);
  expect(all[5]).toMatchObject({ key: '6', column: 'ENTNAME', rule: expect.stringMatching(/^invalid_text:(unconvertible|substituted)$/) });
  expect(all[6]).toMatchObject({ key: '7', column: 'ESTDATE', rule: 'invalid_date:corrupt' });
});

it('5. an SCN too old and DDL after the SCN stop at once (non-retryable)', async () => {
  const tooOld = await source.countRows(ENTITY, '1').catch((e: unknown) => e);
  expect(tooOld).toBeInstanceOf(ApplicationFailure);
  expect((tooOld as ApplicationFailure).nonRetryable).toBe(true);
  expect((tooOld as ApplicationFailure).type).toMatch(/OracleScnTooOld|OracleSnapshotTooOld|OracleDefinitionChanged/);

  const before = await source.readPoint();
  await new Promise((r) => setTimeout(r, 2000));
  await conn.execute(`ALTER TABLE ${T} ADD (memo VARCHAR2(10))`);
  const changed = await source.countRows(ENTITY, before).catch((e: unknown) => e);
  expect(changed).toBeInstanceOf(ApplicationFailure);
  expect((changed as ApplicationFailure).type).toBe('OracleDefinitionChanged');
});

it('6. the chunk query counts stored question marks exactly when the database is not Unicode', async () => {
  const r = await conn.execute("SELECT value FROM nls_database_parameters WHERE parameter = 'NLS_CHARACTERSET'");
  const charset = String(r.rows?.[0]?.[0]);
  const unicode = charset === 'AL32UTF8' || charset === 'UTF8';
  console.log(`test:oracle: database character set ${charset}${unicode ? ' — the ZHS16GBK path needs a ZHS16GBK database to run' : ''}`);
  await conn.execute(`UPDATE ${T} SET entname = '江门(?)店' WHERE pripid = 2`);
  await conn.execute('COMMIT');
  const fresh = new OracleSource({ ...options });
  try {
    const rows = await items(await fresh.readChunk(ENTITY, { id: 'c', keyFrom: '1', keyTo: '2' }, null));
    // a real '?' is loaded on either kind of database
    expect((rows[0] as string[])[1]).toBe('江门(?)店');
  } finally {
    await fresh.close();
  }
});
