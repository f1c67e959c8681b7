import type { Op } from './batch-format';
import { compileItemSteps } from './convert';
import { compileRowReady, RejectedRow, splitExtracted } from './rows';
import type { ReportSpec, ReportTable } from './spec';

/**
 * 汇聚 A first load's rows made ready straight from the registry's COPY output bytes to the bytes they go
 * out as: the province's COPY lines (items, op: the canonical lines; the batch id is the column's default
 * during the load) and the national JSON lines — without a string
 * per line or per field. It gives rows.ts's bytes exactly (the property test holds it to them):
 *
 * - a row whose line holds no backslash but the NULL markers, no '"' and no control character but the
 *   TABs — nearly every row — is done here: each field's bytes are copied to both outputs as they are
 *   (in COPY text and inside a JSON string such bytes mean themselves), and only the items with a rule
 *   are cut out as a binary string and put through convert.ts's step for the item;
 * - any other row (an escape, a quote, a control character, a value a rule rejects or turns into one of
 *   those, a row not present) goes through rows.ts as a binary string, as every row used to.
 *
 * The rows come in code-point key order (the extraction sorts them so): a key not above the one before is
 * an error, as it would be a duplicate in the batch.
 */
export interface EncodedRun {
  /** province COPY lines, each `items TAB op LF` */
  province: Buffer;
  /** national JSON lines, each with its LF */
  json: Buffer;
}

const TAB = 0x09;
const LF = 0x0a;
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const N = 0x4e;
const T = 0x74;
const NULL_BYTES = Buffer.from('\\N', 'latin1');
const JSON_NULL = Buffer.from('null', 'latin1');
const OPEN = Buffer.from('{"op":"U","key":"', 'latin1');
/** where OPEN's U is, counted back from its end */
const OP_BACK = OPEN.length - OPEN.indexOf('U');
const MID = Buffer.from('","data":{', 'latin1');
const CLOSE = Buffer.from('}}\n', 'latin1');

/** A binary string of a buffer's bytes [a, b) (Buffer's own latin1 slice, without toString's checks where it has one). */
const latin1Slice: (buf: Buffer, a: number, b: number) => string =
  typeof (Buffer.prototype as unknown as { latin1Slice?: unknown }).latin1Slice === 'function'
    ? (buf, a, b) => (buf as unknown as { latin1Slice(a: number, b: number): string }).latin1Slice(a, b)
    : (buf, a, b) => buf.toString('latin1', a, b);

/**
 * Below this many bytes a loop copies: a typed array's set() needs a view of the source made first, which
 * costs more than the loop for the short values rows are made of.
 */
const COPY_LOOP = 256;

/**
 * Output bytes written into large slabs, handed out as views of them run by run (a run's view is never
 * written again): one allocation per few megabytes, not per chunk.
 */
class ByteWriter {
  buf: Buffer;
  pos = 0;
  /** where the run not yet handed out begins: positions in it are kept relative to this (ensure may move it) */
  start = 0;
  constructor(private readonly slab: number) {
    this.buf = Buffer.allocUnsafeSlow(slab);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const open = this.pos - this.start;
    const next = Buffer.allocUnsafeSlow(Math.max(this.slab, 2 * (open + n)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = open;
  }
  /** bytes [a, b) of src; room ensured by the caller */
  copy(src: Uint8Array, a: number, b: number): void {
    if (b - a < COPY_LOOP) {
      const out = this.buf;
      let p = this.pos;
      for (let i = a; i < b; i++) out[p++] = src[i];
      this.pos = p;
    } else {
      this.buf.set(src.subarray(a, b), this.pos);
      this.pos += b - a;
    }
  }
  all(src: Uint8Array): void {
    this.copy(src, 0, src.length);
  }
  /**
   * A binary string's bytes, when none of them needs an escape in COPY text or JSON ('"', '\\', a control
   * character): false, and nothing written, when one does.
   */
  safe(v: string): boolean {
    this.ensure(v.length);
    const out = this.buf;
    let p = this.pos;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x20 || c === QUOTE || c === BACKSLASH) return false;
      out[p++] = c;
    }
    this.pos = p;
    return true;
  }
  /** a binary string's bytes, whatever they are */
  latin1(v: string): void {
    this.ensure(v.length);
    this.pos += this.buf.write(v, this.pos, 'latin1');
  }
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }
}

