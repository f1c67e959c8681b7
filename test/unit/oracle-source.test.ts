import { inspect } from 'node:util';
import type { Readable } from 'node:stream';
import { textOf } from '../../migration/copy-text';
import type { TableMapping } from '../../migration/mapping';
import { OracleConfigError, oracleOptionsFromEnv, parseOracleUrl, validateOracleOptions } from '../../migration/oracle/config';
import type {
  OracleBinds,
  OracleConnection,
  OracleDriver,
  OracleExecuteOptions,
  OracleExecuteResult,
  OraclePool,
  OraclePoolAttributes,
  OracleResultSet,
} from '../../migration/oracle/driver';
import { loadOracleDriver } from '../../migration/oracle/driver';
import { chunksFromBoundaries } from '../../migration/oracle/chunk-plan';
import { OracleSource, oracleFetchTypeHandler } from '../../migration/oracle/oracle-source';
import { isSourceRejection } from '../../migration/source-rejection';
import { placeholders } from './oracle-scripted';

/**
 * The adapter's fetch loop against a scripted stand-in for an oracledb connection (no Oracle server
 * can run here; the real one is exercised by test/oracle). The constants are the real driver's.
 */
const real = loadOracleDriver();

const TABLE: TableMapping = {
  name: 'market_entity',
  title: 'entities',
  category: 'entity',
  source: { table: 'e_baseinfo', key: 'pripid' },
  target: { table: 'market_entity', checks: [] },
  columns: [
    { target: 'pripid', type: 'text', source: 'pripid', required: true },
    { target: 'entname', type: 'text', source: 'entname', required: true },
    { target: 'regcap', type: 'numeric', source: 'regcap', required: false },
    { target: 'estdate', type: 'date', source: 'estdate', required: false },
    { target: 'opscope', type: 'text', source: 'opscope', required: false },
    { target: 'photo', type: 'text', source: 'photo', required: false },
  ],
};

const DICTIONARY = [
  ['PRIPID', 'NUMBER'],
  ['ENTNAME', 'NVARCHAR2'],
  ['REGCAP', 'NUMBER'],
  ['ESTDATE', 'DATE'],
  ['OPSCOPE', 'CLOB'],
  ['PHOTO', 'BLOB'],
];

function row(i: number, name = `企业${i}`): unknown[] {
  return [String(i), name, '123456789012345678901.25', ' 2003-05-12 14:23:11', null, Buffer.from([i])];
}

class FakeResultSet implements OracleResultSet {
  readonly metaData = [];
  getRowsCalls = 0;
  closed = false;
  events: string[];
  private pos = 0;
  constructor(
    private readonly rows: unknown[][],
    events: string[],
    private readonly opts: { failOnCall?: number; delayMs?: number } = {},
  ) {
    this.events = events;
  }
  async getRows(n: number): Promise<unknown[][]> {
    this.getRowsCalls++;
    if (this.closed) throw new Error('NJS-018: invalid ResultSet');
    if (this.opts.delayMs) await new Promise((r) => setTimeout(r, this.opts.delayMs));
    if (this.getRowsCalls === this.opts.failOnCall) throw new Error('ORA-03113: end-of-file on communication channel');
    const out = this.rows.slice(this.pos, this.pos + n);
    this.pos += out.length;
    this.events.push(`getRows:${out.length}`);
    return out;
  }
  async close(): Promise<void> {
    this.closed = true;
    this.events.push('rs.close');
  }
}

