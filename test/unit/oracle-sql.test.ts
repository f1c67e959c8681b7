import type { OracleBinds } from '../../migration/oracle/driver';
import { encodeKey } from '../../migration/composite-key';
import {
  chunkQuery,
  ChunkQueryInput,
  OracleKeyPart,
  countQuery,
  describeTableSql,
  oracleIdent,
  oracleKeyExpr,
  planBoundariesQuery,
  READ_POINT_SQL,
  selectExpression,
  SESSION_SETUP_SQL,
  tableRef,
} from '../../migration/oracle/sql';

/** Every :name in the SQL has a bind and every bind is used: Oracle rejects either mismatch (ORA-01036/01008). */
function expectBindsMatch(sql: string, binds: OracleBinds): void {
  const used = new Set([...sql.matchAll(/:([a-z_][a-z0-9_]*)/g)].map((m) => m[1]));
  expect([...used].sort()).toEqual(Object.keys(binds).sort());
}

const base: ChunkQueryInput = {
  schema: null,
  table: 'e_baseinfo',
  key: 'pripid',
  columns: [
    { name: 'PRIPID', kind: 'number' },
    { name: 'ENTNAME', kind: 'text' },
  ],
  chunk: { id: 'c1', keyFrom: '100', keyTo: '200' },
  readPoint: '4711',
  chunking: 'key',
};

describe('Oracle identifiers', () => {
  it('the mapping’s lower-case names become quoted upper-case names', () => {
    expect(oracleIdent('e_baseinfo')).toBe('"E_BASEINFO"');
    expect(oracleIdent('date')).toBe('"DATE"'); // reserved words are safe quoted
    expect(oracleIdent('ALT$ITEM#')).toBe('"ALT$ITEM#"');
    expect(tableRef('jmlegacy', 'e_baseinfo')).toBe('"JMLEGACY"."E_BASEINFO"');
    expect(tableRef(null, 'e_baseinfo')).toBe('"E_BASEINFO"');
  });

  it.each(['a"b', 'x; drop table y', '', '1abc', 'a'.repeat(129), 'e baseinfo'])('refuses %j', (bad) => {
    expect(() => oracleIdent(bad)).toThrow(/not a usable Oracle identifier/);
  });
});

