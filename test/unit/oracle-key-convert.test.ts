import fc from 'fast-check';
import { keyRangeSql, numericPlace } from '../../migration/key-order';
import type { TableMapping } from '../../migration/mapping';
import { canonicalDecimal } from '../../migration/oracle/convert';
import { dataPumpTable, expdpParfile } from '../../migration/oracle/datapump';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { chunkQuery, describeTableSql, oracleKeyExpr, tableRef } from '../../migration/oracle/sql';
import { compareDecimal, drain, legacyTable, ScriptedOracle, scriptedResultSet, targetSession } from './oracle-scripted';

/**
 * 键的排序 The Oracle adapter keeps the key-order contract (migration/key-order.ts) when the legacy key's type
 * sorts otherwise than the target key: a NUMBER key mapped to a text target key is chunked in the target's
 * text order (binary, '10' < '9'), a VARCHAR2 key of digits mapped to a number key in numeric order (a text
 * that is no number goes to the last range). The scripted Oracle below evaluates the chunk and plan queries
 * as Oracle would: a NUMBER column compared with a text bind converts the bind to a number; the adapter's
 * conversion expressions (sql.ts oracleKeyExpr) are evaluated by their documented semantics (TO_CHAR(k, 'TM9')
 * is fixed notation without a leading zero, '.5'). Any other key expression is refused as unmodelled. The
 * target's side is a real PostgreSQL evaluating keyRangeSql, as the chunk cleanup and verification do.
 */
const target = targetSession();

const binary = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Oracle's TO_CHAR(n, 'TM9') for a number whose fixed notation fits 64 characters: no leading zero before the point. */
function tm9(n: string): string {
  return canonicalDecimal(n).replace(/^(-?)0\./, '$1.');
}
/** Oracle's REGEXP_LIKE with the adapter's decimal pattern, then TO_NUMBER of the text without blanks and plus sign */
function toNumberOrNull(k: string): string | null {
  return /^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$/.test(k) ? canonicalDecimal(k.trim().replace(/^\+/, '')) : null;
}

type Model = { value: (k: string) => string | null; cmp: (a: string, b: string) => number };

/** How the scripted Oracle evaluates the key expression the SQL compares: only the forms it knows. */
function oracleKeyModel(sql: string, column: string, legacy: 'number' | 'text'): Model {
  if (sql.includes(`${oracleKeyExpr(column, 'number-as-text')} > :key_lo`) || sql.includes(`ORDER BY ${oracleKeyExpr(column, 'number-as-text')}`)) {
    // the expression puts the leading zero back
    return { value: (k) => tm9(k).replace(/^(-?)\./, '$10.'), cmp: binary };
  }
  if (sql.includes(oracleKeyExpr(column, 'text-as-number'))) return { value: toNumberOrNull, cmp: compareDecimal };
  if (sql.includes(`ORDER BY ${oracleKeyExpr(column)}`)) {
    // the column itself: a NUMBER compares as a number (the text bind is converted), VARCHAR2 in binary
    return legacy === 'number' ? { value: (k) => k, cmp: compareDecimal } : { value: (k) => k, cmp: binary };
  }
  throw new Error(`unmodelled key expression in: ${sql}`);
}