class FakeConnection implements OracleConnection {
  closed = false;
  constructor(
    private readonly db: FakeDb,
    private readonly n: number,
  ) {}
  async execute(sql: string, binds: OracleBinds = {}, options: OracleExecuteOptions = {}): Promise<OracleExecuteResult> {
    this.db.executed.push({ sql, binds, options });
    // a server refuses a statement whose binds are not exactly its placeholders (ORA-01008 / NJS-098)
    if (placeholders(sql).join() !== Object.keys(binds).sort().join()) throw new Error(`binds ${Object.keys(binds)} do not match ${sql}`);
    if (sql.startsWith('ALTER SESSION')) return {};
    if (sql.includes('all_tab_columns')) return { rows: this.db.dictionary };
    if (sql.includes("parameter = 'NLS_CHARACTERSET'")) return { rows: [['AL32UTF8']] };
    if (sql.includes('DBMS_FLASHBACK')) return { rows: [['8124650033']] };
    if (sql.includes('ROW_NUMBER()')) return { rows: this.db.boundaries.map((b) => [b]) };
    if (sql.startsWith('SELECT COUNT(*)')) return { rows: [[this.db.rowCount]] };
    if (options.resultSet) {
      this.db.resultSet = new FakeResultSet(this.db.chunkRows, this.db.events, this.db.resultSetOptions);
      return { resultSet: this.db.resultSet };
    }
    throw new Error(`unscripted SQL: ${sql}`);
  }
  async close(): Promise<void> {
    this.closed = true;
    this.db.events.push(`conn${this.n}.close`);
  }
}

class FakeDb implements OraclePool {
  executed: { sql: string; binds: OracleBinds; options: OracleExecuteOptions }[] = [];
  connections: FakeConnection[] = [];
  events: string[] = [];
  dictionary: unknown[][] = DICTIONARY;
  boundaries: string[] = [];
  rowCount: unknown = 0;
  chunkRows: unknown[][] = [];
  resultSetOptions: { failOnCall?: number; delayMs?: number } = {};
  resultSet: FakeResultSet | null = null;
  poolAttributes: OraclePoolAttributes | null = null;
  poolClosed = false;
  async getConnection(): Promise<OracleConnection> {
    const c = new FakeConnection(this, this.connections.length);
    this.connections.push(c);
    return c;
  }
  async close(): Promise<void> {
    this.poolClosed = true;
  }
  /** the real driver's constants, this fake's pool */
  driver(): OracleDriver {
    return Object.assign(Object.create(real) as OracleDriver, {
      createPool: async (attrs: OraclePoolAttributes) => {
        this.poolAttributes = attrs;
        return this;
      },
    });
  }
}

const SETTINGS = { user: 'jmlegacy', password: 's3cret-Pa55', connectString: 'db:1521/FREEPDB1', fetchArraySize: 2 };

function source(db: FakeDb, extra: object = {}): OracleSource {
  return new OracleSource({ ...SETTINGS, ...extra }, db.driver());
}

/** The stream yields one batch per fetch; the rows, flattened, and the batch sizes. */
async function collect(stream: Readable, sizes: number[] = []): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const batch of stream) {
    sizes.push((batch as unknown[]).length);
    // rows travel as binary strings (their UTF-8 bytes); the assertions read text
    out.push(...(batch as unknown[]).map((item) => (typeof item === 'string' ? textOf(item) : item)));
  }
  return out;
}

const allReleased = (db: FakeDb): boolean => db.connections.every((c) => c.closed);