/**
 * Whether a rule leaves a value's bytes as they are and accepts them, told from the bytes (no string made):
 * exact where it answers true, and false whenever it is not sure (the value then goes through the item's
 * step as a binary string). A NULL or empty value never comes here.
 */
type ByteCheck = (buf: Uint8Array, a: number, b: number) => boolean;

const isAsciiSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
/** JavaScript's whitespace at [i, b): U+00A0 (2 bytes) or one of the 3-byte ones (convert.ts's WS3) */
function wideSpaceAt(buf: Uint8Array, i: number, b: number): boolean {
  const c = buf[i];
  if (c === 0xc2) return i + 1 < b && buf[i + 1] === 0xa0;
  if (i + 2 >= b) return false;
  const d = buf[i + 1];
  const e = buf[i + 2];
  if (c === 0xe1) return d === 0x9a && e === 0x80;
  if (c === 0xe2) return (d === 0x80 && ((e >= 0x80 && e <= 0x8a) || e === 0xa8 || e === 0xa9 || e === 0xaf)) || (d === 0x81 && e === 0x9f);
  if (c === 0xe3) return d === 0x80 && e === 0x80;
  if (c === 0xef) return d === 0xbb && e === 0xbf;
  return false;
}
/** trim leaves it: no whitespace at either end */
const trimmed: ByteCheck = (buf, a, b) => {
  const first = buf[a];
  if (first < 0x80 ? isAsciiSpace(first) : wideSpaceAt(buf, a, b)) return false;
  const last = buf[b - 1];
  if (last < 0x80) return !isAsciiSpace(last);
  // the last character's lead byte: 2 or 3 bytes back
  return !(b - a >= 2 && wideSpaceAt(buf, b - 2, b)) && !(b - a >= 3 && wideSpaceAt(buf, b - 3, b));
};
/** collapseSpaces leaves it: no space followed by whitespace, no other whitespace (a row here holds no control character) */
const collapsed: ByteCheck = (buf, a, b) => {
  for (let i = a; i < b; i++) {
    const c = buf[i];
    if (c === 0x20) {
      if (i + 1 < b && (buf[i + 1] === 0x20 || wideSpaceAt(buf, i + 1, b))) return false;
    } else if (c >= 0xc2 && wideSpaceAt(buf, i, b)) return false;
  }
  return true;
};
/** upper leaves it: ASCII with no small letter (toUpperCase maps many other characters) */
const upper: ByteCheck = (buf, a, b) => {
  for (let i = a; i < b; i++) {
    const c = buf[i];
    if (c >= 0x80 || (c >= 0x61 && c <= 0x7a)) return false;
  }
  return true;
};

function byteCheckOf(item: ReportTable['items'][number]): ByteCheck | undefined {
  if (item.codeTable) return undefined;
  const checks: ByteCheck[] = [];
  for (const c of item.clean ?? []) {
    if (c === 'trim') checks.push(trimmed);
    else if (c === 'collapseSpaces') checks.push(collapsed);
    else if (c === 'upper') checks.push(upper);
    else return undefined;
  }
  const max = item.length;
  return (buf, a, b) => {
    for (const c of checks) if (!c(buf, a, b)) return false;
    if (max === undefined || b - a <= max) return true;
    // more bytes than characters allowed: count the characters (the bytes that start one)
    let n = 0;
    for (let i = a; i < b; i++) if ((buf[i] & 0xc0) !== 0x80) n++;
    return n <= max;
  };
}

export class FirstLoadEncoder {
  readonly counts: Record<Op, number> = { U: 0, C: 0, D: 0 };
  rows = 0;
  readonly rejected: RejectedRow[] = [];
  /** rows done from their bytes, and rows that went rows.ts's way */
  readonly ways = { bytes: 0, general: 0 };
  /** the last key's bytes (a key is not above 64 KiB: more and the order is compared as strings) */
  private lastKey = new Uint8Array(256);
  private lastKeyLength = -1;
  private rest: Buffer | undefined;
  private readonly steps: ReturnType<typeof compileItemSteps>;
  /** per item: its rules told from the bytes where they can be (byteCheckOf) */
  private readonly checks: (ByteCheck | undefined)[];
  private readonly required: boolean[];
  private readonly ready: ReturnType<typeof compileRowReady>['ready'];
  private readonly fieldCount: number;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  /** `,"name":"` (no comma for the first) as bytes, the value's opening quote included; and `,"name":null` */
  private readonly namesQuoted: Buffer[];
  private readonly namesNull: Buffer[];
  private readonly namesLength: number;
  private readonly tail: Buffer;
  private readonly cancelAt: number;
  private readonly cancelled: Set<string>;
  private readonly province = new ByteWriter(4 << 20);
  private readonly json = new ByteWriter(8 << 20);