function scriptedTable(column: string, legacy: 'number' | 'text', keys: string[]): ScriptedOracle {
  const sorted = (m: Model) =>
    keys
      .map((k) => ({ k, v: m.value(k) }))
      .sort((a, b) => (a.v === null ? (b.v === null ? 0 : 1) : b.v === null ? -1 : m.cmp(a.v, b.v)));
  const upper = column.toUpperCase();
  return new ScriptedOracle([
    { match: /FROM all_tab_columns/, rows: [[upper, legacy === 'number' ? 'NUMBER' : 'VARCHAR2', 'N', null, null], ['NAME', 'VARCHAR2', 'Y', null, null]] },
    { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
    {
      match: /ROW_NUMBER\(\)/,
      rows: (b, sql) => {
        const rows = sorted(oracleKeyModel(sql, column, legacy)).filter((r) => r.v !== null);
        const n = Number(b.chunk_rows);
        // a NUMBER boundary arrives as the driver's text of the number
        return rows.filter((_, i) => (i + 1) % n === 0).map((r) => [r.v]);
      },
    },
    {
      match: new RegExp(`^SELECT "${upper}", "NAME" FROM`),
      resultSet: (b, sql) => {
        const m = oracleKeyModel(sql, column, legacy);
        const picked = sorted(m).filter(({ v }) =>
          v === null
            ? b.key_hi === undefined && (b.key_lo === undefined || sql.includes('IS NULL'))
            : (b.key_lo === undefined || m.cmp(v, String(b.key_lo)) > 0) && (b.key_hi === undefined || m.cmp(v, String(b.key_hi)) <= 0),
        );
        return scriptedResultSet(picked.map(({ k }) => [k, `row ${k}`]));
      },
    },
  ]);
}

function table(column: string, type: 'text' | 'bigint' | 'numeric', source = 't_keys'): TableMapping {
  return legacyTable(
    [
      { target: column, type, source: column, required: true },
      { target: 'name', type: 'text', source: 'name', required: false },
    ],
    { name: 'keys', source: { table: source, key: column }, target: { table: 'keys', checks: [] } },
  );
}

/** Each chunk's keys as the adapter read them (their target text, column 0 of the COPY line). */
async function readAll(source: OracleSource, t: TableMapping, rowsPerChunk: number) {
  const chunks = await source.planChunks(t, rowsPerChunk, '8124650001');
  const read: { chunk: (typeof chunks)[number]; keys: string[]; rejected: string[]; legacy: string[] }[] = [];
  for (const chunk of chunks) {
    const items = await drain(await source.readChunk(t, chunk, '8124650001'));
    read.push({
      chunk,
      keys: items.filter((i): i is string => typeof i === 'string').map((line) => line.split('\t')[0]),
      rejected: items.filter((i) => typeof i !== 'string').map((i) => String((i as { key: string }).key)),
      // each row's legacy key as the scripted table holds it (its name column is "row <key>")
      legacy: items.map((i) => (typeof i === 'string' ? i.split('\t')[1] : String((i as { fields: string[] }).fields[1]))).map((n) => n.replace(/^row /, '').replace(/\n$/, '')),
    });
  }
  return read;
}

/** The keys a target range holds (the chunk cleanup's and the verification segment's predicate), on PostgreSQL. */
async function targetRange(keys: string[], expr: string, chunk: { keyFrom: string | null; keyTo: string | null }, options: Parameters<typeof keyRangeSql>[3] = {}): Promise<string[]> {
  const params: unknown[] = [keys];
  const where = keyRangeSql(expr, chunk, (v) => {
    params.push(v);
    return `$${params.length}`;
  }, options);
  const { rows } = await target().query<{ k: string }>(`SELECT k FROM unnest($1::text[]) AS v(k) WHERE ${where} ORDER BY k COLLATE "C"`, params);
  return rows.map((r) => r.k);
}

const sortedC = (xs: string[]) => [...xs].sort(binary);

/** Integer and decimal NUMBER values as the thin driver writes them, within fixed notation. */
const numberKey = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 0, max: 4 }))
  .map(([neg, digits, scale]) => canonicalDecimal(`${neg ? '-' : ''}${digits}e-${scale}`));

