import fc from 'fast-check';
import { binaryOf, encodeLine, Field } from '../../migration/copy-text';
import { FirstLoadEncoder } from '../../reporting/batch-encoder';
import { compileRowReady, RejectedRow, splitExtracted } from '../../reporting/rows';
import type { ReportSpec } from '../../reporting/spec';
import { reportTestSpec } from '../support/report-spec-fixture';

/**
 * A first load's rows are made straight from the extraction's bytes (batch-encoder.ts). Whatever the rows
 * hold and wherever the socket cut the output, it must give rows.ts's bytes: every province line, every
 * JSON line, the op counts and every held row with its reason — and refuse rows out of key order.
 */
const spec = (): ReportSpec =>
  reportTestSpec([
    {
      // a plain item carries the cancellation: its raw bytes decide the op
      name: 'rpt_plain',
      cancellation: { item: 'status', values: ['注销', 'X'] },
      items: [
        { name: 'k', type: 'text', from: 'k' },
        { name: 'status', type: 'text', from: 'status' },
        { name: 'note', type: 'text', from: 'note' },
        { name: 'addr', type: 'text', from: 'addr', clean: ['trim'], length: 6 },
        { name: 'title', type: 'text', from: 'title', clean: ['collapseSpaces'] },
        { name: 'code', type: 'text', from: 'code', clean: ['upper'], required: true, length: 4 },
      ],
    },
  ]);

const awkward = ['\u00a0', '\u3000', '\u2028', '\ufeff', '\u001f', '蠠', '堅', 'ß', 'ﬀ', 'é', 'x', 'X', '江', '门', ' ', '\t', '\n', '\r', '\\', '"', '\u0001', '\u007f', '😀', 'a', '1', 'N'];
const value = fc.option(
  fc.oneof(
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...awkward), maxLength: 9 }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
    // values over the length a loop copies (batch-encoder.ts COPY_LOOP): the other way of copying
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('江', 'a', ' ', 'é'), minLength: 70, maxLength: 120 }) },
    { weight: 3, arbitrary: fc.constantFrom('1100', '1130', ' 1100 ', '1', '3', '4', '9', '', 'X', '注销', '江门 市', '\\N', 'abc') },
  ),
  { nil: null },
);
const keyUnit = fc.constantFrom('a', 'b', '江', '\\', '\t', 'é', '"', '0', '9');

/** rows.ts's bytes for the same lines: what the encoder must give */
function expected(s: ReportSpec, table: ReportSpec['tables'][number], lines: string[]) {
  const { ready } = compileRowReady(s, table);
  let province = '';
  let json = '';
  const rejected: RejectedRow[] = [];
  const counts = { U: 0, C: 0, D: 0 };
  for (const l of lines) {
    const r = ready(splitExtracted(l));
    if (!r.ok) {
      rejected.push(r.rejected);
      continue;
    }
    province += `${r.row.line}\t${r.row.op}\n`;
    json += r.row.json;
    counts[r.row.op]++;
  }
  return { province: Buffer.from(province, 'latin1'), json: Buffer.from(json, 'latin1'), rejected, counts };
}

const ways = { bytes: 0, general: 0 };
function encode(s: ReportSpec, table: ReportSpec['tables'][number], bytes: Buffer, cuts: number[]) {
  const enc = new FirstLoadEncoder(s, table);
  const province: Buffer[] = [];
  const json: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts.map((x) => Math.floor(x * bytes.length)).sort((a, b) => a - b), bytes.length]) {
    const run = enc.push(Buffer.from(bytes.subarray(at, c)));
    province.push(run.province);
    json.push(run.json);
    at = c;
  }
  const last = enc.end();
  ways.bytes += enc.ways.bytes;
  ways.general += enc.ways.general;
  province.push(last.province);
  json.push(last.json);
  return { province: Buffer.concat(province), json: Buffer.concat(json), rejected: enc.rejected, counts: enc.counts, rows: enc.rows };
}

