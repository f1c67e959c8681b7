import { encodeRow } from '../../migration/copy-text';
import { canonicalDecimal, compileConverter, ConversionError, ConvertOptions, rawText } from '../../migration/oracle/convert';
import { isCompatible, legacyKind } from '../../migration/oracle/legacy-types';
import { OracleMappingError, resolveTable } from '../../migration/oracle/resolve';
import type { TableMapping } from '../../migration/mapping';

const opts: ConvertOptions = { naiveUtcOffset: '+08:00' };

function ruleOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConversionError) return err.rule;
    throw err;
  }
  throw new Error('expected a ConversionError');
}

describe('legacy types from the data dictionary', () => {
  it.each([
    ['NUMBER', 'number'],
    ['FLOAT', 'number'],
    ['BINARY_DOUBLE', 'float'],
    ['VARCHAR2', 'text'],
    ['NVARCHAR2', 'text'],
    ['CHAR', 'text'],
    ['NCHAR', 'text'],
    ['CLOB', 'clob'],
    ['NCLOB', 'clob'],
    ['BLOB', 'binary'],
    ['RAW', 'binary'],
    ['LONG RAW', 'binary'],
    ['DATE', 'date'],
    ['TIMESTAMP(6)', 'timestamp'],
    ['TIMESTAMP(9) WITH TIME ZONE', 'timestamp_tz'],
    ['TIMESTAMP(6) WITH LOCAL TIME ZONE', 'timestamp_ltz'],
    ['XMLTYPE', null],
    ['INTERVAL DAY(2) TO SECOND(6)', null],
    ['BFILE', null],
  ])('%s is %s', (dataType, kind) => {
    expect(legacyKind(dataType)).toBe(kind);
  });

  it('refuses kinds that cannot feed a target type', () => {
    expect(isCompatible('binary', 'numeric')).toBe(false);
    expect(isCompatible('date', 'integer')).toBe(false);
    expect(isCompatible('clob', 'date')).toBe(false);
    expect(isCompatible('text', 'date')).toBe(true); // dates kept as text are the mapping's to cleanse
    expect(isCompatible('number', 'boolean')).toBe(true);
  });
});

describe('NUMBER → exact decimal text, never through a JS float', () => {
  const num = compileConverter('number', 'numeric', opts);
  it.each([
    ['123', '123'],
    ['-45.67', '-45.67'],
    ['.5', '0.5'], // the thin driver writes no leading zero
    ['-.05', '-0.05'],
    ['0', '0'],
    ['-0', '0'],
    ['100.2500', '100.25'],
    ['00012', '12'],
    // 38 significant digits: a JS number would keep about 17
    ['12345678901234567890123456789012345678', '12345678901234567890123456789012345678'],
    ['0.00000000000000000000000000000000000001', '0.00000000000000000000000000000000000001'],
    ['1.5e-7', '0.00000015'],
    ['2E+3', '2000'],
    ['9.99e125', '999' + '0'.repeat(123)], // the largest magnitude a finite NUMBER has
  ])('%s → %s', (input, out) => {
    const v = num(input);
    expect(v).toBe(out);
    expect(v).not.toMatch(/e/i);
  });

  it('integer targets get the same exact text (the target rejects fractions, the engine quarantines)', () => {
    expect(compileConverter('number', 'bigint', opts)('9007199254740993')).toBe('9007199254740993');
    expect(compileConverter('number', 'integer', opts)('3.5')).toBe('3.5');
  });

  it('NUMBER ±infinity (the driver writes "1e126" / "-1e126") is quarantined, not loaded as a finite 10^126', () => {
    expect(ruleOf(() => num('-1e126'))).toBe('invalid_number:infinity');
    expect(ruleOf(() => num('1e126'))).toBe('invalid_number:infinity');
    expect(ruleOf(() => num('1' + '0'.repeat(126)))).toBe('invalid_number:infinity');
    expect(num('-' + '9'.repeat(126))).toBe('-' + '9'.repeat(126));
  });

  it('rejects text that is not a number, and absurd exponents', () => {
    expect(ruleOf(() => canonicalDecimal('abc'))).toBe('invalid_number:format');
    expect(ruleOf(() => canonicalDecimal('.'))).toBe('invalid_number:format');
    expect(ruleOf(() => canonicalDecimal('1e999'))).toBe('invalid_number:out_of_range');
  });

  it('NULL stays NULL', () => {
    expect(num(null)).toBeNull();
  });

  it('a JS number where a string was expected is a bug, not a quarantine', () => {
    expect(() => num(1.5)).toThrow(TypeError);
  });
});

