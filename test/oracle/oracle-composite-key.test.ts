import type { Readable } from 'node:stream';
import { compareTuples, decodeKey, keyIndexes, keyOrders, lineKey, type KeyTuple } from '../../migration/composite-key';
import type { TableMapping } from '../../migration/mapping';
import { oracleOptionsFromEnv } from '../../migration/oracle/config';
import type { OracleConnection, OraclePool } from '../../migration/oracle/driver';
import { loadOracleDriver } from '../../migration/oracle/driver';
import { OracleSource } from '../../migration/oracle/oracle-source';

/**
 * 复合主键 Composite keys against a real Oracle (npm run test:oracle; not run where no Oracle is configured — the
 * unit tests' PostgreSQL model, test/unit/oracle-composite-key.test.ts, is the proof there). A table keyed by
 * (NUMBER, VARCHAR2) whose tuples share leading values, read in chunks of two rows by the adapter, mapped twice:
 * the NUMBER column to a numeric target (compared as itself) and to a text target (compared as its text,
 * '10' < '9'). Every row must be read once, in the engine's tuple order, each chunk within its bounds.
 */
const options = oracleOptionsFromEnv();
if (!options) throw new Error('no Oracle configured: set ORACLE_URL (npm run test:oracle explains)');

const TABLE_NAME = `jm_ck_${process.pid}`;
const KEYS: [number | string, string][] = [
  [1, 'b'],
  [1, 'a'],
  [1, 'a '],
  [1, 'B'],
  [10, 'a'],
  [9, '中'],
  ['-0.5', 'z'],
  [2, 'x'],
  [2, 'y'],
  [100, 'a'],
];

function mapped(firstType: 'numeric' | 'text'): TableMapping {
  return {
    name: `ck_${firstType}`,
    title: 'composite',
    category: 'history',
    source: { table: TABLE_NAME, key: 'k1', keys: ['k1', 'k2'] },
    target: { table: `ck_${firstType}`, checks: [] },
    columns: [
      { target: 'k1', type: firstType, source: 'k1', required: true },
      { target: 'k2', type: 'text', source: 'k2', required: true },
      { target: 'note', type: 'text', source: 'note', required: false },
    ],
  };
}

let admin: OraclePool;
let conn: OracleConnection;
let source: OracleSource;

async function keysOf(stream: Readable, table: TableMapping): Promise<KeyTuple[]> {
  const out: KeyTuple[] = [];
  const indexes = keyIndexes(table);
  for await (const batch of stream) {
    for (const item of batch as unknown[]) {
      if (typeof item !== 'string') throw new Error(`a row was rejected: ${JSON.stringify(item)}`);
      out.push(decodeKey(lineKey(item, indexes), indexes.length));
    }
  }
  return out;
}

beforeAll(async () => {
  const driver = loadOracleDriver();
  const { password, user, connectString } = options;
  admin = await driver.createPool({ user, password, connectString, poolMin: 0, poolMax: 1, poolIncrement: 1 });
  conn = await admin.getConnection();
  await conn.execute(`CREATE TABLE ${TABLE_NAME} (k1 NUMBER NOT NULL, k2 VARCHAR2(8) NOT NULL, note VARCHAR2(20), PRIMARY KEY (k1, k2))`);
  for (const [k1, k2] of KEYS) await conn.execute(`INSERT INTO ${TABLE_NAME} VALUES (TO_NUMBER(:k1), :k2, 'n')`, { k1: String(k1), k2 });
  await conn.execute('COMMIT');
  source = new OracleSource(options);
});

afterAll(async () => {
  await source?.close();
  await conn?.execute(`DROP TABLE ${TABLE_NAME} PURGE`).catch(() => undefined);
  await conn?.close();
  await admin?.close(0);
});

it.each(['numeric', 'text'] as const)('reads every row once, in the engine’s tuple order, chunk by chunk (k1 to a %s target)', async (firstType) => {
  const table = mapped(firstType);
  const orders = keyOrders(table);
  const scn = await source.readPoint();
  const chunks = await source.planChunks(table, 2, scn);
  expect(chunks.length).toBeGreaterThanOrEqual(5);
  const read: KeyTuple[] = [];
  for (const chunk of chunks) {
    const keys = await keysOf(await source.readChunk(table, chunk, scn), table);
    for (const k of keys) {
      if (chunk.keyFrom !== null) expect(compareTuples(k, decodeKey(chunk.keyFrom, 2), orders)).toBeGreaterThan(0);
      if (chunk.keyTo !== null) expect(compareTuples(k, decodeKey(chunk.keyTo, 2), orders)).toBeLessThanOrEqual(0);
    }
    read.push(...keys);
  }
  expect(read).toHaveLength(KEYS.length);
  for (let i = 1; i < read.length; i++) expect(compareTuples(read[i - 1], read[i], orders)).toBeLessThan(0);
  expect(await source.countRows(table, scn)).toBe(KEYS.length);
});

it('the preflight proves the tuple unique by its primary key, and counts repeats where no unique index does', async () => {
  const table = mapped('numeric');
  const unique = await source.preflight({ tables: [table], codeTables: new Map() });
  expect(unique.filter((p) => /键不唯一|复合主键/.test(p.problem))).toEqual([]);
  const loose = `${TABLE_NAME}_l`;
  await conn.execute(`CREATE TABLE ${loose} AS SELECT * FROM ${TABLE_NAME}`);
  try {
    await conn.execute(`INSERT INTO ${loose} VALUES (1, 'a', 'again')`);
    await conn.execute('COMMIT');
    const problems = await source.preflight({ tables: [{ ...table, source: { ...table.source, table: loose } }], codeTables: new Map() });
    expect(problems.filter((p) => /键不唯一/.test(p.problem)).map((p) => p.problem)).toEqual([expect.stringMatching(/\.\(K1, K2\) is not unique: 1 key values/)]);
  } finally {
    await conn.execute(`DROP TABLE ${loose} PURGE`).catch(() => undefined);
  }
});
