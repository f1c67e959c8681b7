import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { binaryOf } from '../../migration/copy-text';
import { manifestHeader, nationalLineWriter } from '../../reporting/batch-format';
import type { Manifest } from '../../reporting/batch-types';
import { deliveryRequest } from '../../reporting/delivery';
import { MANIFEST_HEADER, startReceiver } from '../../reporting/receiver';
import { BodyChecker, checkBatch, LineChecker } from '../../reporting/receiver-check';

/**
 * 上报线格式 The wire format: the batch file as the body, its manifest in a header. The reference receiver
 * checks such a body as it streams in, a line of the writer's shape by a pattern; whatever the body and
 * however it is cut into chunks, its answer is the one the former format ({ manifest, content }, every
 * line parsed) gives for the same manifest and content.
 */
const awkward = fc.string({ unit: fc.constantFrom('a', 'é', '江', '😀', '"', '\\', '\n', '\u0001', 'u', '\u2028', '\t'), maxLength: 6 });
const ITEMS = ['k', 'v', '江'];

function manifestOf(content: Buffer, rows: number, counts: Record<string, number>, items = ITEMS): Manifest {
  return {
    batchId: 't-00000001',
    table: 't',
    sequence: 1,
    kind: 'full',
    window: { from: null, to: '2026-01-01T00:00:00.000Z', fromXid: null, toXid: '1' },
    rows,
    counts: counts as Manifest['counts'],
    sha256: createHash('sha256').update(content).digest('hex'),
    format: 'jsonl',
    encoding: 'utf-8',
    items,
  };
}

/** Lines as the batch writer makes them (the patterns' shape) and hostile ones, as UTF-8 text. */
const written = fc.record({ op: fc.constantFrom('U', 'C', 'D'), key: awkward.filter((k) => k.length > 0), values: fc.array(fc.option(awkward, { nil: null }), { minLength: 3, maxLength: 3 }) }).map((r) => {
  const line = nationalLineWriter(ITEMS.map(binaryOf))(r.op as 'U', binaryOf(r.key), r.values.map((v) => (v === null ? null : binaryOf(v))));
  return Buffer.from(line, 'latin1').toString('utf8');
});
const hostile = fc
  .record({
    op: fc.constantFrom('U', 'C', 'D', 'X'),
    key: awkward,
    data: fc.option(fc.dictionary(fc.constantFrom('k', 'v', 'é', '江'), fc.option(fc.oneof(awkward, fc.integer()), { nil: null })), { nil: null }),
  })
  .map((r) => JSON.stringify(r) + '\n');
const odd = fc.constantFrom('\n', 'not json\n', '{"op":"U","key":"a","data":{"k":"x","v":null,"江":"y"}} \n', '{"op":"U","key":"\\u6c5f","data":{"k":"\\u00e9","v":null,"江":"y"}}\n', '{"op":"D","key":"a","data":{}}\n');
const lines = fc.array(fc.oneof(written, written, hostile, odd), { maxLength: 12 });

function countsOf(text: string): Record<string, number> {
  const counts: Record<string, number> = { U: 0, C: 0, D: 0 };
  for (const m of text.matchAll(/"op":"([UCD])"/g)) counts[m[1]]++;
  return counts;
}

/** The body fed in the given chunks. */
function streamed(header: string, body: Buffer, cuts: number[]) {
  const checker = new BodyChecker(header);
  let at = 0;
  for (const c of [...cuts.map((x) => x % (body.length + 1)).sort((a, b) => a - b), body.length]) {
    checker.write(body.subarray(at, Math.max(at, c)));
    at = Math.max(at, c);
  }
  const r = checker.end();
  return { reasons: r.reasons, manifest: r.manifest, lines: r.lines?.() };
}