describe('OracleSource against a scripted connection', () => {
  it('readPoint pins the session, returns the SCN as text and hands the connection back', async () => {
    const db = new FakeDb();
    const src = source(db);
    expect(await src.readPoint()).toBe('8124650033');
    expect(db.executed[0].sql).toMatch(/^ALTER SESSION SET TIME_ZONE = '\+00:00'/);
    expect(allReleased(db)).toBe(true);
    expect(db.poolAttributes).toMatchObject({ user: 'jmlegacy', password: 's3cret-Pa55', connectString: 'db:1521/FREEPDB1', poolMax: 4 });
    await src.close();
    expect(db.poolClosed).toBe(true);
  });

  it('planChunks turns every n-th key into contiguous ranges open at both ends', async () => {
    const db = new FakeDb();
    db.boundaries = ['100', '200', '200', '300'];
    const chunks = await source(db).planChunks(TABLE, 100);
    expect(chunks).toEqual([
      { id: 'market_entity:000000', keyFrom: null, keyTo: '100' },
      { id: 'market_entity:000001', keyFrom: '100', keyTo: '200' },
      { id: 'market_entity:000002', keyFrom: '200', keyTo: '300' },
      { id: 'market_entity:000003', keyFrom: '300', keyTo: null },
    ]);
    const plan = db.executed.find((e) => e.sql.includes('ROW_NUMBER()'))!;
    expect(plan.binds).toEqual({ chunk_rows: 100 });
    expect(allReleased(db)).toBe(true);
  });

  it('countRows counts the table as of the read point, for count reconciliation, and refuses a non-count', async () => {
    const db = new FakeDb();
    db.rowCount = 83334;
    expect(await source(db).countRows(TABLE, '8124650033')).toBe(83334);
    const count = db.executed.find((e) => e.sql.startsWith('SELECT COUNT(*)'))!;
    expect(count.sql).toBe('SELECT COUNT(*) AS row_count FROM "E_BASEINFO" AS OF SCN :read_scn');
    expect(count.binds).toEqual({ read_scn: '8124650033' });
    expect(allReleased(db)).toBe(true);
    db.rowCount = null;
    await expect(source(db).countRows(TABLE, null)).rejects.toThrow('Oracle returned no row count for e_baseinfo (got null)');
  });

  it('a small table is one chunk', () => {
    expect(chunksFromBoundaries('t', [])).toEqual([{ id: 't:000000', keyFrom: null, keyTo: null }]);
  });

  it('streams a chunk batch by batch, converted, in order, and releases everything at the end', async () => {
    const db = new FakeDb();
    db.chunkRows = [1, 2, 3, 4, 5].map((i) => row(i));
    const stream = await source(db).readChunk(TABLE, { id: 'c', keyFrom: '0', keyTo: '5' }, '8124650033');
    const sizes: number[] = [];
    const rows = await collect(stream, sizes);
    expect(sizes).toEqual([2, 2, 1]);
    expect(rows).toHaveLength(5);
    // rows travel as escaped COPY lines: NULL is \N, the backslash of the RAW's \x01 is escaped
    expect(rows[0]).toEqual(['1', '企业1', '123456789012345678901.25', '2003-05-12', '\\N', '\\\\x01'].join('\t'));
    expect(rows.map((r) => (r as string).split('\t')[0])).toEqual(['1', '2', '3', '4', '5']);
    // conn0 read the dictionary; conn1 reads the chunk: 2 + 2 + 1 rows, a short batch ends it
    // without an extra round trip, then the result set closes before its connection goes back
    expect(db.events).toEqual(['conn0.close', 'getRows:2', 'getRows:2', 'getRows:1', 'rs.close', 'conn1.close']);
    const query = db.executed.find((e) => e.options.resultSet)!;
    expect(query.sql).toContain('AS OF SCN :read_scn');
    expect(query.sql).toContain(`TO_CHAR("ESTDATE", 'SYYYY-MM-DD HH24:MI:SS') AS "ESTDATE"`);
    expect(query.binds).toEqual({ read_scn: '8124650033', key_lo: '0', key_hi: '5' });
    expect(query.options).toMatchObject({ fetchArraySize: 2, prefetchRows: 2, outFormat: real.OUT_FORMAT_ARRAY });
    expect(query.options.fetchTypeHandler).toBeInstanceOf(Function);
    expect(allReleased(db)).toBe(true);
  });

  it('hands a row it cannot convert to quarantine and keeps streaming the rest', async () => {
    const db = new FakeDb();
    db.chunkRows = [row(1), row(2, '江门\u0000公司'), row(3)];
    const items = await collect(await source(db).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, null));
    expect(items).toHaveLength(3);
    expect(isSourceRejection(items[0])).toBe(false);
    expect(isSourceRejection(items[2])).toBe(false);
    const rejected = items[1];
    expect(isSourceRejection(rejected)).toBe(true);
    expect(rejected).toMatchObject({
      kind: 'source-rejection',
      rule: 'invalid_text:nul',
      column: 'ENTNAME',
      key: '2',
      detail: 'ENTNAME: NUL character at position 2',
    });
    expect((rejected as { fields: unknown[] }).fields[1]).toBe('江门\\u0000公司');
  });

  it('reads no further than the consumer asks (backpressure)', async () => {
    const db = new FakeDb();
    db.chunkRows = Array.from({ length: 1000 }, (_, i) => row(i + 1));
    const stream = await source(db).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, null);
    stream.read(0); // start, as a consumer attaching would
    await new Promise((r) => setTimeout(r, 50));
    // highWaterMark is one batch: the buffer holds one fetched batch, the next fetch waits for a reader
    expect(db.resultSet!.getRowsCalls).toBeLessThanOrEqual(2);
    const rest = await collect(stream);
    expect(rest).toHaveLength(1000);
    expect(allReleased(db)).toBe(true);
  });

  it('a failed fetch errors the stream and still closes the result set and the connection', async () => {
    const db = new FakeDb();
    db.chunkRows = Array.from({ length: 10 }, (_, i) => row(i + 1));
    db.resultSetOptions = { failOnCall: 2 };
    const stream = await source(db).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, null);
    await expect(collect(stream)).rejects.toThrow(/ORA-03113/);
    expect(db.resultSet!.closed).toBe(true);
    expect(allReleased(db)).toBe(true);
  });

  it('destroying the stream mid-fetch waits for the fetch, then releases both', async () => {
    const db = new FakeDb();
    db.chunkRows = Array.from({ length: 10 }, (_, i) => row(i + 1));
    db.resultSetOptions = { delayMs: 30 };
    const stream = await source(db).readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, null);
    stream.read(0);
    await new Promise((r) => setTimeout(r, 5)); // first fetch in flight
    const closed = new Promise((r) => stream.once('close', r));
    stream.destroy();
    await closed;
    expect(db.events).toEqual(['conn0.close', 'getRows:2', 'rs.close', 'conn1.close']);
    expect(allReleased(db)).toBe(true);
  });

  it('a failing chunk query releases its connection', async () => {
    const db = new FakeDb();
    const src = source(db);
    jest.spyOn(FakeConnection.prototype, 'execute').mockImplementation(async function (this: FakeConnection, sql: string) {
      if (sql.startsWith('ALTER SESSION')) return {};
      if (sql.includes('all_tab_columns')) return { rows: DICTIONARY };
      throw new Error('ORA-01555: snapshot too old');
    });
    try {
      await expect(src.readChunk(TABLE, { id: 'c', keyFrom: null, keyTo: null }, '1')).rejects.toThrow(/ORA-01555/);
    } finally {
      jest.restoreAllMocks();
    }
    expect(allReleased(db)).toBe(true);
  });

  it('a mapping that does not fit the legacy table stops before any chunk, naming the column', async () => {
    const db = new FakeDb();
    db.dictionary = DICTIONARY.filter(([name]) => name !== 'REGCAP');
    await expect(source(db).planChunks(TABLE, 100)).rejects.toThrow(/column REGCAP \(mapped to regcap\) does not exist/);
    expect(db.executed.some((e) => e.sql.includes('ROW_NUMBER()'))).toBe(false);
    expect(allReleased(db)).toBe(true);
  });

  it('never shows the password', () => {
    const src = source(new FakeDb());
    expect(JSON.stringify(src)).not.toContain('s3cret');
    expect(inspect(src, { depth: 5 })).not.toContain('s3cret');
  });
});