describe('a NUMBER key mapped to a text target key is chunked in the target’s text order', () => {
  it('property: every key is read by exactly one chunk, and each chunk holds exactly the keys the target’s range for it holds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(numberKey, { minLength: 1, maxLength: 40, selector: (k) => canonicalDecimal(k) }), fc.integer({ min: 1, max: 7 }), async (keys, rowsPerChunk) => {
        const db = scriptedTable('id', 'number', keys);
        const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM' }, db.driver());
        const t = table('id', 'text');
        const read = await readAll(source, t, rowsPerChunk);
        const all = read.flatMap((r) => r.keys);
        expect(sortedC(all)).toEqual(sortedC(keys.map((k) => canonicalDecimal(k))));
        for (const r of read) {
          expect(r.rejected).toEqual([]);
          // the target's cleanup of this chunk (and the verification segment) removes exactly its rows
          expect(await targetRange(all, 'k COLLATE "C"', r.chunk)).toEqual(sortedC(r.keys));
        }
        await source.close();
      }),
      { numRuns: 40 },
    );
  });

  it('a counter-example of the native order: keys 9 and 10 in separate chunks, where text order and numeric order disagree', async () => {
    const keys = ['8', '9', '10', '11'];
    const db = scriptedTable('id', 'number', keys);
    const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM' }, db.driver());
    const read = await readAll(source, table('id', 'text'), 2);
    // binary text order: '10' < '11' < '8' < '9'
    expect(read.map((r) => r.keys)).toEqual([['10', '11'], ['8', '9'], []]);
    expect(db.executed.some((e) => e.sql.includes(`TO_CHAR("ID", 'TM9')`) && e.sql.includes('ORDER BY (CASE'))).toBe(true);
    await source.close();
  });

  it('a fraction keeps its leading zero, as the target holds it: -0.5 and 0.25 are compared as "-0.5" and "0.25"', () => {
    expect(oracleKeyExpr('id', 'number-as-text')).toBe(`(CASE WHEN "ID" > -1 AND "ID" < 1 AND "ID" <> 0 THEN REPLACE(TO_CHAR("ID", 'TM9'), '.', '0.') ELSE TO_CHAR("ID", 'TM9') END)`);
    for (const k of ['-0.5', '0.25', '12.5', '-3', '0']) expect(tm9(k).replace(/^(-?)\./, '$10.')).toBe(canonicalDecimal(k));
  });
});

/** VARCHAR2 keys: digits (with signs, blanks, fractions) and texts that are no number. */
const textKey = fc.oneof(
  fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }).map(String),
  fc.tuple(fc.constantFrom('', ' ', '+', '0'), fc.nat({ max: 999 }), fc.constantFrom('', '.5', ' ')).map(([a, n, b]) => `${a}${n}${b}`),
  fc.constantFrom('A12', '12-3', 'x', '', '1e5'),
);

describe('a VARCHAR2 key mapped to a number target key is chunked in numeric order', () => {
  it('the expression: a decimal text (blanks and a sign allowed, as numericPlace on the target) as its number, anything else NULL', () => {
    expect(oracleKeyExpr('regno', 'text-as-number')).toBe(
      String.raw`(CASE WHEN REGEXP_LIKE("REGNO", '^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$') THEN TO_NUMBER(REGEXP_REPLACE("REGNO", '^\s*[+]?|\s+$')) END)`,
    );
  });

  it('property: every key is read by exactly one chunk; each chunk holds exactly what the target’s range holds by numericPlace (no number: the last range)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(textKey, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 7 }), async (keys, rowsPerChunk) => {
        const db = scriptedTable('regno', 'text', keys);
        const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM' }, db.driver());
        const t = table('regno', 'numeric');
        const read = await readAll(source, t, rowsPerChunk);
        // a key the target cannot hold is read all the same, and rejected there (quarantine), never skipped
        expect(sortedC(read.flatMap((r) => r.legacy))).toEqual(sortedC(keys));
        for (const r of read) {
          const held = await targetRange(keys, numericPlace('k'), r.chunk, { nullable: true });
          expect(sortedC(held)).toEqual(sortedC(r.legacy));
        }
        await source.close();
      }),
      { numRuns: 40 },
    );
  });
});