describe('参考接收端 the batch file as the body, its manifest in a header', () => {
  it('answers as the former format does, whatever the lines and however the body is cut', () => {
    fc.assert(
      fc.property(lines, fc.array(fc.nat(), { maxLength: 4 }), fc.boolean(), fc.boolean(), (ls, cuts, lieRows, lieSha) => {
        const text = ls.join('');
        const content = Buffer.from(text, 'utf8');
        const manifest = manifestOf(content, ls.length + (lieRows ? 1 : 0), countsOf(text));
        if (lieSha) manifest.sha256 = createHash('sha256').update('other').digest('hex');
        const want = checkBatch(JSON.parse(JSON.stringify({ manifest, content: text })));
        expect(streamed(manifestHeader(manifest), content, cuts)).toEqual(want);
      }),
      { numRuns: 1000 },
    );
  });

  it('a line of the writer\'s shape checked by its pattern gives what JSON.parse and the shape checks give', () => {
    fc.assert(
      fc.property(lines, (ls) => {
        const patterned = new LineChecker(ITEMS);
        const parsed = new LineChecker(ITEMS, false);
        for (const l of ls.join('').split('\n').slice(0, -1)) {
          patterned.add(binaryOf(l));
          parsed.add(binaryOf(l));
        }
        const seen = (c: LineChecker) => ({ reasons: c.reasons, counts: c.counts, lines: c.lines, ops: c.ops, keys: c.keys });
        expect(seen(patterned)).toEqual(seen(parsed));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps every line\'s op and key over many lines, and names a key given twice however it is spelled', () => {
    const c = new LineChecker(ITEMS);
    const n = 9000; // over two runs of kept keys
    const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(5, '0')}`);
    const op = (i: number) => (i % 3 ? 'U' : 'D');
    for (const [i, key] of keys.entries()) c.add(binaryOf(JSON.stringify({ op: op(i), key, data: op(i) === 'D' ? null : { k: 'a', v: null, 江: 'y' } })));
    expect(c.reasons).toEqual([]);
    // out of order from here: the key 江 again, spelled with an escape; a lone surrogate is a key of its own
    for (const key of ['江', 'a', '\\u6c5f', '\\ud800', '\\udc00', '\\ud800']) c.add(binaryOf(`{"op":"U","key":"${key}","data":{"k":"a","v":null,"江":"y"}}`));
    expect(c.keys).toEqual([...keys, '江', 'a', '江', '\ud800', '\udc00', '\ud800']);
    expect(c.ops).toBe(keys.map((_, i) => op(i)).join('') + 'UUUUUU');
    expect(c.counts).toEqual({ U: 6006, C: 0, D: 3000 });
    expect(c.reasons).toEqual([`line ${n + 3}: key 江 twice in the batch`, `line ${n + 6}: key \ud800 twice in the batch`]);
  });

  it('accepts a batch the writer made, and rejects it with a reason after any one byte changed', () => {
    fc.assert(
      fc.property(fc.array(written, { minLength: 1, maxLength: 10 }), fc.nat(), fc.nat(), (ls, at, cut) => {
        const unique = [...new Map(ls.map((l) => [JSON.parse(l).key, l])).values()];
        const content = Buffer.from(unique.join(''), 'utf8');
        const manifest = manifestOf(content, unique.length, countsOf(unique.join('')));
        expect(streamed(manifestHeader(manifest), content, [cut]).reasons).toEqual([]);
        const flipped = Buffer.from(content);
        flipped[at % flipped.length] ^= 1;
        expect(streamed(manifestHeader(manifest), flipped, [cut]).reasons.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it('names a line that is not UTF-8, a missing or unreadable manifest header', () => {
    const content = Buffer.concat([Buffer.from('{"op":"D","key":"a","data":null}\n{"op":"D","key":"'), Buffer.from([0xff]), Buffer.from('","data":null}\n')]);
    const manifest = manifestOf(content, 2, { U: 0, C: 0, D: 2 });
    expect(streamed(manifestHeader(manifest), content, [40]).reasons).toEqual(['line 2: not UTF-8', 'manifest.counts.D: 2 ≠ 1 lines']);
    expect(new BodyChecker(undefined).end().reasons).toEqual([`manifest: missing (header ${MANIFEST_HEADER})`]);
    expect(new BodyChecker('{"batchId":').end().reasons).toEqual([`manifest: header ${MANIFEST_HEADER} is not JSON`]);
    const header = manifestHeader({ ...manifest, items: ['江'] });
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    expect(JSON.parse(header).items).toEqual(['江']);
  });
});

describe('参考接收端 over HTTP: both formats, duplicates, repeats, gaps', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-receiver-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('acknowledges the wire format and the former one, recognises a re-delivery, refuses a gap and what it cannot read', async () => {
    const receiver = await startReceiver(dir);
    try {
      const post = async (headers: Record<string, string>, body: Buffer) => {
        const res = await fetch(new URL('/batches', receiver.url), { method: 'POST', headers, body });
        return { status: res.status, body: (await res.json()) as { reasons?: string[]; duplicate?: boolean; accepted?: boolean } };
      };
      const text = '{"op":"U","key":"江1","data":{"k":"é","v":null,"江":"x"}}\n{"op":"D","key":"a\\"b","data":null}\n';
      const content = Buffer.from(text, 'utf8');
      const first = manifestOf(content, 2, { U: 1, C: 0, D: 1 });
      const req = deliveryRequest(first, content);
      expect(await post(req.headers, Buffer.concat(req.parts))).toMatchObject({ status: 200, body: { accepted: true } });
      expect(fs.readFileSync(path.join(dir, 't', '00000001.jsonl')).equals(content)).toBe(true);
      expect(receiver.accepted[0].keys).toEqual([
        { op: 'U', key: '江1' },
        { op: 'D', key: 'a"b' },
      ]);
      // the same batch again (a lost ack): a duplicate, not applied twice
      expect(await post(req.headers, Buffer.concat(req.parts))).toMatchObject({ status: 200, body: { duplicate: true } });
      // the former format, the next sequence
      const second = { ...first, batchId: 't-00000002', sequence: 2 };
      expect(await post({ 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ manifest: second, content: text })))).toMatchObject({ status: 200, body: { accepted: true } });
      // a gap, a malformed batch, no manifest, an unknown type
      const fourth = deliveryRequest({ ...first, batchId: 't-00000004', sequence: 4 }, content);
      expect(await post(fourth.headers, content)).toMatchObject({ status: 409, body: { reasons: ['t: sequence 4 leaves a gap (expected 3)'] } });
      expect(await post(deliveryRequest({ ...first, batchId: 't-00000003', sequence: 3, rows: 3 }, content).headers, content)).toMatchObject({ status: 422, body: { reasons: ['content: 2 lines, manifest.rows says 3'] } });
      expect(await post({ 'content-type': 'application/x-ndjson' }, content)).toMatchObject({ status: 422, body: { reasons: [`manifest: missing (header ${MANIFEST_HEADER})`] } });
      expect((await post({ 'content-type': 'text/csv' }, content)).status).toBe(415);
      expect(receiver.accepted.map((b) => b.sequence)).toEqual([1, 2]);
      expect(receiver.answers).toEqual({ 200: 3, 409: 1, 422: 2, 415: 1 });
    } finally {
      await receiver.close();
    }
  });
});