describe('chunk query', () => {
  it('reads one key range at the SCN, in key order, with bind variables', () => {
    const { sql, binds } = chunkQuery(base);
    expect(sql).toBe(
      'SELECT "PRIPID", "ENTNAME" FROM "E_BASEINFO" AS OF SCN :read_scn WHERE "PRIPID" > :key_lo AND "PRIPID" <= :key_hi ORDER BY "PRIPID"',
    );
    expect(binds).toEqual({ read_scn: '4711', key_lo: '100', key_hi: '200' });
  });

  it('the first chunk is open below', () => {
    const { sql, binds } = chunkQuery({ ...base, chunk: { id: 'c0', keyFrom: null, keyTo: '100' } });
    expect(sql).toContain('WHERE "PRIPID" <= :key_hi ORDER BY');
    expect(binds).toEqual({ read_scn: '4711', key_hi: '100' });
  });

  it('the last chunk is open above and takes the NULL keys, so no row is lost', () => {
    const { sql, binds } = chunkQuery({ ...base, chunk: { id: 'c9', keyFrom: '900', keyTo: null } });
    expect(sql).toContain('WHERE ("PRIPID" > :key_lo OR "PRIPID" IS NULL) ORDER BY "PRIPID"');
    expect(binds).toEqual({ read_scn: '4711', key_lo: '900' });
  });

  it('a single chunk reads the whole table', () => {
    const { sql } = chunkQuery({ ...base, chunk: { id: 'all', keyFrom: null, keyTo: null } });
    expect(sql).toBe('SELECT "PRIPID", "ENTNAME" FROM "E_BASEINFO" AS OF SCN :read_scn ORDER BY "PRIPID"');
  });

  it('without a read point it reads the current data', () => {
    const { sql, binds } = chunkQuery({ ...base, readPoint: null });
    expect(sql).not.toContain('AS OF');
    expect(binds).not.toHaveProperty('read_scn');
  });

  it('refuses a read point that is not an SCN (a PostgreSQL snapshot id, say)', () => {
    expect(() => chunkQuery({ ...base, readPoint: '00000003-0000001B-1' })).toThrow(/not an Oracle SCN/);
  });

  it('key values never enter the SQL text', () => {
    const evil = "1' OR '1'='1";
    const { sql, binds } = chunkQuery({ ...base, chunk: { id: 'x', keyFrom: evil, keyTo: evil } });
    expect(sql).not.toContain(evil);
    expect(binds.key_lo).toBe(evil);
  });

  it('qualifies the table with the configured schema', () => {
    expect(chunkQuery({ ...base, schema: 'jmlegacy' }).sql).toContain('FROM "JMLEGACY"."E_BASEINFO" AS OF SCN');
  });

  it('ROWID mode ranges over ROWIDs in ROWID order', () => {
    const { sql, binds } = chunkQuery({ ...base, chunking: 'rowid', chunk: { id: 'r', keyFrom: 'AAAR3sAAEAAAACXAAA', keyTo: 'AAAR3sAAEAAAACXAAZ' } });
    expect(sql).toBe(
      'SELECT "PRIPID", "ENTNAME" FROM "E_BASEINFO" AS OF SCN :read_scn WHERE ROWID > CHARTOROWID(:key_lo) AND ROWID <= CHARTOROWID(:key_hi) ORDER BY ROWID',
    );
    expectBindsMatch(sql, binds);
  });

  it.each([
    [{ id: 'a', keyFrom: null, keyTo: null }],
    [{ id: 'b', keyFrom: '1', keyTo: null }],
    [{ id: 'c', keyFrom: null, keyTo: '1' }],
    [{ id: 'd', keyFrom: '1', keyTo: '2' }],
  ])('binds match the SQL for %j', (chunk) => {
    for (const chunking of ['key', 'rowid'] as const) {
      for (const readPoint of ['1', null]) {
        const { sql, binds } = chunkQuery({ ...base, chunk, chunking, readPoint });
        expectBindsMatch(sql, binds);
      }
    }
  });
});

describe('select expressions: datetimes formatted by the server', () => {
  it.each([
    ['date', `TO_CHAR("D", 'SYYYY-MM-DD HH24:MI:SS') AS "D"`],
    ['timestamp', `TO_CHAR("D", 'SYYYY-MM-DD HH24:MI:SS.FF9') AS "D"`],
    ['timestamp_tz', `TO_CHAR("D", 'SYYYY-MM-DD HH24:MI:SS.FF9TZH:TZM') AS "D"`],
    ['timestamp_ltz', `TO_CHAR(CAST("D" AS TIMESTAMP WITH TIME ZONE), 'SYYYY-MM-DD HH24:MI:SS.FF9TZH:TZM') AS "D"`],
    ['number', '"D"'],
    ['clob', '"D"'],
    ['binary', '"D"'],
  ] as const)('%s', (kind, expr) => {
    expect(selectExpression('d', kind)).toBe(expr);
  });
});

describe('chunk planning', () => {
  it('keyset: every n-th non-NULL key at one pass', () => {
    const { sql, binds } = planBoundariesQuery({ schema: null, table: 'e_baseinfo', key: 'pripid', rowsPerChunk: 50000, readPoint: null });
    expect(sql).toBe(
      'SELECT boundary AS boundary FROM (SELECT "PRIPID" AS boundary, ROW_NUMBER() OVER (ORDER BY "PRIPID") AS rn FROM "E_BASEINFO" WHERE "PRIPID" IS NOT NULL) WHERE MOD(rn, :chunk_rows) = 0 ORDER BY rn',
    );
    expect(binds).toEqual({ chunk_rows: 50000 });
  });

  it.each([0, -5, 1.5, NaN])('refuses rowsPerChunk %p', (n) => {
    expect(() => planBoundariesQuery({ schema: null, table: 't', key: 'k', rowsPerChunk: n, readPoint: null })).toThrow(/rowsPerChunk/);
  });
});