describe('fetch types requested from the real driver', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DB_TYPE_CONVERSION_MAP } = require('oracledb/lib/types.js') as { DB_TYPE_CONVERSION_MAP: Map<unknown, Map<unknown, unknown>> };
  const handler = oracleFetchTypeHandler(real);

  it.each([
    ['DB_TYPE_NUMBER', 'DB_TYPE_VARCHAR'],
    ['DB_TYPE_CLOB', 'DB_TYPE_VARCHAR'],
    ['DB_TYPE_NCLOB', 'DB_TYPE_VARCHAR'],
    ['DB_TYPE_BLOB', 'DB_TYPE_RAW'],
  ] as const)('%s is fetched as %s, a conversion the driver supports', (from, to) => {
    const result = handler({ name: 'C', dbType: real[from] });
    expect(result?.type).toBe(real[to]);
    expect(DB_TYPE_CONVERSION_MAP.get(real[from])?.has(real[to])).toBe(true);
  });

  it.each(['DB_TYPE_VARCHAR', 'DB_TYPE_NVARCHAR', 'DB_TYPE_CHAR', 'DB_TYPE_RAW', 'DB_TYPE_BINARY_DOUBLE'] as const)('%s keeps its default', (t) => {
    expect(handler({ name: 'C', dbType: real[t] })).toBeUndefined();
  });

  it('every constant the adapter relies on exists in the installed oracledb, in thin mode', () => {
    for (const key of Object.keys(real).filter((k) => k.startsWith('DB_TYPE_'))) expect(real[key as keyof OracleDriver]).toBeDefined();
    for (const key of ['DB_TYPE_NUMBER', 'DB_TYPE_TIMESTAMP_LTZ', 'DB_TYPE_LONG_RAW', 'DB_TYPE_ROWID', 'OUT_FORMAT_ARRAY'] as const) {
      expect(real[key]).toBeDefined();
    }
    expect(real.thin).toBe(true);
  });
});