describe('the adapter export plans and reads with the same key comparison', () => {
  it('a NUMBER key mapped to text, ORACLE_CHUNKING=rowid: the export still plans key ranges, by the text form, and reads each in that order then ROWID', async () => {
    const db = scriptedTable('id', 'number', ['8', '9', '10', '11']);
    const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM', chunking: 'rowid' }, db.driver());
    const { stream } = await source.exportRaw(table('id', 'text'), '77', 2);
    for await (const chunk of stream) void chunk;
    const expr = oracleKeyExpr('id', 'number-as-text');
    const plan = db.executed.filter((e) => /ROW_NUMBER/.test(e.sql));
    expect(plan.map((e) => e.sql.includes(`ROW_NUMBER() OVER (ORDER BY ${expr})`))).toEqual([true]);
    const reads = db.executed.filter((e) => e.options.resultSet);
    expect(reads.length).toBeGreaterThan(1);
    for (const r of reads) expect(r.sql.endsWith(`ORDER BY ${expr}, ROWID`)).toBe(true);
    expect(db.executed.some((e) => /dba_extents/.test(e.sql))).toBe(false);
    await source.close();
  });
});

describe('schema-qualified legacy tables on Oracle', () => {
  it('schema.table names its own owner; a bare name is in ORACLE_SCHEMA', () => {
    expect(tableRef('jmlegacy', 'registry.e_baseinfo')).toBe('"REGISTRY"."E_BASEINFO"');
    expect(tableRef('jmlegacy', 'e_baseinfo')).toBe('"JMLEGACY"."E_BASEINFO"');
    expect(tableRef(null, 'e_baseinfo')).toBe('"E_BASEINFO"');
    expect(describeTableSql('jmlegacy', 'registry.e_baseinfo').binds).toEqual({ owner_name: 'REGISTRY', table_name: 'E_BASEINFO' });
    expect(describeTableSql(null, 'registry.e_baseinfo').sql).toContain('owner = :owner_name');
    const { sql } = chunkQuery({ schema: null, table: 'registry.e_baseinfo', key: 'pripid', columns: [{ name: 'PRIPID', kind: 'text' }], chunk: { id: 'c', keyFrom: null, keyTo: null }, readPoint: '7', chunking: 'key' });
    expect(sql).toBe('SELECT "PRIPID" FROM "REGISTRY"."E_BASEINFO" AS OF SCN :read_scn ORDER BY "PRIPID"');
  });

  it('the Data Pump backup names the qualified table under its own owner', () => {
    expect(dataPumpTable('JMLEGACY', 'registry.e_baseinfo')).toBe('REGISTRY.E_BASEINFO');
    expect(dataPumpTable('JMLEGACY', 'e_approval')).toBe('JMLEGACY.E_APPROVAL');
    expect(expdpParfile({ schema: 'jmlegacy', tables: ['registry.e_baseinfo', 'e_approval'], scn: '99', runId: 'r1' })).toContain('TABLES=REGISTRY.E_BASEINFO,JMLEGACY.E_APPROVAL');
  });

  it('a run reads a qualified table through the adapter: the dictionary is asked for its owner, the chunks read it qualified', async () => {
    const db = scriptedTable('id', 'number', ['1', '2', '3']);
    const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/JM', schema: 'jmlegacy' }, db.driver());
    const read = await readAll(source, table('id', 'bigint', 'registry.t_keys'), 2);
    expect(read.flatMap((r) => r.keys)).toEqual(['1', '2', '3']);
    const describe = db.executed.find((e) => /all_tab_columns/.test(e.sql))!;
    expect(describe.binds).toEqual({ owner_name: 'REGISTRY', table_name: 'T_KEYS' });
    expect(db.executed.filter((e) => /^SELECT "ID", "NAME"/.test(e.sql)).every((e) => e.sql.includes('FROM "REGISTRY"."T_KEYS" AS OF SCN'))).toBe(true);
    await source.close();
  });
});
