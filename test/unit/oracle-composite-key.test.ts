import fc from 'fast-check';
import type { Readable } from 'node:stream';
import { compareTuples, decodeKey, encodeKey, keyIndexes, keyOrders, lineKey, targetTupleRange, type KeyTuple } from '../../migration/composite-key';
import { fieldAt, textOf } from '../../migration/copy-text';
import type { ColumnType, TableMapping } from '../../migration/mapping';
import type { OracleBinds, OracleResultSet } from '../../migration/oracle/driver';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { oracleKeyExpr } from '../../migration/oracle/sql';
import { INT8, trickyText } from '../support/key-property';
import { legacyTable, ScriptedOracle, scriptedResultSet, targetSession } from './oracle-scripted';

/**
 * 复合主键 Composite keys on an Oracle source, property-tested (fast-check) without an Oracle server.
 *
 * What runs: the real OracleSource plans a table's chunks and reads every chunk through the scripted driver
 * (oracle-scripted.ts), and the SQL it generates — the boundaries query (ROW_NUMBER over the key tuple, MOD) and
 * each chunk's WHERE (the expanded lexicographic comparison a > :x OR (a = :x AND b > :y), its NULL branches)
 * and ORDER BY — is executed VERBATIM on the local PostgreSQL, only its :name binds renumbered to $n.
 *
 * What that proves, and what it does not: PostgreSQL stands in for Oracle's comparison semantics, modelled as the
 * adapter pins them — a NUMBER column as numeric (a bind compared with it converted to a number), a VARCHAR2 column
 * of an AL32UTF8 database under NLS_SORT/NLS_COMP=BINARY as text COLLATE "C" (both order by UTF-8 bytes), SQL's
 * three-valued logic for NULL components and ORDER BY … ASC with NULLs last, which the two databases share. Text
 * components are never '' (Oracle stores '' as NULL). The key forms that convert (a NUMBER compared as the target's
 * text, TO_CHAR 'TM9'; a text compared as a number, REGEXP_LIKE) are Oracle functions PostgreSQL does not have:
 * they are not evaluated here (their SQL is asserted in oracle-sql.test.ts; each form alone in oracle-key-convert).
 *
 * For each generated table (2–3 key columns, NUMBER or VARCHAR2, nullable or not; tuples that share leading
 * components; chunk sizes of 1–5 rows; ORACLE_CHUNKING key or rowid, a composite table being planned by key either way):
 * - every row is read by exactly one chunk;
 * - the rows come in the engine's key order (composite-key.ts compareTuples) across the chunks, each chunk's keys
 *   within its bounds (keyFrom, keyTo], rows with a NULL key component in the last chunk only;
 * - the target's own predicate for the chunk (targetTupleRange, what chunk-copy's cleanup of a retried chunk and
 *   verification use), run on a PostgreSQL target table holding the loaded rows, selects exactly the chunk's rows.
 */
const pg = targetSession();

type Kind = 'number' | 'text';
interface Component {
  kind: Kind;
  targetType: ColumnType;
  nullable: boolean;
}

/** canonical decimals (the driver's text of a NUMBER, what the adapter loads): small ones so tuples share components */
const decimal = fc.oneof(
  fc.integer({ min: -3, max: 12 }).map(String),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: 1, max: 999 }).filter((d) => d % 10 !== 0)).map(([i, d]) => `${i === 0 && d % 2 ? '-' : ''}${i}.${d}`),
);
const integer = fc.oneof(fc.integer({ min: -3, max: 12 }).map(String), fc.bigInt(INT8).map(String));
const TRICKY = ['a', 'A', 'b', 'z', '_', ' ', '\t', '\\', '\n', '0', '1', '9', 'é', 'ß', '中', '𠀀', '~', '"', ',', 'ｱ'];
const text = trickyText(TRICKY, 3).filter((s) => s.length > 0);

const component: fc.Arbitrary<Component> = fc.oneof(
  fc.record({ kind: fc.constant<Kind>('number'), targetType: fc.constantFrom<ColumnType>('numeric', 'bigint'), nullable: fc.boolean() }),
  fc.record({ kind: fc.constant<Kind>('text'), targetType: fc.constant<ColumnType>('text'), nullable: fc.boolean() }),
);

function values(c: Component): fc.Arbitrary<string | null> {
  const v = c.kind === 'text' ? text : c.targetType === 'bigint' ? integer : decimal;
  return c.nullable ? fc.option(v, { freq: 5 }) : v;
}

const tableCase = fc.array(component, { minLength: 2, maxLength: 3 }).chain((components) =>
  fc.record({
    components: fc.constant(components),
    keys: fc.uniqueArray(fc.tuple(...components.map(values)), { minLength: 0, maxLength: 25, selector: (t) => JSON.stringify(t) }),
    rowsPerChunk: fc.integer({ min: 1, max: 5 }),
    chunking: fc.constantFrom<'key' | 'rowid'>('key', 'rowid'),
  }),
);