describe('BINARY_FLOAT / BINARY_DOUBLE', () => {
  const f = compileConverter('float', 'numeric', opts);
  it('writes the shortest exact decimal of the IEEE value, without exponent', () => {
    expect(f(0.1)).toBe('0.1');
    expect(f(1e21)).toBe('1000000000000000000000');
    expect(f(5e-7)).toBe('0.0000005');
    expect(f(-0)).toBe('0');
  });
  it('quarantines NaN and infinities', () => {
    expect(ruleOf(() => f(NaN))).toBe('invalid_number:not_finite');
    expect(ruleOf(() => f(-Infinity))).toBe('invalid_number:not_finite');
  });
});

describe('DATE (always has a time of day) per target type', () => {
  const toDate = compileConverter('date', 'date', opts);
  const toTs = compileConverter('date', 'timestamp', opts);
  const toTz = compileConverter('date', 'timestamptz', opts);
  const toText = compileConverter('date', 'text', opts);

  it('midnight', () => {
    expect(toDate(' 2003-05-12 00:00:00')).toBe('2003-05-12');
    expect(toTs(' 2003-05-12 00:00:00')).toBe('2003-05-12 00:00:00');
    expect(toTz(' 2003-05-12 00:00:00')).toBe('2003-05-12T00:00:00+08:00');
  });

  it('with a time part: a date target keeps the day (as PostgreSQL casts), timestamp targets keep the time', () => {
    expect(toDate(' 2003-05-12 14:23:11')).toBe('2003-05-12');
    expect(toTs(' 2003-05-12 14:23:11')).toBe('2003-05-12 14:23:11');
    expect(toTz(' 2003-05-12 14:23:11')).toBe('2003-05-12T14:23:11+08:00');
    expect(toText(' 2003-05-12 14:23:11')).toBe('2003-05-12 14:23:11');
  });

  it('the configured offset is used for zone-less values', () => {
    expect(compileConverter('date', 'timestamptz', { naiveUtcOffset: '+00:00' })(' 2003-05-12 14:23:11')).toBe('2003-05-12T14:23:11+00:00');
  });

  it('sentinel and pre-1900 dates pass unchanged (cleansing is the mapping’s job)', () => {
    expect(toDate(' 9999-09-09 00:00:00')).toBe('9999-09-09');
    expect(toDate(' 9999-12-31 23:59:59')).toBe('9999-12-31');
    expect(toDate(' 1899-12-31 00:00:00')).toBe('1899-12-31');
    expect(toDate(' 0001-01-01 00:00:00')).toBe('0001-01-01');
  });

  it('BC years (negative SYYYY) get PostgreSQL’s BC suffix', () => {
    expect(toDate('-0044-03-15 12:00:00')).toBe('0044-03-15 BC');
    expect(toTs('-4712-01-01 00:00:00')).toBe('4712-01-01 00:00:00 BC');
  });

  it('a corrupt stored DATE (text no calendar has) is quarantined under invalid_date:corrupt, never a chunk failure', () => {
    for (const text of ['Mon May 12 2003', ' 2003-00-12 00:00:00', ' 2003-02-29 00:00:00', ' 1500-02-29 00:00:00', ' 0000-01-01 00:00:00', ' 2003-05-32 00:00:00', ' 2003-05-12 24:00:00']) {
      expect(ruleOf(() => toDate(text))).toBe('invalid_date:corrupt');
    }
    expect(toDate(' 2004-02-29 00:00:00')).toBe('2004-02-29');
    expect(toDate(' 2000-02-29 23:59:59')).toBe('2000-02-29');
  });
});

describe('TIMESTAMP, WITH TIME ZONE, WITH LOCAL TIME ZONE', () => {
  it('TIMESTAMP(9) is cut to microseconds, trailing zeros dropped', () => {
    const ts = compileConverter('timestamp', 'timestamp', opts);
    expect(ts(' 2020-01-02 03:04:05.123456789')).toBe('2020-01-02 03:04:05.123456');
    expect(ts(' 2020-01-02 03:04:05.999999999')).toBe('2020-01-02 03:04:05.999999'); // never rolls into the next second
    expect(ts(' 2020-01-02 03:04:05.500000000')).toBe('2020-01-02 03:04:05.5');
    expect(ts(' 2020-01-02 03:04:05.000000000')).toBe('2020-01-02 03:04:05');
    expect(compileConverter('timestamp', 'date', opts)(' 2020-01-02 03:04:05.5')).toBe('2020-01-02');
    expect(compileConverter('timestamp', 'timestamptz', opts)(' 2020-01-02 03:04:05.5')).toBe('2020-01-02T03:04:05.5+08:00');
  });

  it('WITH TIME ZONE keeps its own offset', () => {
    const tz = compileConverter('timestamp_tz', 'timestamptz', opts);
    expect(tz(' 2020-01-02 03:04:05.120000000+08:00')).toBe('2020-01-02T03:04:05.12+08:00');
    expect(tz(' 2020-01-02 03:04:05.000000000-05:30')).toBe('2020-01-02T03:04:05-05:30');
    // a timestamp target keeps the recorded wall-clock time
    expect(compileConverter('timestamp_tz', 'timestamp', opts)(' 2020-01-02 03:04:05.000000000-05:30')).toBe('2020-01-02 03:04:05');
    expect(compileConverter('timestamp_tz', 'text', opts)(' 2020-01-02 03:04:05.000000000-05:30')).toBe('2020-01-02 03:04:05-05:30');
  });

  it('WITH LOCAL TIME ZONE arrives in the pinned UTC session zone and says so', () => {
    const ltz = compileConverter('timestamp_ltz', 'timestamptz', opts);
    expect(ltz(' 2020-01-01 19:04:05.000001000+00:00')).toBe('2020-01-01T19:04:05.000001+00:00');
  });
});

