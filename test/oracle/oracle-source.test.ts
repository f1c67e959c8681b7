import type { Readable } from 'node:stream';
import { decodeLine, textOf } from '../../migration/copy-text';
import type { TableMapping } from '../../migration/mapping';
import { oracleOptionsFromEnv } from '../../migration/oracle/config';
import type { OracleConnection, OraclePool } from '../../migration/oracle/driver';
import { loadOracleDriver } from '../../migration/oracle/driver';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { countQuery } from '../../migration/oracle/sql';
import { isSourceRejection } from '../../migration/source-rejection';

/**
 * Against a real Oracle (npm run test:oracle, which says so and exits 0 when none is configured).
 * Creates its own legacy table with the types real registries hold, reads it back through the
 * adapter in several chunks at one SCN, and drops it.
 */
const options = oracleOptionsFromEnv();
if (!options) throw new Error('no Oracle configured: set ORACLE_URL (npm run test:oracle explains)');

const TABLE_NAME = `jm_it_${process.pid}`;
const TABLE: TableMapping = {
  name: 'it_entity',
  title: 'integration',
  category: 'entity',
  source: { table: TABLE_NAME, key: 'pripid' },
  target: { table: 'it_entity', checks: [] },
  columns: [
    { target: 'pripid', type: 'text', source: 'pripid', required: true },
    { target: 'entname', type: 'text', source: 'entname', required: true },
    { target: 'regcap', type: 'numeric', source: 'regcap', required: false },
    { target: 'estdate', type: 'date', source: 'estdate', required: false },
    { target: 'apprtime', type: 'timestamp', source: 'apprdate', required: false },
    { target: 'opto', type: 'date', source: 'opto', required: false },
    { target: 'changed_at', type: 'timestamptz', source: 'changed_at', required: false },
    { target: 'seen_at', type: 'timestamptz', source: 'seen_at', required: false },
    { target: 'opscope', type: 'text', source: 'opscope', required: false },
    { target: 'photo', type: 'text', source: 'photo', required: false },
    { target: 'memo', type: 'text', source: 'memo', required: false },
  ],
};

let admin: OraclePool;
let conn: OracleConnection;
let source: OracleSource;

/** A chunk's rows as decoded fields, rejections as they came. */
async function rows(stream: Readable): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const batch of stream) for (const item of batch as unknown[]) out.push(typeof item === 'string' ? decodeLine(textOf(item)) : item);
  return out;
}

beforeAll(async () => {
  const driver = loadOracleDriver();
  const { password, user, connectString } = options;
  admin = await driver.createPool({ user, password, connectString, poolMin: 0, poolMax: 1, poolIncrement: 1 });
  conn = await admin.getConnection();
  await conn.execute(`CREATE TABLE ${TABLE_NAME} (
    pripid NUMBER(20) PRIMARY KEY, entname NVARCHAR2(200), regcap NUMBER, estdate DATE, apprdate DATE, opto DATE,
    changed_at TIMESTAMP(6) WITH TIME ZONE, seen_at TIMESTAMP(6) WITH LOCAL TIME ZONE, opscope CLOB, photo BLOB, memo VARCHAR2(100))`);
  const insert = `INSERT INTO ${TABLE_NAME} VALUES (:id, :name, TO_NUMBER(:cap), TO_DATE(:est, 'YYYY-MM-DD HH24:MI:SS'),
    TO_DATE(:appr, 'YYYY-MM-DD HH24:MI:SS'), TO_DATE(:opto, 'YYYY-MM-DD'),
    TO_TIMESTAMP_TZ(:chg, 'YYYY-MM-DD HH24:MI:SS.FF TZH:TZM'), TO_TIMESTAMP_TZ(:seen, 'YYYY-MM-DD HH24:MI:SS.FF TZH:TZM'),
    TO_CLOB(:scope), HEXTORAW(:photo), :memo)`;
  for (let i = 1; i <= 7; i++) {
    await conn.execute(insert, {
      id: i,
      name: i === 5 ? '江门\u0000公司' : `江门市第${i}公司\uE4C6`,
      cap: i === 2 ? '12345678901234567890123456789012345678' : `${i}.5`,
      est: i === 3 ? '2003-05-12 14:23:11' : '2003-05-12 00:00:00',
      appr: '2019-12-31 23:59:59',
      opto: '9999-09-09',
      chg: '2020-01-02 03:04:05.123456 +08:00',
      seen: '2020-01-02 03:04:05.5 +08:00',
      scope: i === 4 ? '' : '经营范围'.repeat(2000),
      photo: 'CAFE00',
      memo: '',
    });
  }
  await conn.execute('COMMIT');
  source = new OracleSource(options);
});

afterAll(async () => {
  await source?.close();
  await conn?.execute(`DROP TABLE ${TABLE_NAME} PURGE`).catch(() => undefined);
  await conn?.close();
  await admin?.close(0);
});

it('reads every row once, converted, at one SCN, across chunks', async () => {
  const scn = await source.readPoint();
  expect(scn).toMatch(/^\d+$/);
  // a row committed after the read point must not appear
  await conn.execute(`INSERT INTO ${TABLE_NAME} (pripid, entname) VALUES (8, 'late')`);
  await conn.execute('COMMIT');

  const chunks = await source.planChunks(TABLE, 3);
  expect(chunks.length).toBeGreaterThanOrEqual(3);
  const all: unknown[] = [];
  for (const chunk of chunks) all.push(...(await rows(await source.readChunk(TABLE, chunk, scn))));
  expect(all).toHaveLength(7);

  const byKey = new Map(all.map((r) => [isSourceRejection(r) ? r.key : (r as string[])[0], r]));
  expect([...byKey.keys()]).toEqual(['1', '2', '3', '4', '5', '6', '7']);
  expect(byKey.get('1')).toEqual([
    '1',
    '江门市第1公司\uE4C6',
    '1.5',
    '2003-05-12',
    '2019-12-31 23:59:59',
    '9999-09-09',
    '2020-01-02T03:04:05.123456+08:00',
    '2020-01-01T19:04:05.5+00:00',
    '经营范围'.repeat(2000),
    '\\xcafe00',
    null, // '' is NULL in Oracle
  ]);
  expect((byKey.get('2') as string[])[2]).toBe('12345678901234567890123456789012345678');
  expect((byKey.get('3') as string[])[3]).toBe('2003-05-12');
  expect((byKey.get('4') as string[])[8]).toBeNull();
  expect(byKey.get('5')).toMatchObject({ kind: 'source-rejection', rule: 'invalid_text:nul', column: 'ENTNAME', key: '5' });

  const { sql, binds } = countQuery(null, TABLE_NAME, scn);
  const counted = await conn.execute(sql, binds);
  expect(Number(counted.rows![0][0])).toBe(7);
});