const names = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

function mappingOf(components: Component[]): TableMapping {
  const keys = names(components.length);
  return legacyTable(
    [{ target: 'id', type: 'numeric', source: 'id', required: true }, ...components.map((c, i) => ({ target: keys[i], type: c.targetType, source: keys[i], required: true }))],
    { name: 'ck', source: { table: 'e_ck', key: keys[0], keys } },
  );
}

/** Oracle SQL as PostgreSQL takes it: each :name bind becomes one $n (Oracle binds by name, a name may recur). */
function onPostgres(sql: string, binds: OracleBinds): { text: string; values: unknown[] } {
  const order: string[] = [];
  const text = sql.replace(/'(?:[^']|'')*'|:([A-Za-z_][A-Za-z0-9_]*)/g, (m, name: string | undefined) => {
    if (!name) return m;
    if (!order.includes(name)) order.push(name);
    return `$${order.indexOf(name) + 1}`;
  });
  return { text, values: order.map((n) => binds[n]) };
}

async function rowsOnPostgres(sql: string, binds: OracleBinds): Promise<unknown[][]> {
  const q = onPostgres(sql, binds);
  return (await pg().query({ text: q.text, values: q.values, rowMode: 'array' })).rows as unknown[][];
}

function lazyResultSet(rows: Promise<unknown[][]>): OracleResultSet {
  let pos = 0;
  return {
    metaData: [],
    async getRows(n: number) {
      const all = await rows;
      const out = all.slice(pos, pos + n);
      pos += out.length;
      return out;
    },
    async close() {},
  };
}

