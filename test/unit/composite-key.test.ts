import fc from 'fast-check';
import { ConfigError } from '../../lib/config-file';
import { compareTuples, decodeKey, encodeKey, KeyTuple, lineKey, targetTupleRange, tupleRangeSql } from '../../migration/composite-key';
import { encodeLine } from '../../migration/copy-text';
import type { TableMapping } from '../../migration/mapping';
import { isComposite, keyColumns, loadMapping } from '../../migration/mapping';
import { OracleMappingError, resolveTable } from '../../migration/oracle/resolve';
import { targetTableDdl } from '../../migration/target-schema';
import { writeMapping } from '../support/mapping-file';

/**
 * 复合主键 Composite keys (migration/composite-key.ts) without a database: the key's text encoding
 * round-trips every tuple, the JS order is a total order, a range split covers every tuple once (checked
 * here with the JS order; on real PostgreSQL in test/integration/composite-keys.property.test.ts), and the
 * mapping accepts a key list and refuses what cannot work, naming the field.
 */
const component = fc.option(fc.string({ unit: 'binary', maxLength: 6 }), { freq: 6 });
const tuple = (n: number) => fc.array(component, { minLength: n, maxLength: n });
const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.integer({ min: 0, max: 3 })).map(([v, s]) => {
  if (s === 0) return v.toString();
  const digits = (v < 0n ? -v : v).toString().padStart(s + 1, '0');
  return `${v < 0n ? '-' : ''}${digits.slice(0, -s)}.${digits.slice(-s)}`;
});

describe('composite keys: encoding and order', () => {
  it('encodeKey/decodeKey round-trip every tuple (NULLs, quotes, brackets, tabs, any Unicode)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }).chain(tuple), (t) => {
        expect(decodeKey(encodeKey(t), t.length)).toEqual(t);
      }),
      { numRuns: 2000 },
    );
  });

  it('a key of a COPY line is the tuple of its decoded fields', () => {
    fc.assert(
      fc.property(fc.array(component, { minLength: 3, maxLength: 3 }), (fields) => {
        const line = Buffer.from(encodeLine(fields), 'utf8').toString('latin1');
        expect(decodeKey(lineKey(line, [2, 0]), 2)).toEqual([fields[2], fields[0]]);
      }),
    );
  });

  it('decodeKey refuses what is no encoded key of that width', () => {
    expect(() => decodeKey('abc', 2)).toThrow(/not a composite key/);
    expect(() => decodeKey('["a"]', 2)).toThrow(/not a composite key/);
    expect(() => decodeKey('["a",1]', 2)).toThrow(/not a composite key/);
  });

  it('compareTuples is a total order: numeric by value, text by code point, no-place last', () => {
    const orders = ['numeric', 'code-point'] as const;
    const t = fc.tuple(fc.option(decimal, { freq: 8 }), fc.option(fc.string({ maxLength: 3 }), { freq: 8 }));
    fc.assert(
      fc.property(t, t, t, (a, b, c) => {
        const ab = compareTuples(a, b, [...orders]);
        expect(Math.sign(compareTuples(b, a, [...orders]))).toBe(-Math.sign(ab) || 0);
        if (ab <= 0 && compareTuples(b, c, [...orders]) <= 0) expect(compareTuples(a, c, [...orders])).toBeLessThanOrEqual(0);
      }),
      { numRuns: 3000 },
    );
    expect(compareTuples(['9', 'b'], ['10', 'a'], [...orders])).toBeLessThan(0);
    expect(compareTuples(['1.50', 'b'], ['1.5', 'a'], [...orders])).toBeGreaterThan(0);
    expect(compareTuples(['1', 'B'], ['1', 'a'], [...orders])).toBeLessThan(0);
  });

  it('ranges between sorted bounds cover every tuple exactly once (the SQL conditions evaluated as PostgreSQL does)', () => {
    // tupleRangeSql's meaning, evaluated with the JS order and SQL's row-comparison rules for NULL
    const orders = ['numeric', 'code-point'] as const;
    const cmpRow = (a: KeyTuple, b: KeyTuple): number | null => {
      for (let i = 0; i < a.length; i++) {
        if (a[i] === null || b[i] === null) return null;
        const c = compareTuples([a[i]], [b[i]], [orders[i]]);
        if (c !== 0) return c;
      }
      return 0;
    };
    const inRange = (k: KeyTuple, from: KeyTuple | null, to: KeyTuple | null): boolean => {
      const placed = k.every((v) => v !== null);
      const above = from === null || cmpRow(k, from) === 1 || (to === null && !placed);
      const below = to === null || (cmpRow(k, to) !== null && cmpRow(k, to)! <= 0 && placed);
      return above && below;
    };
    const key = fc.tuple(fc.option(decimal, { freq: 6 }), fc.option(fc.string({ maxLength: 2 }), { freq: 6 }));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 30 }), fc.array(fc.tuple(decimal, fc.string({ maxLength: 2 })), { maxLength: 6 }), (keys, rawBounds) => {
        const bounds = [...rawBounds].sort((a, b) => compareTuples(a, b, [...orders]));
        const edges: (KeyTuple | null)[] = [null, ...bounds, null];
        for (const k of keys) {
          let n = 0;
          for (let i = 0; i + 1 < edges.length; i++) if (inRange(k, edges[i], edges[i + 1])) n++;
          expect(n).toBe(1);
        }
      }),
      { numRuns: 1000 },
    );
    // and the SQL says the same thing
    const sql = tupleRangeSql(['a', 'b'], { keyFrom: encodeKey(['1', 'x']), keyTo: encodeKey(['2', 'y']) }, (v) => `'${v}'`, [true, false]);
    expect(sql).toBe(`ROW(a, b) > ROW('1', 'x') AND ROW(a, b) <= ROW('2', 'y') AND a IS NOT NULL`);
    expect(tupleRangeSql(['a', 'b'], { keyFrom: encodeKey(['2', 'y']), keyTo: null }, (v) => `'${v}'`, [true, true])).toBe(`(ROW(a, b) > ROW('2', 'y') OR a IS NULL OR b IS NULL)`);
  });
});

