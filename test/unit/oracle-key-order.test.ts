import fc from 'fast-check';
import { canonicalDecimal } from '../../migration/oracle/convert';
import { chunkQuery } from '../../migration/oracle/sql';
import { compareDecimal, targetSession } from './oracle-scripted';

/**
 * 键的排序 Oracle keys order as the target's: a chunk (keyFrom, keyTo] must hold the same rows when Oracle
 * reads it and when the target cleans it up or verifies it. Oracle's side is modelled exactly as the
 * adapter pins it — NUMBER keys compared as numbers (the bound is bound as text and converted with
 * NLS_NUMERIC_CHARACTERS '.,'), VARCHAR2 keys of an AL32UTF8 database under NLS_SORT=BINARY, i.e. by
 * their UTF-8 bytes — and the target's side is a real PostgreSQL: numeric, and text COLLATE "C".
 * (A ZHS16GBK database sorts by GBK bytes: the preflight refuses non-ASCII text keys there.)
 */
const target = targetSession();


/** What the thin driver writes for a NUMBER: plain decimals, a missing leading zero, exponents for tiny or huge values. */
const driverNumber = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 38n - 1n }), fc.integer({ min: -40, max: 40 }), fc.constantFrom('plain', 'exp'))
  .map(([neg, digits, shift, style]) => {
    const sign = neg && digits !== 0n ? '-' : '';
    if (style === 'exp') return `${sign}${digits}e${shift}`;
    const s = digits.toString();
    if (shift >= 0) return `${sign}${s}`;
    const pad = s.padStart(-shift + 1, '0');
    const int = pad.slice(0, pad.length + shift).replace(/^0+(?=\d)/, '');
    return `${sign}${int === '0' ? '' : int}.${pad.slice(pad.length + shift)}`;
  });

/** Text keys: any Unicode scalar values but NUL (PostgreSQL text cannot hold it), astral planes included. */
const textKey = fc.string({ unit: 'binary', minLength: 0, maxLength: 6 }).filter((s) => !s.includes('\u0000') && Buffer.from(s, 'utf8').toString('utf8') === s);

async function targetOrder(values: string[], type: 'numeric' | 'text'): Promise<number[]> {
  const k = type === 'numeric' ? 'k::numeric' : 'k COLLATE "C"';
  const { rows } = await target().query<{ i: string }>(`SELECT i FROM unnest($1::text[]) WITH ORDINALITY AS v(k, i) ORDER BY ${k}, i`, [values]);
  return rows.map((r) => Number(r.i) - 1);
}

async function targetRange(values: string[], lo: string, hi: string, type: 'numeric' | 'text'): Promise<number[]> {
  const c = type === 'text' ? ' COLLATE "C"' : '';
  const { rows } = await target().query<{ i: string }>(
    `SELECT i FROM unnest($1::text[]) WITH ORDINALITY AS v(k, i) WHERE k::${type}${c} > $2::${type}${c} AND k::${type}${c} <= $3::${type}${c} ORDER BY i`,
    [values, lo, hi],
  );
  return rows.map((r) => Number(r.i) - 1);
}

function stableOrder(values: string[], cmp: (a: string, b: string) => number): number[] {
  return values.map((_, i) => i).sort((a, b) => cmp(values[a], values[b]) || a - b);
}

describe('Oracle NUMBER keys order and range as the target’s numeric keys', () => {
  it('property: the order of the driver’s NUMBER text equals the target’s numeric order of what the adapter loads', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(driverNumber, { minLength: 1, maxLength: 30 }), async (keys) => {
        const loaded = keys.map(canonicalDecimal);
        expect(await targetOrder(loaded, 'numeric')).toEqual(stableOrder(keys, compareDecimal));
      }),
      { numRuns: 60 },
    );
  });

  it('property: a chunk (lo, hi] holds the same keys in Oracle (bound as text) and on the target', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(driverNumber, { minLength: 2, maxLength: 30 }), fc.nat(), fc.nat(), async (keys, a, b) => {
        const [lo, hi] = [keys[a % keys.length], keys[b % keys.length]].sort(compareDecimal);
        const oracle = keys.map((k, i) => [k, i] as const).filter(([k]) => compareDecimal(k, lo) > 0 && compareDecimal(k, hi) <= 0).map(([, i]) => i);
        // the chunk bounds travel as the adapter's boundaries do: the driver's text, canonical on the target side
        expect(await targetRange(keys.map(canonicalDecimal), canonicalDecimal(lo), canonicalDecimal(hi), 'numeric')).toEqual(oracle);
      }),
      { numRuns: 60 },
    );
  });
});

describe('Oracle VARCHAR2 keys (AL32UTF8, NLS_SORT=BINARY) order and range as the target’s COLLATE "C" keys', () => {
  const utf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

  it('property: UTF-8 byte order equals the target’s order, astral characters included (JavaScript’s < does not)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(textKey, { minLength: 1, maxLength: 30 }), async (keys) => {
        expect(await targetOrder(keys, 'text')).toEqual(stableOrder(keys, utf8));
      }),
      { numRuns: 60 },
    );
    // the trap the model avoids: UTF-16 comparison puts U+FF01 after U+1F600, code points the other way
    expect('\uFF01' < '\u{1F600}').toBe(false);
    expect(utf8('\uFF01', '\u{1F600}')).toBeLessThan(0);
  });

  it('property: a chunk (lo, hi] holds the same keys on both sides', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(textKey, { minLength: 2, maxLength: 30 }), fc.nat(), fc.nat(), async (keys, a, b) => {
        const [lo, hi] = [keys[a % keys.length], keys[b % keys.length]].sort(utf8);
        const oracle = keys.map((k, i) => [k, i] as const).filter(([k]) => utf8(k, lo) > 0 && utf8(k, hi) <= 0).map(([, i]) => i);
        expect(await targetRange(keys, lo, hi, 'text')).toEqual(oracle);
      }),
      { numRuns: 60 },
    );
  });

  it('the chunk query compares the key in the session’s binary sort, the bound as a bind', () => {
    const { sql, binds } = chunkQuery({
      schema: null,
      table: 'e_approval',
      key: 'apprno',
      columns: [{ name: 'APPRNO', kind: 'text' }],
      chunk: { id: 'c', keyFrom: 'A', keyTo: '\u{1F600}' },
      readPoint: null,
      chunking: 'key',
      keyNullable: false,
    });
    expect(sql).toBe('SELECT "APPRNO" FROM "E_APPROVAL" WHERE "APPRNO" > :key_lo AND "APPRNO" <= :key_hi ORDER BY "APPRNO"');
    expect(binds).toEqual({ key_lo: 'A', key_hi: '\u{1F600}' });
  });
});