  constructor(
    spec: ReportSpec,
    private readonly table: ReportTable,
  ) {
    this.steps = compileItemSteps(spec, table);
    this.ready = compileRowReady(spec, table).ready;
    this.fieldCount = 3 + table.items.length;
    this.starts = new Int32Array(this.fieldCount + 1);
    this.ends = new Int32Array(this.fieldCount + 1);
    const names = table.items.map((i, n) => Buffer.from((n ? ',' : '') + JSON.stringify(i.name) + ':', 'utf8'));
    this.namesQuoted = names.map((b) => Buffer.concat([b, Buffer.from('"')]));
    this.namesNull = names.map((b) => Buffer.concat([b, JSON_NULL]));
    this.checks = table.items.map(byteCheckOf);
    this.required = table.items.map((i) => i.required === true);
    this.namesLength = names.reduce((n, b) => n + b.length, 0);
    this.tail = Buffer.from('\n', 'latin1');
    const c = table.cancellation;
    this.cancelAt = c ? table.items.findIndex((i) => i.name === c.item) : -1;
    // the codes the cancellation's item holds once converted, as binary strings (rows.ts's opOfValues)
    this.cancelled = new Set((c?.values ?? []).map((v) => Buffer.from(v, 'utf8').toString('latin1')));
  }

