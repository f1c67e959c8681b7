import { Readable } from 'node:stream';
import { CopyTextParser, decodeLine, encodeRow, Field, textOf } from '../../migration/copy-text';

describe('COPY text format codec', () => {
  const awkward: Field[] = ['a\tb', 'line1\nline2\r', 'back\\slash', null, '', '\\N', '江门市 蓬江区（分店）', '\b\f\v'];

  it('round-trips tabs, newlines, backslashes, NULL vs empty string and CJK text', () => {
    const line = encodeRow(awkward);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1).split('\t')).toHaveLength(awkward.length);
    expect(decodeLine(line.slice(0, -1))).toEqual(awkward);
  });

  it('decodes the octal and hex escapes PostgreSQL may send', () => {
    expect(decodeLine('\\101\\x42\\7')).toEqual(['AB\x07']);
  });

  it('splits a byte stream into escaped lines (their bytes, as binary strings) even when a multi-byte character straddles two chunks', async () => {
    const bytes = Buffer.from(encodeRow(['江门', null]) + encodeRow(['新\t会', 'x']));
    const chunks = [bytes.subarray(0, 4), bytes.subarray(4, 13), bytes.subarray(13)];
    const rows: string[] = [];
    for await (const batch of Readable.from(chunks).pipe(new CopyTextParser())) rows.push(...(batch as string[]).map(textOf));
    expect(rows).toEqual(['江门\t\\N', '新\\t会\tx']);
  });
});