/** An Oracle whose dictionary describes the generated table and whose queries run on PostgreSQL's copy of it. */
function server(components: Component[]): ScriptedOracle {
  return new ScriptedOracle([
    { match: /FROM all_tab_columns/, rows: [['ID', 'NUMBER', 'N', null, null], ...components.map((c, i) => [`K${i}`, c.kind === 'number' ? 'NUMBER' : 'VARCHAR2', c.nullable ? 'Y' : 'N', null, null])] },
    { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
    { match: /ROW_NUMBER\(\) OVER/, rows: (binds, sql) => rowsOnPostgres(sql, binds) },
    { match: /^SELECT COUNT\(\*\) AS row_count FROM "E_CK"$/, rows: (binds, sql) => rowsOnPostgres(sql, binds) },
    { match: /^SELECT "ID"/, resultSet: (binds, sql) => lazyResultSet(rowsOnPostgres(sql, binds)) },
  ]);
}

interface ReadRow {
  id: string;
  key: KeyTuple;
}

async function readAll(stream: Readable, table: TableMapping): Promise<ReadRow[]> {
  const out: ReadRow[] = [];
  const indexes = keyIndexes(table);
  for await (const batch of stream) {
    for (const item of batch as unknown[]) {
      if (typeof item !== 'string') throw new Error(`a row was rejected: ${JSON.stringify(item)}`);
      out.push({ id: textOf(fieldAt(item, 0)!), key: decodeKey(lineKey(item, indexes), indexes.length) });
    }
  }
  return out;
}

async function createTables(components: Component[], keys: (string | null)[][]): Promise<void> {
  const legacyCols = components.map((c, i) => `"K${i}" ${c.kind === 'number' ? 'numeric' : 'text COLLATE "C"'}`);
  const targetCols = components.map((c, i) => `k${i} ${c.targetType === 'text' ? 'text COLLATE "C"' : c.targetType}`);
  await pg().query(`DROP TABLE IF EXISTS "E_CK", ck; CREATE TEMP TABLE "E_CK" ("ID" numeric NOT NULL, ${legacyCols.join(', ')}); CREATE TEMP TABLE ck (id numeric, ${targetCols.join(', ')})`);
  // the legacy rows in an order unrelated to the key's
  const shuffled = keys.map((k, i) => ({ k, i })).sort((a, b) => ((a.i * 7919) % 101) - ((b.i * 7919) % 101));
  for (const { k, i } of shuffled) {
    await pg().query(`INSERT INTO "E_CK" VALUES (${[i, ...k].map((_, j) => `$${j + 1}`).join(', ')})`, [String(i), ...k]);
  }
}

describe('复合主键 Oracle composite keys: chunks run on a PostgreSQL model of Oracle’s comparisons', () => {
  it('property: every row in exactly one chunk, in the engine’s key order, and the target’s range for each chunk holds exactly its rows', async () => {
    await fc.assert(
      fc.asyncProperty(tableCase, async ({ components, keys, rowsPerChunk, chunking }) => {
        const table = mappingOf(components);
        const orders = keyOrders(table);
        await createTables(components, keys);
        const db = server(components);
        const source = new OracleSource({ user: 'jm', password: 'pw', connectString: 'db/FREEPDB1', fetchArraySize: 3, chunking }, db.driver());
        const chunks = await source.planChunks(table, rowsPerChunk, null);
        expect(chunks.every((c) => !c.rowid)).toBe(true);
        const perChunk: ReadRow[][] = [];
        for (const chunk of chunks) perChunk.push(await readAll(await source.readChunk(table, chunk, null), table));
        // the count reconciliation's side: every row, whatever its key
        expect(await source.countRows(table, null)).toBe(keys.length);
        await source.close();
        expect(db.allReleased()).toBe(true);

        // every row exactly once
        const ids = perChunk.flat().map((r) => Number(r.id));
        expect([...ids].sort((a, b) => a - b)).toEqual(keys.map((_, i) => i));
        // the engine's order (keys are unique: strictly ascending) within each chunk, and across the chunks for
        // every key without a NULL component (those have no place in the order: the last chunk holds them all)
        const hasNull = (k: KeyTuple) => k.includes(null);
        const ascending = (rows: ReadRow[]) => rows.every((r, i) => i === 0 || compareTuples(rows[i - 1].key, r.key, orders) < 0);
        expect(perChunk.filter((rows) => !ascending(rows))).toEqual([]);
        const read = perChunk.flat();
        expect(ascending(read.filter((r) => !hasNull(r.key)))).toBe(true);
        // each chunk within its bounds; a key with a NULL component only in the last chunk
        chunks.forEach((chunk, c) => {
          for (const { key } of perChunk[c]) {
            if (chunk.keyFrom !== null && !hasNull(key)) expect(compareTuples(key, decodeKey(chunk.keyFrom, orders.length), orders)).toBeGreaterThan(0);
            if (chunk.keyTo !== null) {
              expect(hasNull(key)).toBe(false);
              expect(compareTuples(key, decodeKey(chunk.keyTo, orders.length), orders)).toBeLessThanOrEqual(0);
            }
          }
        });

        // the target: the rows loaded (a key with a NULL component is quarantined, not loaded), each chunk's range on it
        const loaded = read.filter((r) => !hasNull(r.key));
        for (const r of loaded) await pg().query(`INSERT INTO ck VALUES (${[r.id, ...r.key].map((_, j) => `$${j + 1}`).join(', ')})`, [r.id, ...r.key]);
        for (const [c, chunk] of chunks.entries()) {
          const params: string[] = [];
          const where = targetTupleRange(table, chunk, (v) => (params.push(v), `$${params.length}`), ' COLLATE "C"');
          const { rows } = await pg().query<{ id: string }>(`SELECT id::text AS id FROM ck WHERE ${where} ORDER BY id`, params);
          expect(rows.map((r) => Number(r.id))).toEqual(perChunk[c].filter((r) => !hasNull(r.key)).map((r) => Number(r.id)).sort((a, b) => a - b));
        }
      }),
      {
        numRuns: 60,
        examples: [
          // ties on the leading component: the second decides; a NULL second component after every (1, x)
          [
            {
              components: [
                { kind: 'number', targetType: 'numeric', nullable: false },
                { kind: 'text', targetType: 'text', nullable: true },
              ],
              keys: [['1', 'b'], ['1', 'a'], ['1', null], ['10', 'a'], ['9', 'z'], ['1', 'a '], ['-0.5', '中']],
              rowsPerChunk: 2,
              chunking: 'key',
            },
          ],
        ],
      },
    );
  });
});

describe('复合主键 Oracle composite keys: the adapter against a scripted server', () => {
  // PRIPID NUMBER → numeric, SEQ VARCHAR2 of digits → bigint (compared as its value), CODE NUMBER → text (compared as its text)
  const table = legacyTable(
    [
      { target: 'pripid', type: 'numeric', source: 'pripid', required: true },
      { target: 'seq', type: 'bigint', source: 'seq', required: true },
      { target: 'code', type: 'text', source: 'code', required: true },
    ],
    { name: 'entity_change', source: { table: 'e_change', key: 'pripid', keys: ['pripid', 'seq', 'code'] } },
  );
  const DICTIONARY = [
    ['PRIPID', 'NUMBER', 'N', null, null],
    ['SEQ', 'VARCHAR2', 'N', null, null],
    ['CODE', 'NUMBER', 'N', 6, 0],
  ];
  const SETTINGS = { user: 'jm', password: 'pw', connectString: 'db/FREEPDB1', fetchArraySize: 2 };

  it('plans tuple bounds in the contract’s text form (a number as its exact decimal, a number compared as text as that text), also under ORACLE_CHUNKING=rowid', async () => {
    for (const chunking of ['key', 'rowid'] as const) {
      const db = new ScriptedOracle([
        { match: /FROM all_tab_columns/, rows: DICTIONARY },
        { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
        // what the thin driver hands over: NUMBER as its own decimal text (an exponent for a huge one)
        { match: /ROW_NUMBER\(\) OVER/, rows: [['1e+25', '.5', '10'], ['1e+25', '7', '9']] },
      ]);
      const source = new OracleSource({ ...SETTINGS, chunking }, db.driver());
      const chunks = await source.planChunks(table, 1000, '4711');
      const b1 = encodeKey(['10000000000000000000000000', '0.5', '10']);
      const b2 = encodeKey(['10000000000000000000000000', '7', '9']);
      expect(chunks).toEqual([
        { id: 'entity_change:000000', keyFrom: null, keyTo: b1 },
        { id: 'entity_change:000001', keyFrom: b1, keyTo: b2 },
        { id: 'entity_change:000002', keyFrom: b2, keyTo: null },
      ]);
      expect(db.executed.some((e) => /dba_extents/.test(e.sql))).toBe(false);
      const plan = db.executed.find((e) => /ROW_NUMBER/.test(e.sql))!;
      expect(plan.sql).toContain(`ROW_NUMBER() OVER (ORDER BY "PRIPID", ${oracleKeyExpr('seq', 'text-as-number')}, ${oracleKeyExpr('code', 'number-as-text')})`);
      expect(plan.binds).toEqual({ chunk_rows: 1000, read_scn: '4711' });
      await source.close();
      expect(db.allReleased()).toBe(true);
    }
  });

  it('a boundary the driver gives as no text is refused, naming the table and the key column', async () => {
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: DICTIONARY },
      { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
      { match: /ROW_NUMBER\(\) OVER/, rows: [['1', 7, '9']] },
    ]);
    await expect(new OracleSource(SETTINGS, db.driver()).planChunks(table, 10, null)).rejects.toThrow(/chunk boundary of entity_change is not text: 7 \(key column seq\)/);
  });

  it('reads a chunk by its tuple range, binds only, in key order', async () => {
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: DICTIONARY },
      { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
      { match: /^SELECT "PRIPID", "SEQ", "CODE" FROM "E_CHANGE" AS OF SCN :read_scn WHERE/, resultSet: () => scriptedResultSet([['5', '3', '12']]) },
    ]);
    const source = new OracleSource(SETTINGS, db.driver());
    const chunk = { id: 'c', keyFrom: encodeKey(['1', '2', '3']), keyTo: encodeKey(['9', '8', '7']) };
    const rows: string[] = [];
    for await (const batch of await source.readChunk(table, chunk, '4711')) rows.push(...(batch as string[]).map(textOf));
    expect(rows).toEqual(['5\t3\t12']);
    const read = db.executed.find((e) => e.options.resultSet)!;
    expect(read.binds).toEqual({ read_scn: '4711', key_lo_0: '1', key_lo_1: '2', key_lo_2: '3', key_hi_0: '9', key_hi_1: '8', key_hi_2: '7' });
    // the text compared as a number is NULL where it is no number: such rows are the last chunk's, never this one's
    expect(read.sql).toContain(`AND ${oracleKeyExpr('seq', 'text-as-number')} IS NOT NULL ORDER BY "PRIPID", `);
    await source.close();
  });

  it('the export reads every chunk by the tuple, ordered by the key’s columns then ROWID', async () => {
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: DICTIONARY },
      { match: /nls_database_parameters/, rows: [['AL32UTF8']] },
      { match: /ROW_NUMBER\(\) OVER/, rows: [['1', '2', '3']] },
      { match: /^SELECT "PRIPID", "SEQ", "CODE" FROM "E_CHANGE" AS OF SCN/, resultSet: () => scriptedResultSet([]) },
    ]);
    const source = new OracleSource(SETTINGS, db.driver());
    const { stream } = await source.exportRaw(table, '4711');
    const exported: unknown[] = [];
    for await (const chunk of stream) exported.push(chunk);
    expect(exported).toEqual([]);
    const reads = db.executed.filter((e) => e.options.resultSet);
    expect(reads.map((r) => Object.keys(r.binds).sort())).toEqual([
      ['key_hi_0', 'key_hi_1', 'key_hi_2', 'read_scn'],
      ['key_lo_0', 'key_lo_1', 'key_lo_2', 'read_scn'],
    ]);
    for (const r of reads) expect(r.sql.endsWith(`ORDER BY "PRIPID", ${oracleKeyExpr('seq', 'text-as-number')}, ${oracleKeyExpr('code', 'number-as-text')}, ROWID`)).toBe(true);
    await source.close();
    expect(db.allReleased()).toBe(true);
  });
});
