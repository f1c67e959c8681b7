import { createHash } from 'node:crypto';

/**
 * 无键表 A digest of a multiset of lines that is read in one pass, in any order, in constant memory: the sum of
 * every line's SHA-256 (its UTF-8 bytes) as a 256-bit number, modulo 2^256 (an additive multiset hash). The same
 * lines, each as often, give the same digest whatever their order; a line added, lost, changed or repeated once
 * more changes it (short of a SHA-256 collision sum, not something data can stumble on). Counted beside it: rows.
 *
 * The sum is kept in sixteen 16-bit lanes, each a plain number (no BigInt per line): a lane takes 2^37 lines
 * before it could lose a bit, far beyond any table; the carries are settled once, in digest().
 */
export class MultisetDigest {
  private readonly lanes = new Float64Array(16);
  rows = 0;

  add(line: string): void {
    const h = createHash('sha256').update(line, 'utf8').digest();
    for (let i = 0; i < 16; i++) this.lanes[i] += (h[2 * i] << 8) | h[2 * i + 1];
    this.rows++;
  }

  /** hex of the sum modulo 2^256, most significant lane first (as the hashes are read) */
  digest(): string {
    let sum = 0n;
    for (let i = 0; i < 16; i++) sum = (sum << 16n) + BigInt(this.lanes[i]);
    sum &= (1n << 256n) - 1n;
    return sum.toString(16).padStart(64, '0');
  }
}
