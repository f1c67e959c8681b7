import fc from 'fast-check';
import { binaryOf, encodeLine, Field, textOf } from '../../migration/copy-text';
import { canonicalLine, nationalLineWriter, opOf } from '../../reporting/batch-format';
import { compileConverter, utf8Length } from '../../reporting/convert';
import { compileRowReady, splitExtracted } from '../../reporting/rows';
import type { ReportSpec } from '../../reporting/spec';
import { reportTestSpec } from '../support/report-spec-fixture';

/**
 * The rows of a batch are made as binary strings (rows.ts: one char per UTF-8 byte, no decoding per row).
 * Whatever a row holds, that path must give the bytes the text converter gives: the province line, its
 * SHA-256, the national JSON line, the canonical line, the op and the rejection reason.
 */
const spec = (): ReportSpec => reportTestSpec();

// Characters a registry value may hold, the awkward ones over-represented: Unicode spaces trim and \s know,
// characters whose UTF-8 bytes include 0xA0 or 0x85 (Latin-1 NBSP / NEL as binary), COPY's escaped bytes, JSON's.
const awkward = ['\u00a0', '\u3000', '\u2028', '\ufeff', '蠠', '堅', 'ß', 'ﬀ', 'é', 'x', 'X', '江', '门', ' ', '\t', '\n', '\r', '\\', '"', '\u0001', '\u007f', '😀', 'a', '1'];
const value = fc.option(fc.oneof(fc.string({ unit: fc.constantFrom(...awkward), maxLength: 9 }), fc.string({ maxLength: 6 }), fc.constantFrom('1100', '1130', ' 1100 ', '1', '3', '4', '9', '')), { nil: null });

describe('汇聚 rows as binary strings', () => {
  const s = spec();
  const table = s.tables[0];
  const convert = compileConverter(s, table);
  const writer = nationalLineWriter(table.items.map((i) => i.name));
  const { ready, canonical } = compileRowReady(s, table);

  it('give the text converter\'s bytes for any row: province line and hash, JSON line, canonical line, op, reason', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '江', '\\', '\t', 'é'), minLength: 1, maxLength: 5 }), fc.array(value, { minLength: 7, maxLength: 7 }), (key, items) => {
        const fields: Field[] = [key, ...items.slice(1)];
        // the extraction's COPY text line (key, present, version, items) as it comes off the wire: binary
        const line = binaryOf(encodeLine([key, 't', null, ...fields]));
        const raw = splitExtracted(line);
        expect(textOf(raw.key)).toBe(key);
        const r = ready(raw);
        const want = convert(fields);
        if (!want.ok) {
          expect(r.ok).toBe(false);
          if (!r.ok) {
            expect(r.rejected.reason).toBe(want.reason);
            expect(r.rejected.key).toBe(key);
            expect(r.rejected.fields).toEqual(fields);
          }
          expect(canonical(raw)).toBeUndefined();
          return;
        }
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        const op = opOf(table, { present: true }, want.fields);
        const text = encodeLine(want.fields);
        expect(r.row.op).toBe(op);
        expect(textOf(r.row.line)).toBe(text);
        expect(Buffer.from(r.row.json, 'latin1').equals(Buffer.from(writer(op, key, want.fields), 'utf8'))).toBe(true);
        expect(Buffer.from(canonical(raw)!, 'latin1').equals(Buffer.from(canonicalLine(want.fields, op), 'utf8'))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('a deleted row (no registry row) travels as D', () => {
    const raw = splitExtracted(binaryOf(encodeLine(['江1', 'f', '42', null, null, null, null, null, null, null])));
    const r = ready(raw);
    expect(r.ok && r.row).toEqual({ key: '江1', op: 'D', line: '', json: binaryOf(writer('D', '江1', [])) });
    expect(canonical(raw)).toBeNull();
  });

  it('a length counts characters, not bytes', () => {
    expect(utf8Length(binaryOf('江门a😀'))).toBe(4);
    const name = (v: string) => ready(splitExtracted(binaryOf(encodeLine(['k', 't', null, 'k', v, null, null, '1', null, null]))));
    expect(name('江门市蓬江区').ok).toBe(true);
    const long = name('江门市蓬江区x');
    expect(long.ok).toBe(false);
    if (!long.ok) expect(long.rejected.reason).toBe('name: 7 characters, at most 6 allowed');
  });
});
