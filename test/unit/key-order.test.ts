import fc from 'fast-check';
import { integerBound, keyOrderOf } from '../../migration/key-order';

/**
 * A bound compared with an integer target key (migration/key-order.ts, integerBound): the legacy side may
 * give a fraction or a number beyond the target type as a chunk bound; the target compares its integer
 * key with the bound made to fit, and must select exactly the keys the exact comparison selects.
 */
const decimalText = fc
  .tuple(fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }), fc.integer({ min: 0, max: 4 }), fc.constantFrom('', ' '))
  .map(([v, scale, pad]) => {
    if (scale === 0) return pad + v.toString() + pad;
    const sign = v < 0n ? '-' : '';
    const digits = (v < 0n ? -v : v).toString().padStart(scale + 1, '0');
    return `${pad}${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}${pad}`;
  });

/** exact comparison of an integer with a decimal text, by scaling both to integers */
function compare(k: bigint, text: string): number {
  const [whole, frac = ''] = text.trim().split('.');
  const scale = 10n ** BigInt(frac.length);
  const neg = whole.startsWith('-');
  const magnitude = BigInt(whole.replace('-', '') || '0') * scale + BigInt(frac || '0');
  const v = neg ? -magnitude : magnitude;
  const x = k * scale;
  return x < v ? -1 : x > v ? 1 : 0;
}

describe('integerBound: bounds that fit an integer key select the same keys', () => {
  for (const [type, min, max] of [['bigint', -(2n ** 63n), 2n ** 63n - 1n], ['integer', -(2n ** 31n), 2n ** 31n - 1n]] as const) {
    it(`${type}: k > b and k <= b agree with the exact comparison for every key of the type`, () => {
      fc.assert(
        fc.property(fc.bigInt({ min, max }), decimalText, (k, b) => {
          const fitted = integerBound(b, type);
          const greater = fitted === 'below' ? true : fitted === 'above' ? false : k > BigInt(fitted);
          const atMost = fitted === 'below' ? false : fitted === 'above' ? true : k <= BigInt(fitted);
          expect(greater).toBe(compare(k, b) > 0);
          expect(atMost).toBe(compare(k, b) <= 0);
          if (fitted !== 'below' && fitted !== 'above') expect(BigInt(fitted) >= min && BigInt(fitted) <= max).toBe(true);
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('a bound that is no number is left for the database to refuse', () => {
    expect(integerBound('abc', 'bigint')).toBe('abc');
    expect(integerBound('', 'bigint')).toBe('');
  });

  it('only numbers and text have a key order', () => {
    expect([keyOrderOf('integer'), keyOrderOf('bigint'), keyOrderOf('numeric'), keyOrderOf('text')]).toEqual(['numeric', 'numeric', 'numeric', 'code-point']);
    expect(() => keyOrderOf('date')).toThrow(/no declared order/);
  });
});
