import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { checkBatch, parseBody } from '../../reporting/receiver-check';
import { generatedSpec, GENERATED_ITEMS, GENERATED_TABLES } from '../../reporting/generated-spec';
import { loadReportSpec, parseReportSpec } from '../../reporting/spec';

const dir = path.join(__dirname, '..', '..', 'config', 'reporting');
const registry = () => JSON.parse(fs.readFileSync(path.join(dir, 'registry.json'), 'utf8'));
const parse = (raw: unknown) => parseReportSpec(raw, path.join(dir, 'test.json'));

describe('上报规范 report specifications', () => {
  it('the shipped registry spec loads', () => {
    const spec = loadReportSpec(path.join(dir, 'registry.json'));
    expect(spec.tables.map((t) => t.source.table)).toEqual(['market_entity', 'name_reservation', 'enterprise_group', 'entity_person', 'entity_change', 'approval_application', 'approval_process', 'approval_material']);
  });

  it('the generated spec is 53 tables / 1,090 items, validates, and is the file shipped', () => {
    const spec = loadReportSpec(path.join(dir, 'generated-53.json'));
    expect(spec.tables).toHaveLength(GENERATED_TABLES);
    expect(spec.tables.reduce((n, t) => n + t.items.length, 0)).toBe(GENERATED_ITEMS);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'generated-53.json'), 'utf8'))).toEqual(generatedSpec());
  });

  it('a malformed spec names every problem by its JSON path and loads nothing', () => {
    const raw = registry();
    raw.tables[0].items[3].colour = 'red'; // unknown key
    raw.tables[0].items[4].codeTable = 'nosuch';
    raw.tables[1].key = 'not_an_item';
    raw.tables[2].items[3].from = 'x.uniscid';
    raw.tables[3].deletes = { province: 'shred' };
    raw.tables[4].items[1].length = 0;
    raw.extra = true;
    let message = '';
    try {
      parse(raw);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/tables\[0\]\.items\[3\]: Unrecognized key: "colour"/);
    expect(message).toMatch(/tables\[3\]\.deletes\.province/);
    expect(message).toMatch(/tables\[4\]\.items\[1\]\.length/);
    expect(message).toMatch(/\(root\): Unrecognized key: "extra"/);
    // Cross checks run once the shape is right.
    const raw2 = registry();
    raw2.tables[0].items[4].codeTable = 'nosuch';
    raw2.tables[1].key = 'not_an_item';
    raw2.tables[2].items[3].from = 'x.uniscid';
    raw2.tables[3].items.push({ ...raw2.tables[3].items[0] });
    raw2.tables[0].cancellation.item = 'gone';
    expect(() => parse(raw2)).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /tables\[0\]\.items\[4\]\.codeTable: unknown code table "nosuch"[\s\S]*tables\[0\]\.cancellation\.item[\s\S]*tables\[1\]\.key: "not_an_item"[\s\S]*tables\[2\]\.items\[3\]\.from: "x\.uniscid" names no join alias[\s\S]*tables\[3\]\.items\[7\]\.name: duplicate item/,
        ),
      }),
    );
  });
});

describe('参考接收端 the receiver checks a batch against its manifest', () => {
  const batch = (lines: object[]) => {
    const content = lines.map((l) => JSON.stringify(l) + '\n').join('');
    const counts = { U: 0, C: 0, D: 0 } as Record<string, number>;
    for (const l of lines as { op: string }[]) counts[l.op]++;
    return { manifest: { batchId: 't-1', table: 't', sequence: 1, rows: lines.length, counts, sha256: createHash('sha256').update(content).digest('hex'), items: ['k', 'v'], window: { to: 'now' } }, content };
  };
  const row = fc.record({ op: fc.constantFrom('U', 'C'), key: fc.string({ minLength: 1 }), data: fc.record({ k: fc.string(), v: fc.option(fc.string(), { nil: null }) }) });

  it('accepts any well-formed batch, and any change to one byte of it is rejected with a reason', () => {
    fc.assert(
      fc.property(fc.uniqueArray(row, { selector: (r) => r.key, minLength: 1, maxLength: 20 }), fc.nat(), (rows, at) => {
        const b = batch(rows);
        expect(checkBatch(b).reasons).toEqual([]);
        const i = at % b.content.length;
        const flipped = b.content.slice(0, i) + String.fromCharCode(b.content.charCodeAt(i) ^ 1) + b.content.slice(i + 1);
        expect(checkBatch({ ...b, content: flipped }).reasons.length).toBeGreaterThan(0);
      }),
    );
  });

  it('reads a body from its bytes as binary strings when it can, with the answer of its text: same reasons, keys and manifest', () => {
    const awkward = fc.string({ unit: fc.constantFrom('a', 'é', '江', '😀', '"', '\\', '\n', '\u0001', 'u', '\u2028'), maxLength: 6 });
    const hostile = fc.record({ op: fc.constantFrom('U', 'C', 'D', 'X'), key: awkward, data: fc.option(fc.dictionary(fc.constantFrom('k', 'v', 'é', '江'), fc.option(fc.oneof(awkward, fc.integer()), { nil: null })), { nil: null }) });
    fc.assert(
      fc.property(fc.array(hostile, { maxLength: 12 }), fc.constantFrom('t-1', 'т-1', 'x\\u'), fc.boolean(), (rows, batchId, escaped) => {
        const b = batch(rows);
        if (rows.length) b.manifest.items = ['k', 'v', '江'];
        b.manifest.batchId = batchId;
        // a client may escape every non-ASCII character (\\uXXXX): the body is then read as text
        const json = JSON.stringify(b);
        const raw = Buffer.from(escaped ? json.replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : json, 'utf8');
        const { body, binary } = parseBody(raw);
        const want = checkBatch(JSON.parse(raw.toString('utf8')));
        expect(checkBatch(body, binary)).toEqual(want);
      }),
      { numRuns: 500 },
    );
    expect(parseBody(Buffer.from(JSON.stringify(batch([{ op: 'U', key: '江', data: { k: 'é', v: null } }])))).binary).toBe(true);
  });

  it('names what is wrong: counts, shape, duplicate keys', () => {
    const b = batch([{ op: 'U', key: 'a', data: { k: 'a' } }, { op: 'D', key: 'a', data: null }]);
    b.manifest.rows = 3;
    expect(checkBatch(b).reasons).toEqual(['line 1: items missing: v', 'line 2: key a twice in the batch', 'content: 2 lines, manifest.rows says 3']);
  });
});
