import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { MultisetDigest } from '../../verification/multiset-digest';

/**
 * 无键表 The keyless verification's digest: the multiset, not the order; every repeat counts; and the lanes add up
 * to exactly the BigInt sum of the SHA-256 values modulo 2^256 (the reference written the slow way).
 */
const digestOf = (lines: string[]) => {
  const d = new MultisetDigest();
  for (const l of lines) d.add(l);
  return d.digest();
};
const reference = (lines: string[]) => {
  let sum = 0n;
  for (const l of lines) sum += BigInt('0x' + createHash('sha256').update(l, 'utf8').digest('hex'));
  return (sum % (1n << 256n)).toString(16).padStart(64, '0');
};
const lines = fc.array(fc.oneof(fc.string(), fc.constantFrom('江门\t1\t\\N', '', 'a')), { maxLength: 60 });

describe('无键表 MultisetDigest', () => {
  it('is the sum of the lines’ SHA-256 modulo 2^256, in any order', () => {
    fc.assert(
      fc.property(lines, fc.infiniteStream(fc.nat()), (ls, seeds) => {
        const shuffled = [...ls].sort(() => (seeds.next().value % 3) - 1);
        expect(digestOf(ls)).toBe(reference(ls));
        expect(digestOf(shuffled)).toBe(digestOf(ls));
      }),
      { numRuns: 300 },
    );
  });

  it('tells a repeat, a loss and a change apart from the original', () => {
    fc.assert(
      fc.property(lines.filter((ls) => ls.length > 0), fc.nat(), fc.string(), (ls, at, other) => {
        const i = at % ls.length;
        const base = digestOf(ls);
        expect(digestOf([...ls, ls[i]])).not.toBe(base);
        expect(digestOf(ls.filter((_, j) => j !== i))).not.toBe(base);
        if (other !== ls[i]) expect(digestOf(ls.map((l, j) => (j === i ? other : l)))).not.toBe(base);
      }),
      { numRuns: 300 },
    );
  });

  it('carries across lanes past 2^256 (many lines of all-ones-heavy hashes wrap, as the BigInt sum does)', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `row ${i}`);
    expect(digestOf(many)).toBe(reference(many));
    expect(new MultisetDigest().digest()).toBe('0'.repeat(64));
  });
});