const TABLE: TableMapping = {
  name: 'change',
  title: 'changes',
  category: 'history',
  source: { table: 'reg.e_change', key: 'pripid', keys: ['pripid', 'seq'] },
  target: { table: 'entity_change', checks: [] },
  columns: [
    { target: 'pripid', type: 'bigint', source: 'pripid', required: true },
    { target: 'seq', type: 'text', source: 'seq', required: true },
    { target: 'note', type: 'text', source: 'note', required: false },
  ],
};

describe('composite keys in the target and its SQL', () => {
  it('the target table gets one primary key over the key columns, text ones in code-point order', () => {
    const ddl = targetTableDdl(TABLE);
    expect(ddl).toContain('"seq" text COLLATE "C" NOT NULL');
    expect(ddl).toContain('PRIMARY KEY ("pripid", "seq")');
    expect(ddl).not.toMatch(/NOT NULL PRIMARY KEY/);
  });

  it('a range compares the columns as themselves; an integer column whose bound is no integer of its type as numeric', () => {
    const params: string[] = [];
    const bind = (v: string) => (params.push(v), `$${params.length}`);
    expect(targetTupleRange(TABLE, { keyFrom: encodeKey(['7', 'a']), keyTo: null }, bind, ' COLLATE "C"')).toBe(`ROW("pripid", "seq" COLLATE "C") > ROW($1::bigint, $2::text)`);
    expect(targetTupleRange(TABLE, { keyFrom: null, keyTo: encodeKey(['1.5', 'a']) }, bind, '')).toBe(`ROW("pripid"::numeric, "seq") <= ROW($3::numeric, $4::text)`);
    expect(targetTupleRange(TABLE, { keyFrom: null, keyTo: encodeKey(['99999999999999999999', 'a']) }, bind, '')).toContain('"pripid"::numeric');
  });

  it('the Oracle source resolves each key column in its own order, and refuses a key column it cannot range over, naming it', () => {
    const dictionary = [
      ['PRIPID', 'NUMBER', 'N', 20, 0],
      ['SEQ', 'NUMBER', 'Y', null, null],
      ['NOTE', 'VARCHAR2', 'Y', null, null],
    ];
    // SEQ is a NUMBER feeding a text target column: compared as the target's text (oracleKeyForm)
    const resolved = resolveTable(TABLE, dictionary as never, { naiveUtcOffset: '+08:00' });
    expect(resolved.keyParts).toEqual([
      { column: 'pripid', form: 'native', nullable: false },
      { column: 'seq', form: 'number-as-text', nullable: true },
    ]);
    expect(resolved.keyForm).toBe('native');
    expect(resolved.keyNullable).toBe(false);
    const dated = [dictionary[0], ['SEQ', 'DATE', 'N', null, null], dictionary[2]];
    expect(() => resolveTable(TABLE, dated as never, { naiveUtcOffset: '+08:00' })).toThrow(OracleMappingError);
    expect(() => resolveTable(TABLE, dated as never, { naiveUtcOffset: '+08:00' })).toThrow(/legacy table REG\.E_CHANGE[\s\S]*复合主键 composite key column SEQ has type DATE/);
  });
});

describe('composite keys in the mapping', () => {
  const entityChange = (m: any) => m.tables.find((t: any) => t.name === 'entity_change');

  it('accepts a key list: key is its first column, keys every column in order', () => {
    const file = writeMapping((m: any) => (entityChange(m).source.key = ['pripid', 'altitem']));
    const table = loadMapping(file).tables.find((t) => t.name === 'entity_change')!;
    expect(table.source.key).toBe('pripid');
    expect(table.source.keys).toEqual(['pripid', 'altitem']);
    expect(isComposite(table)).toBe(true);
    expect(keyColumns(table).map((c) => c.target)).toEqual(['pripid', 'altitem']);
  });

  it.each([
    ['a one-column list', (m: any) => (entityChange(m).source.key = ['pripid']), 'source.key: a composite key lists two or more columns'],
    ['a column listed twice', (m: any) => (entityChange(m).source.key = ['pripid', 'pripid']), 'source.key[1]: "pripid" is listed twice in the composite key'],
    ['a key column no column maps', (m: any) => (entityChange(m).source.key = ['pripid', 'ghost']), 'source.key[1]: "ghost" is not mapped by any column'],
    ['a composite-keyed parent', (m: any) => (m.tables[0].source.key = [m.tables[0].source.key, 'entname']), '.parent.table: "market_entity" has a composite key; a parent must have a single-column key'],
  ])('refuses %s with a message naming the field', (_what, mutate, expected) => {
    const file = writeMapping(mutate);
    expect(() => loadMapping(file)).toThrow(ConfigError);
    expect(() => loadMapping(file)).toThrow(expected);
  });
});