  /** One chunk of the extraction's output: the lines it completes, encoded. */
  push(chunk: Buffer): EncodedRun {
    const end = chunk.lastIndexOf(LF);
    if (end === -1) {
      this.rest = this.rest ? Buffer.concat([this.rest, chunk]) : Buffer.from(chunk);
      return { province: Buffer.alloc(0), json: Buffer.alloc(0) };
    }
    let buf = chunk;
    let upto = end;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk.subarray(0, end + 1)]);
      upto = buf.length - 1;
    }
    this.rest = end + 1 < chunk.length ? Buffer.from(chunk.subarray(end + 1)) : undefined;
    for (let s = 0; s <= upto; ) {
      const e = buf.indexOf(LF, s);
      this.line(buf, s, e);
      s = e + 1;
    }
    return { province: this.province.take(), json: this.json.take() };
  }

  /** The last line, if the output did not end with LF. */
  end(): EncodedRun {
    if (this.rest?.length) {
      const buf = this.rest;
      this.rest = undefined;
      this.line(buf, 0, buf.length);
    }
    return { province: this.province.take(), json: this.json.take() };
  }

  private line(buf: Buffer, s: number, e: number): void {
    if (s === e) return;
    const { starts, ends } = this;
    // the fields' bounds, and whether anything in the line needs the general way
    let f = 0;
    let special = false;
    starts[0] = s;
    for (let i = s; i < e; i++) {
      const c = buf[i];
      if (c === TAB) {
        ends[f] = i;
        if (++f >= this.fieldCount) {
          special = true; // a field too many
          break;
        }
        starts[f] = i + 1;
      } else if (c < 0x20 || c === QUOTE) special = true;
      else if (c === BACKSLASH) {
        // \N alone in its field is NULL; any other backslash is an escape
        if (i === starts[f] && buf[i + 1] === N && (i + 2 === e || buf[i + 2] === TAB)) i++;
        else special = true;
      }
    }
    ends[f] = e;
    if (special || f + 1 !== this.fieldCount || ends[1] - starts[1] !== 1 || buf[starts[1]] !== T || ends[0] === starts[0]) return this.general(latin1Slice(buf, s, e));
    this.inOrder(buf, starts[0], ends[0]);

    const province = this.province;
    const json = this.json;
    this.room(e - s);
    const p0 = province.pos - province.start;
    const j0 = json.pos - json.start;
    json.all(OPEN);
    const opAt = json.pos - json.start - OP_BACK;
    json.copy(buf, starts[0], ends[0]);
    json.all(MID);
    let op: Op = 'U';
    // The province line is the row's items as they came, but where an item comes out otherwise: copied in
    // spans between such items.
    let span = starts[3];
    for (let n = 0; n < this.steps.length; n++) {
      const a = starts[3 + n];
      const b = ends[3 + n];
      const isNull = b - a === 2 && buf[a] === BACKSLASH;
      const step = this.steps[n];
      if (isNull || a === b) {
        // NULL, or '' (NULL too): refused where required
        if (!step.plain && this.required[n]) {
          province.pos = province.start + p0;
          json.pos = json.start + j0;
          return this.general(latin1Slice(buf, s, e), true);
        }
        if (a === b) {
          province.copy(buf, span, a);
          province.all(NULL_BYTES);
          span = b;
        }
        json.all(this.namesNull[n]);
        continue;
      }
      const check = this.checks[n];
      if (step.plain || (check !== undefined && check(buf, a, b))) {
        // the value as it is, in both
        json.all(this.namesQuoted[n]);
        json.copy(buf, a, b);
        json.buf[json.pos++] = QUOTE;
        if (n === this.cancelAt && this.cancelled.has(latin1Slice(buf, a, b))) op = 'C';
        continue;
      }
      const v = latin1Slice(buf, a, b);
      const r = step.apply(v);
      if (r === v) {
        json.all(this.namesQuoted[n]);
        json.copy(buf, a, b);
        json.buf[json.pos++] = QUOTE;
      } else {
        province.copy(buf, span, a);
        span = b;
        if (r === null) {
          province.all(NULL_BYTES);
          json.all(this.namesNull[n]);
        } else if (typeof r === 'object' || !province.safe(r)) {
          // a rejection (its reasons, all of them, are rows.ts's) or a value that needs escaping: the general way
          province.pos = province.start + p0;
          json.pos = json.start + j0;
          return this.general(latin1Slice(buf, s, e), true);
        } else {
          json.ensure(this.namesQuoted[n].length + r.length + 1);
          json.all(this.namesQuoted[n]);
          json.safe(r);
          json.buf[json.pos++] = QUOTE;
        }
        // room for what is left of the row, after a value that may have grown
        this.room(e - s);
      }
      if (n === this.cancelAt && r !== null && typeof r === 'string' && this.cancelled.has(r)) op = 'C';
    }
    province.copy(buf, span, e);
    province.buf[province.pos++] = TAB;
    province.buf[province.pos++] = op.charCodeAt(0);
    province.all(this.tail);
    json.all(CLOSE);
    if (op === 'C') json.buf[json.start + opAt] = 0x43;
    this.ways.bytes++;
    this.counts[op]++;
    this.rows++;
  }

  /**
   * Room for a row of `length` input bytes: every field copied once, an empty one grown to \N (province)
   * or null (JSON), the names, quotes and the batch id.
   */
  private room(length: number): void {
    const items = this.steps.length;
    this.province.ensure(length + 2 * items + this.tail.length + 8);
    this.json.ensure(length + this.namesLength + 4 * items + 40);
  }

  /** Bytes [a, b) of buf as the next key: above the last one (byte order, the binary strings' order), else an error. */
  private inOrder(buf: Uint8Array, a: number, b: number): void {
    const last = this.lastKey;
    const n = this.lastKeyLength;
    if (n >= 0) {
      const m = Math.min(n, b - a);
      let i = 0;
      while (i < m && last[i] === buf[a + i]) i++;
      const above = i < m ? buf[a + i] > last[i] : b - a > n;
      if (!above) {
        const text = (x: Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('utf8');
        throw new Error(`${this.table.name}: the registry's rows did not come in key order (${text(last.subarray(0, n))}, then ${text(buf.subarray(a, b))})`);
      }
    }
    if (b - a > last.length) this.lastKey = new Uint8Array(2 * (b - a));
    // a loop, not set(subarray): no view made per row
    const into = this.lastKey;
    for (let i = a; i < b; i++) into[i - a] = buf[i];
    this.lastKeyLength = b - a;
  }

  /** rows.ts's way, for a row this encoder does not do itself (`checked`: its key already taken in order). */
  private general(line: string, checked = false): void {
    this.ways.general++;
    const raw = splitExtracted(line);
    if (!checked) {
      const key = Buffer.from(raw.key, 'latin1');
      this.inOrder(key, 0, key.length);
    }
    const r = this.ready(raw);
    if (!r.ok) {
      this.rejected.push(r.rejected);
      return;
    }
    this.province.latin1(`${r.row.line}\t${r.row.op}`);
    this.province.ensure(this.tail.length);
    this.province.all(this.tail);
    this.json.latin1(r.row.json);
    this.counts[r.row.op]++;
    this.rows++;
  }
}