describe('character data', () => {
  const text = compileConverter('text', 'text', opts);
  it("'' is NULL, as Oracle stores it", () => {
    expect(text('')).toBeNull();
    expect(text(null)).toBeNull();
    expect(compileConverter('clob', 'text', opts)('')).toBeNull();
  });

  it('keeps CJK (NCHAR/NVARCHAR2), private-use characters and CHAR padding as they are', () => {
    expect(text('江门市蓬江区')).toBe('江门市蓬江区');
    expect(text('陈\uE4C6明')).toBe('陈\uE4C6明');
    expect(text('\u{F0000}')).toBe('\u{F0000}'); // supplementary private use
    expect(text('AB  ')).toBe('AB  ');
  });

  it('CLOB text of any length passes whole', () => {
    const big = '经营范围'.repeat(50_000);
    expect(compileConverter('clob', 'text', opts)(big)).toBe(big);
  });

  it('NUL and unconvertible bytes are rejected with a rule, not altered', () => {
    expect(ruleOf(() => text('ab\u0000c'))).toBe('invalid_text:nul');
    expect(ruleOf(() => text('江\uFFFD门'))).toBe('invalid_text:unconvertible');
  });

  it('rawText keeps a rejected value readable and storable', () => {
    expect(rawText('ab\u0000c')).toBe('ab\\u0000c');
    expect(rawText(Buffer.from([1, 255]))).toBe('\\x01ff');
    expect(rawText(null)).toBeNull();
    expect(rawText(12)).toBe('12');
  });
});

describe('BLOB / RAW → bytea hex', () => {
  const bin = compileConverter('binary', 'text', opts);
  it('writes \\x + hex, empty stays empty (not NULL)', () => {
    expect(bin(Buffer.from([0xde, 0xad, 0x00, 0xbe, 0xef]))).toBe('\\xdead00beef');
    expect(bin(Buffer.alloc(0))).toBe('\\x');
    expect(bin(null)).toBeNull();
  });
  it('survives the COPY text codec as the bytea input PostgreSQL expects', () => {
    expect(encodeRow([bin(Buffer.from([0xca, 0xfe]))])).toBe('\\\\xcafe\n');
  });
});

describe('resolveTable: mapping against the dictionary', () => {
  const table: TableMapping = {
    name: 'market_entity',
    title: 'entities',
    category: 'entity',
    source: { table: 'e_baseinfo', key: 'pripid' },
    target: { table: 'market_entity', checks: [] },
    columns: [
      { target: 'pripid', type: 'text', source: 'pripid', required: true },
      { target: 'regcap', type: 'numeric', source: 'regcap', required: false },
      { target: 'estdate', type: 'date', source: 'estdate', required: false },
    ],
  };

  it('pairs each mapped column with its legacy type, in mapping order', () => {
    const r = resolveTable(table, [['ESTDATE', 'DATE'], ['REGCAP', 'NUMBER'], ['PRIPID', 'VARCHAR2'], ['EXTRA', 'XMLTYPE']], opts);
    expect(r.columns.map((c) => [c.legacy.name, c.legacy.kind])).toEqual([
      ['PRIPID', 'text'],
      ['REGCAP', 'number'],
      ['ESTDATE', 'date'],
    ]);
    expect(r.keyIndex).toBe(0);
  });

  it('lists every problem at once', () => {
    expect(() => resolveTable(table, [['PRIPID', 'DATE'], ['REGCAP', 'BLOB']], opts)).toThrow(OracleMappingError);
    try {
      resolveTable(table, [['PRIPID', 'DATE'], ['REGCAP', 'BLOB']], opts);
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toContain('key column PRIPID has type DATE');
      expect(msg).toContain('column REGCAP (BLOB) cannot feed regcap (numeric)');
      expect(msg).toContain('column ESTDATE (mapped to estdate) does not exist');
    }
  });

  it('a table missing from the dictionary says where to look', () => {
    expect(() => resolveTable(table, [], opts)).toThrow(/E_BASEINFO .*not found \(wrong ORACLE_SCHEMA/s);
  });
});