describe('Oracle settings', () => {
  it('parses ORACLE_URL into user, password and an Easy Connect string', () => {
    expect(parseOracleUrl('oracle://jmlegacy:p%40ss@db.example:1522/FREEPDB1')).toEqual({
      user: 'jmlegacy',
      password: 'p@ss',
      connectString: 'db.example:1522/FREEPDB1',
    });
    expect(parseOracleUrl('oracle://u:p@db/ORCL').connectString).toBe('db:1521/ORCL');
  });

  it.each([
    ['postgres://u:p@h/db', /ORACLE_URL: scheme is "postgres:"/],
    ['oracle://u@h/db', /ORACLE_URL: no password/],
    ['oracle://u:p@h', /ORACLE_URL: no service name/],
    ['not a url', /ORACLE_URL: not a URL/],
  ])('rejects %s naming ORACLE_URL', (url, msg) => {
    expect(() => parseOracleUrl(url)).toThrow(msg);
  });

  it('reads the environment, naming the variable at fault and never echoing the password', () => {
    expect(oracleOptionsFromEnv({})).toBeNull();
    const ok = oracleOptionsFromEnv({ ORACLE_URL: 'oracle://u:hunter2@h/db', ORACLE_SCHEMA: 'jmlegacy', ORACLE_FETCH_ARRAY_SIZE: '5000' });
    expect(ok).toMatchObject({ user: 'u', schema: 'jmlegacy', fetchArraySize: 5000, chunking: 'key', naiveUtcOffset: '+08:00' });
    const bad = (env: NodeJS.ProcessEnv): string => {
      try {
        oracleOptionsFromEnv(env);
      } catch (err) {
        expect(err).toBeInstanceOf(OracleConfigError);
        return (err as Error).message;
      }
      throw new Error('expected an OracleConfigError');
    };
    expect(bad({ ORACLE_URL: 'oracle://u:hunter2@h/db', ORACLE_FETCH_ARRAY_SIZE: 'lots' })).toMatch(/ORACLE_FETCH_ARRAY_SIZE: /);
    expect(bad({ ORACLE_URL: 'oracle://u:hunter2@h/db', ORACLE_CHUNKING: 'ntile' })).toMatch(/ORACLE_CHUNKING: /);
    expect(bad({ ORACLE_URL: 'oracle://u:hunter2@h/db', ORACLE_NAIVE_UTC_OFFSET: 'Asia/Shanghai' })).toMatch(/ORACLE_NAIVE_UTC_OFFSET: expected a UTC offset/);
    expect(bad({ ORACLE_URL: 'oracle://u:hunter2@h/db', ORACLE_SCHEMA: 'jm legacy' })).toMatch(/ORACLE_SCHEMA: /);
    const missing = bad({ ORACLE_CONNECT_STRING: 'JMPROD', ORACLE_USER: 'u' });
    expect(missing).toMatch(/ORACLE_PASSWORD: /);
    expect(bad({ ORACLE_URL: 'oracle://u:hunter2@h/db', ORACLE_POOL_MAX: '0' })).not.toContain('hunter2');
  });

  it('names the option when configured in code', () => {
    expect(() => validateOracleOptions({ ...SETTINGS, fetchArraySize: 0 })).toThrow(/fetchArraySize: /);
    expect(() => validateOracleOptions({ user: 'u', connectString: 'h/db' })).toThrow(/password: /);
  });
});
