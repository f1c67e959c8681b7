import fc from 'fast-check';
import { compareKeys } from '../../verification/canonical';

/**
 * compareKeys orders keys as PostgreSQL's COLLATE "C" does on UTF-8: by the bytes of their UTF-8, which is
 * code-point order. JS's own string order (UTF-16 units) differs once a key holds a character above
 * U+FFFF beside one in U+E000–U+FFFF; the comparison works on units without encoding, so it is checked
 * against the byte order itself.
 */
const unit = fc.oneof(
  fc.constantFrom('a', 'A', '0', '-', ' ', '\t', '\\', 'é', '中', '市', '\uE000', '\uFF21', '\uFFFD', '\u{10000}', '\u{1F600}', '\u{20000}', '\u{2A6D6}'),
  fc.string({ unit: 'grapheme', maxLength: 1 }),
);
const key = fc.array(unit, { maxLength: 8 }).map((parts) => parts.join(''));
const bytes = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));

describe('compareKeys (code-point order, as COLLATE "C")', () => {
  it('agrees with the byte order of the UTF-8 on any two keys', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(bytes(a, b));
      }),
      { numRuns: 5000 },
    );
  });

  it('puts a character above U+FFFF after one in U+E000–U+FFFF, where JS string order does the opposite', () => {
    const astral = 'K\u{1F600}';
    const bmpHigh = 'K\uFF21';
    expect(astral < bmpHigh).toBe(true); // UTF-16 units: 0xD83D < 0xFF21
    expect(compareKeys(astral, bmpHigh)).toBe(1);
    expect(compareKeys(bmpHigh, astral)).toBe(-1);
    expect(compareKeys('K', 'K\u0000')).toBe(-1);
    expect(compareKeys('市场', '市场')).toBe(0);
  });

  it('sorts a list as the bytes do', () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 40 }), (keys) => {
        const ours = [...keys].sort(compareKeys);
        const theirs = [...keys].sort(bytes);
        expect(ours).toEqual(theirs);
      }),
    );
  });
});