describe('dictionary, read point, session', () => {
  it('describes the table in the configured schema, or the current one', () => {
    const withSchema = describeTableSql('jmlegacy', 'e_baseinfo');
    expect(withSchema.sql).toBe('SELECT column_name, data_type, nullable, data_precision, data_scale FROM all_tab_columns WHERE owner = :owner_name AND table_name = :table_name ORDER BY column_id');
    expect(withSchema.binds).toEqual({ owner_name: 'JMLEGACY', table_name: 'E_BASEINFO' });
    const current = describeTableSql(null, 'e_baseinfo');
    expect(current.sql).toContain("owner = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')");
    expectBindsMatch(current.sql, current.binds);
  });

  it('counts rows at the read point', () => {
    const { sql, binds } = countQuery(null, 'e_baseinfo', '7');
    expect(sql).toBe('SELECT COUNT(*) AS row_count FROM "E_BASEINFO" AS OF SCN :read_scn');
    expect(binds).toEqual({ read_scn: '7' });
  });

  it('reads the SCN as text', () => {
    expect(READ_POINT_SQL).toBe('SELECT TO_CHAR(DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER) AS read_scn FROM DUAL');
  });

  it('pins what would otherwise change the text we read', () => {
    expect(SESSION_SETUP_SQL).toMatch(/^ALTER SESSION SET /);
    for (const pin of ["TIME_ZONE = '+00:00'", "NLS_CALENDAR = 'GREGORIAN'", "NLS_NUMERIC_CHARACTERS = '.,'", "NLS_SORT = 'BINARY'", "NLS_COMP = 'BINARY'"]) {
      expect(SESSION_SETUP_SQL).toContain(pin);
    }
  });
});