describe('汇聚 a first load encoded from bytes', () => {
  const s = spec();
  /** The rows (keys and item values) as the extraction sends them, cut as given: the encoder's bytes are rows.ts's. */
  const same = (table: ReportSpec['tables'][number], keys: string[], values: readonly Field[][], cuts: number[], lastLf: boolean) => {
    // code-point order, as the extraction's ORDER BY … COLLATE "C" gives it
    const sorted = keys.map(binaryOf).sort();
    const lines = sorted.map((k, i) => {
      const items: Field[] = [...values[i]];
      items[0] = Buffer.from(k, 'latin1').toString('utf8');
      return binaryOf(encodeLine([items[0], 't', null, ...items]));
    });
    const bytes = Buffer.from(lines.map((l) => l + '\n').join('').slice(0, lastLf || !lines.length ? undefined : -1), 'latin1');
    const want = expected(s, table, lines);
    const got = encode(s, table, bytes, cuts);
    expect(got.province.toString('latin1')).toBe(want.province.toString('latin1'));
    expect(got.json.toString('latin1')).toBe(want.json.toString('latin1'));
    expect(got.rejected).toEqual(want.rejected);
    expect(got.counts).toEqual(want.counts);
    expect(got.rows).toBe(want.counts.U + want.counts.C);
  };

  afterAll(() => {
    // both ways were taken, many times each
    expect(ways.bytes).toBeGreaterThan(3000);
    expect(ways.general).toBeGreaterThan(1000);
  });

  for (const table of s.tables) {
    it(`gives rows.ts's bytes for any rows and any cuts of the output (${table.name})`, () => {
      fc.assert(
        fc.property(
          // keys short, and some longer than the encoder's first buffer for the last key (256 bytes)
          fc.uniqueArray(fc.oneof({ weight: 9, arbitrary: fc.string({ unit: keyUnit, minLength: 1, maxLength: 5 }) }, { weight: 1, arbitrary: fc.string({ unit: keyUnit, minLength: 90, maxLength: 130 }) }), { minLength: 0, maxLength: 25 }),
          fc.array(fc.array(value, { minLength: table.items.length, maxLength: table.items.length }), { minLength: 25, maxLength: 25 }),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
          fc.boolean(),
          (keys, values, cuts, lastLf) => same(table, keys, values, cuts, lastLf),
        ),
        { numRuns: 700 },
      );
    });
  }

  // Rows with no escape, quote or control character, whose values mostly pass their rules: the rows the
  // encoder does from their bytes, whitespace of every kind at the ends and inside, characters upper maps.
  const spaces = ['\u00a0', '\u3000', '\u2028', '\u2029', '\ufeff', '\u1680', '\u2000', '\u2005', '\u200a', '\u202f', '\u205f', '\u200b', '\u3001', ' '];
  const letters = ['蠠', '堅', 'ß', 'ﬀ', 'é', 'x', 'X', 'a', 'z', '江', '1', 'ǅ', 'ﬁ', '~'];
  const plainText = fc.string({ unit: fc.oneof(fc.constantFrom(...spaces), fc.constantFrom(...letters)), maxLength: 5 });
  for (const table of s.tables) {
    it(`gives rows.ts's bytes for rows without escapes whose values mostly pass (${table.name})`, () => {
      const itemValue = (item: ReportSpec['tables'][number]['items'][number]) => {
        const codes = item.codeTable ? [...s.codeTables.get(item.codeTable)!.values.keys()] : [];
        return fc.oneof(
          { weight: 6, arbitrary: codes.length ? fc.constantFrom(...codes, ' ' + codes[0], 'zz') : plainText },
          { weight: 1, arbitrary: fc.constantFrom('', '3', '4', 'X', '注销') },
          { weight: 1, arbitrary: fc.constant(null) },
        );
      };
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.string({ unit: fc.constantFrom('a', 'b', '江', 'é', '0', '9'), minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 20 }),
          fc.array(fc.tuple(...(table.items.map(itemValue) as [fc.Arbitrary<Field>])), { minLength: 20, maxLength: 20 }),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
          (keys, values, cuts) => same(table, keys, values, cuts, true),
        ),
        { numRuns: 700 },
      );
    });
  }

  it('refuses a row whose key is not above the one before, on either way', () => {
    const table = s.tables[1];
    const line = (k: string, note: string) => binaryOf(encodeLine([k, 't', null, k, 'A', note, null, null, 'C1'])) + '\n';
    for (const note of ['plain', 'has "quote"']) {
      const enc = new FirstLoadEncoder(s, table);
      expect(() => enc.push(Buffer.from(line('b', 'x') + line('a', note), 'latin1'))).toThrow(/rpt_plain: the registry's rows did not come in key order \(b, then a\)/);
      const twice = new FirstLoadEncoder(s, table);
      expect(() => twice.push(Buffer.from(line('江', 'x') + line('江', note), 'latin1'))).toThrow(/not come in key order \(江, then 江\)/);
    }
  });

  it('a cancelled row (a code of the cancellation item) goes as C on both outputs', () => {
    const table = s.tables[1];
    const enc = new FirstLoadEncoder(s, table);
    const run = enc.push(Buffer.from(binaryOf(encodeLine(['k1', 't', null, 'k1', '注销', 'n', ' 江门 ', 'a  b', 'c1'])) + '\n', 'latin1'));
    expect(run.json.toString('utf8')).toBe('{"op":"C","key":"k1","data":{"k":"k1","status":"注销","note":"n","addr":"江门","title":"a b","code":"C1"}}\n');
    expect(run.province.toString('utf8')).toBe('k1\t注销\tn\t江门\ta b\tC1\tC\n');
    expect(enc.counts).toEqual({ U: 0, C: 1, D: 0 });
  });
});