describe('复合主键 composite keys: tuple ranges without row values', () => {
  const parts: OracleKeyPart[] = [
    { column: 'pripid', form: 'native', nullable: false },
    { column: 'seq', form: 'native', nullable: true },
  ];
  const composite: ChunkQueryInput = {
    ...base,
    table: 'e_change',
    columns: [
      { name: 'PRIPID', kind: 'number' },
      { name: 'SEQ', kind: 'text' },
    ],
    keyParts: parts,
    chunk: { id: 'c1', keyFrom: encodeKey(['100', 'b']), keyTo: encodeKey(['200', 'a']) },
  };

  it('a middle chunk: the expanded lexicographic comparison each way, the leading column also alone, NULL components excluded', () => {
    const { sql, binds } = chunkQuery(composite);
    expect(sql).toBe(
      'SELECT "PRIPID", "SEQ" FROM "E_CHANGE" AS OF SCN :read_scn WHERE ' +
        '("PRIPID" >= :key_lo_0 AND ("PRIPID" > :key_lo_0 OR ("PRIPID" = :key_lo_0 AND "SEQ" > :key_lo_1))) AND ' +
        '("PRIPID" <= :key_hi_0 AND ("PRIPID" < :key_hi_0 OR ("PRIPID" = :key_hi_0 AND "SEQ" <= :key_hi_1))) AND "SEQ" IS NOT NULL ' +
        'ORDER BY "PRIPID", "SEQ"',
    );
    expect(binds).toEqual({ read_scn: '4711', key_lo_0: '100', key_lo_1: 'b', key_hi_0: '200', key_hi_1: 'a' });
    expectBindsMatch(sql, binds);
  });

  it('the first chunk is open below; the last is open above and takes every row with a NULL key column', () => {
    const first = chunkQuery({ ...composite, chunk: { id: 'c0', keyFrom: null, keyTo: encodeKey(['100', 'b']) } });
    expect(first.sql).toContain('WHERE ("PRIPID" <= :key_hi_0 AND ("PRIPID" < :key_hi_0 OR ("PRIPID" = :key_hi_0 AND "SEQ" <= :key_hi_1))) AND "SEQ" IS NOT NULL ORDER BY');
    expect(first.binds).toEqual({ read_scn: '4711', key_hi_0: '100', key_hi_1: 'b' });
    const last = chunkQuery({ ...composite, chunk: { id: 'c9', keyFrom: encodeKey(['900', 'z']), keyTo: null } });
    expect(last.sql).toContain('WHERE (("PRIPID" >= :key_lo_0 AND ("PRIPID" > :key_lo_0 OR ("PRIPID" = :key_lo_0 AND "SEQ" > :key_lo_1))) OR "SEQ" IS NULL) ORDER BY');
    expect(last.binds).toEqual({ read_scn: '4711', key_lo_0: '900', key_lo_1: 'z' });
    // NOT NULL columns: no NULL branch (it would cost the index)
    const notNull = chunkQuery({ ...composite, keyParts: parts.map((p) => ({ ...p, nullable: false })), chunk: { id: 'c9', keyFrom: encodeKey(['900', 'z']), keyTo: null } });
    expect(notNull.sql).not.toContain('IS NULL');
    expect(chunkQuery({ ...composite, chunk: { id: 'all', keyFrom: null, keyTo: null } }).sql).toBe('SELECT "PRIPID", "SEQ" FROM "E_CHANGE" AS OF SCN :read_scn ORDER BY "PRIPID", "SEQ"');
  });

  it('three columns nest; each column is compared in its own form (a NUMBER feeding a text key as its text, a text feeding a number as its value)', () => {
    const { sql, binds } = chunkQuery({
      ...composite,
      keyParts: [
        { column: 'a', form: 'number-as-text', nullable: false },
        { column: 'b', form: 'native', nullable: false },
        { column: 'c', form: 'text-as-number', nullable: false },
      ],
      chunk: { id: 'c', keyFrom: encodeKey(['10', 'x', '3']), keyTo: null },
    });
    const a = oracleKeyExpr('a', 'number-as-text');
    const c = oracleKeyExpr('c', 'text-as-number');
    expect(sql).toContain(`WHERE ((${a} >= :key_lo_0 AND (${a} > :key_lo_0 OR (${a} = :key_lo_0 AND ("B" > :key_lo_1 OR ("B" = :key_lo_1 AND ${c} > :key_lo_2))))) OR ${c} IS NULL)`);
    expect(sql.endsWith(`ORDER BY ${a}, "B", ${c}`)).toBe(true);
    expectBindsMatch(sql, binds);
  });

  it('the backup export orders by the key columns then ROWID', () => {
    expect(chunkQuery({ ...composite, thenByRowid: true }).sql).toMatch(/ORDER BY "PRIPID", "SEQ", ROWID$/);
  });

  it('a bound with a NULL component or of another width is refused, not read as some other range', () => {
    expect(() => chunkQuery({ ...composite, chunk: { id: 'x', keyFrom: encodeKey(['1', null]), keyTo: null } })).toThrow(/no NULL component/);
    expect(() => chunkQuery({ ...composite, chunk: { id: 'x', keyFrom: '100', keyTo: null } })).toThrow(/not a composite key/);
  });

  it('planning: every n-th tuple without a NULL column, in key order, at one pass', () => {
    const { sql, binds } = planBoundariesQuery({ schema: 'reg', table: 'e_change', key: 'pripid', rowsPerChunk: 1000, readPoint: '4711', keyParts: parts });
    expect(sql).toBe(
      'SELECT boundary_0, boundary_1 FROM (SELECT "PRIPID" AS boundary_0, "SEQ" AS boundary_1, ROW_NUMBER() OVER (ORDER BY "PRIPID", "SEQ") AS rn ' +
        'FROM "REG"."E_CHANGE" AS OF SCN :read_scn WHERE "PRIPID" IS NOT NULL AND "SEQ" IS NOT NULL) b WHERE MOD(rn, :chunk_rows) = 0 ORDER BY rn',
    );
    expect(binds).toEqual({ chunk_rows: 1000, read_scn: '4711' });
  });
});
