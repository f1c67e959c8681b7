import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { binaryOf, textOf } from '../migration/copy-text';
import { MANIFEST_HEADER } from './batch-format';

/**
 * 国家局接收端的批次检查 What the reference receiver (receiver.ts) checks of a batch, with no HTTP in it:
 * the manifest's own fields; every line's shape against the manifest's items (a line of the writer's exact
 * shape by one pattern, any other by JSON.parse), its op and key, no key twice; the SHA-256 and the
 * counts against the manifest — for a body that streams in (BodyChecker) or a whole former-format body
 * (checkBatch), with the same reasons for the same batch.
 */

/** A manifest as the receiver accepts it. */
export interface BatchManifest {
  batchId: string;
  table: string;
  sequence: number;
  rows: number;
  sha256: string;
  items: string[];
  window: { to: string };
  counts?: unknown;
}

const OPS: ReadonlySet<unknown> = new Set(['U', 'C', 'D']);

/** The manifest's own checks (untrusted JSON: every field checked before any of it is used). */
function checkManifest(parsed: unknown): { reasons: string[]; manifest?: BatchManifest } {
  const m = parsed as { [K in keyof BatchManifest]?: unknown } | undefined;
  const reasons: string[] = [];
  if (!m || typeof m !== 'object') return { reasons: ['manifest: missing'] };
  if (typeof m.batchId !== 'string' || !m.batchId) reasons.push('manifest.batchId: missing');
  if (typeof m.table !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(m.table)) reasons.push('manifest.table: missing or not an identifier');
  if (typeof m.sequence !== 'number' || !Number.isInteger(m.sequence) || m.sequence < 1) reasons.push('manifest.sequence: expected a positive integer');
  if (typeof m.rows !== 'number' || !Number.isInteger(m.rows) || m.rows < 0) reasons.push('manifest.rows: expected a count');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) reasons.push('manifest.sha256: expected 64 hex digits');
  if (!Array.isArray(m.items) || !m.items.every((i: unknown) => typeof i === 'string')) reasons.push('manifest.items: expected the item names');
  if (!m.window || typeof (m.window as { to?: unknown }).to !== 'string') reasons.push('manifest.window.to: missing');
  return reasons.length ? { reasons } : { reasons, manifest: m as BatchManifest };
}

/** A key as a line spells it (a JSON string's content, binary), as text. */
function keyText(raw: string): string {
  return raw.indexOf('\\') === -1 ? textOf(raw) : (JSON.parse('"' + textOf(raw) + '"') as string);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A key as a line spells it, in a form compared and looked up as the key: its UTF-8 bytes (binary, in the
 * order the writer sorts), or — a lone surrogate has no UTF-8 — its text behind a char no binary string holds.
 */
function comparable(raw: string): string {
  if (raw.indexOf('\\') === -1) return raw;
  const text = keyText(raw);
  return LONE_SURROGATE.test(text) ? '\u0100' + text : binaryOf(text);
}

/** A JSON string's content: no raw control character, quote or lone backslash (RFC 8259). */
const JSON_STRING = '(?:[^"\\\\\\x00-\\x1f]|\\\\(?:["\\\\/bfnrt]|u[0-9a-fA-F]{4}))';
/** The same, any number of them, "unrolled" (runs of plain characters between escapes): one class loop for the common case. */
const JSON_STRING_BODY = '[^"\\\\\\x00-\\x1f]*(?:\\\\(?:["\\\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\\\\x00-\\x1f]*)*';
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A batch's lines checked one at a time, each as a binary string (its UTF-8 bytes, one char each; no LF):
 * the reasons, the op counts and every line's op and key. A line of the exact shape the batch writer
 * makes ({"op","key","data"} with the manifest's items in order, every value a string or null) is checked
 * by one pattern and its key read off it; any other line is decoded and parsed, with the reasons
 * JSON.parse and the shape checks give. Either way the same answer (property test).
 */
export class LineChecker {
  readonly reasons: string[] = [];
  readonly counts: Record<string, number> = { U: 0, C: 0, D: 0 };
  /** lines seen */
  lines = 0;
  /**
   * Every line's op and key, kept compact (a million lines are a million strings a collector walks over
   * and over otherwise): the ops one byte each, the keys as the line spells them (JSON-escaped, so no LF
   * in one) joined with LF in runs of 4096 — read back as text only when asked for (`keys`).
   */
  private opBytes = new Uint8Array(4096);
  private recorded = 0;
  private readonly keyRuns: string[] = [];
  private pendingKeys: string[] = [];
  /** the last key (binary: UTF-8 byte order is code-point order, the writer's) while the keys come in ascending order */
  private last: string | undefined;
  /** every key so far, once one came out of order */
  private seen: Set<string> | undefined;
  private readonly items: Set<string>;
  private readonly exact: RegExp;
  /** the same, sticky, for a line at a position of a run of lines */
  private readonly exactAt: RegExp;
  private readonly deletion: RegExp;

  /** patterns: false checks every line by JSON.parse (the reference the patterns are tested against) */
  constructor(
    items: readonly string[],
    private readonly patterns = true,
  ) {
    this.items = new Set(items);
    const members = items.map((n) => `${escapeRegExp(binaryOf(JSON.stringify(n)))}:(?:null|"${JSON_STRING_BODY}")`).join(',');
    const exact = `\\{"op":"([UC])","key":"((?!")${JSON_STRING_BODY})","data":\\{${members}\\}\\}`;
    this.exact = new RegExp(`^${exact}$`);
    this.exactAt = new RegExp(`${exact}(?=\\n|$)`, 'y');
    this.deletion = new RegExp(`^\\{"op":"D","key":"(${JSON_STRING}+)","data":null\\}$`);
  }

  /** One line; a valid UTF-8 line is checked, another is named. */
  add(line: string, utf8 = true): void {
    const n = ++this.lines;
    if (this.reasons.length >= 50) return;
    if (!utf8) return void this.reasons.push(`line ${n}: not UTF-8`);
    if (this.patterns) {
      const m = this.exact.exec(line);
      if (m) return this.record(n, m[1], m[2]);
      const d = line.charCodeAt(7) === 0x44 ? this.deletion.exec(line) : null;
      if (d) return this.record(n, 'D', d[1]);
    }
    this.parsed(n, textOf(line));
  }

  /**
   * A run of whole lines (a binary string, LF between them, none after the last): what add() gives them one by
   * one, without cutting out a line the writer's pattern matches where it stands.
   */
  addRun(run: string): void {
    const re = this.exactAt;
    for (let at = 0; ; ) {
      let m: RegExpExecArray | null = null;
      if (this.patterns && this.reasons.length < 50) {
        re.lastIndex = at;
        m = re.exec(run);
      }
      if (m) {
        this.record(++this.lines, m[1], m[2]);
        at = re.lastIndex;
        if (at >= run.length) return;
        at++;
        continue;
      }
      const lf = run.indexOf('\n', at);
      this.add(lf === -1 ? run.slice(at) : run.slice(at, lf));
      if (lf === -1) return;
      at = lf + 1;
    }
  }

  /**
   * A key twice: while the keys come in strictly ascending order (the writer sorts them) none can repeat and
   * only the last is compared; from the first one out of order, every key is looked up in a set of them.
   * `raw`: the key as a JSON string's content, in binary.
   */
  private record(n: number, op: string, raw: string): void {
    const key = comparable(raw);
    const seen = this.seen;
    if (seen === undefined && (this.last === undefined || key > this.last)) this.last = key;
    else {
      const all = seen ?? (this.seen = new Set(this.rawKeys().map(comparable)));
      if (all.has(key)) this.reasons.push(`line ${n}: key ${keyText(raw)} twice in the batch`);
      all.add(key);
    }
    this.counts[op]++;
    if (this.recorded === this.opBytes.length) this.grow();
    this.opBytes[this.recorded++] = op.charCodeAt(0);
    const pending = this.pendingKeys;
    pending.push(raw);
    if (pending.length === 4096) {
      this.keyRuns.push(pending.join('\n'));
      this.pendingKeys = [];
    }
  }

  private grow(): void {
    const next = new Uint8Array(2 * this.opBytes.length);
    next.set(this.opBytes);
    this.opBytes = next;
  }

  /** every recorded key as its line spells it, in order */
  private rawKeys(): string[] {
    return [...this.keyRuns.flatMap((r) => r.split('\n')), ...this.pendingKeys];
  }

  /** the op of every line recorded, in order */
  get ops(): string {
    return Buffer.from(this.opBytes.buffer, 0, this.recorded).toString('latin1');
  }

  /** the key (text) of every line recorded, in order */
  get keys(): string[] {
    return this.rawKeys().map(keyText);
  }

  private parsed(n: number, l: string): void {
    const reasons = this.reasons;
    let r: { op?: unknown; key?: unknown; data?: unknown } | null;
    try {
      r = JSON.parse(l);
    } catch {
      reasons.push(`line ${n}: not JSON`);
      return;
    }
    if (!r || !OPS.has(r.op)) return void reasons.push(`line ${n}: op must be U, C or D`);
    if (typeof r.key !== 'string' || !r.key) return void reasons.push(`line ${n}: key missing`);
    this.record(n, r.op as string, binaryOf(JSON.stringify(r.key).slice(1, -1)));
    if (r.op === 'D') {
      if (r.data !== null) reasons.push(`line ${n}: a deletion carries no data`);
    } else if (!r.data || typeof r.data !== 'object') reasons.push(`line ${n}: data missing`);
    else {
      const data = r.data as Record<string, unknown>;
      const names = Object.keys(data);
      const unknown = names.filter((x) => !this.items.has(x));
      const missing = [...this.items].filter((x) => !(x in data));
      if (unknown.length) reasons.push(`line ${n}: items not in the manifest: ${unknown.join(', ')}`);
      if (missing.length) reasons.push(`line ${n}: items missing: ${missing.join(', ')}`);
      for (const x of names) if (data[x] !== null && typeof data[x] !== 'string') reasons.push(`line ${n}: ${x} must be a string or null`);
    }
  }

  /** The reasons of the whole batch against its manifest, once every line is in. */
  end(manifest: BatchManifest): string[] {
    if (this.lines !== manifest.rows) this.reasons.push(`content: ${this.lines} lines, manifest.rows says ${manifest.rows}`);
    const declared = manifest.counts as Record<string, unknown> | undefined;
    if (declared) for (const op of ['U', 'C', 'D']) if ((declared[op] ?? 0) !== this.counts[op]) this.reasons.push(`manifest.counts.${op}: ${declared[op]} ≠ ${this.counts[op]} lines`);
    return this.reasons;
  }
}

/**
 * The former wire format, one JSON object { manifest, content }. `binary`: the body was parsed from its
 * bytes read as Latin-1 (a valid UTF-8 body without \\u escapes: every string is then its UTF-8 bytes, one
 * char each — copy-text.ts's binary strings); the manifest is turned back to text here. The same reasons either way.
 */
export function checkBatch(body: unknown, binary = false): { reasons: string[]; manifest?: BatchManifest; lines?: { op: string; key: string }[] } {
  if (!body || typeof body !== 'object') return { reasons: ['the body is not a JSON object { manifest, content }'] };
  const { manifest: parsed, content } = body as { manifest?: unknown; content?: unknown };
  const m = binary ? textDeep(parsed) : parsed;
  if (!m || typeof m !== 'object') return { reasons: ['manifest: missing'] };
  if (typeof content !== 'string') return { reasons: ['content: missing (a string of JSON lines)'] };
  const { reasons, manifest } = checkManifest(m);
  if (!manifest) return { reasons };
  const actual = createHash('sha256').update(content, binary ? 'latin1' : 'utf8').digest('hex');
  const checker = new LineChecker(manifest.items);
  const raw = content.split('\n');
  if (raw[raw.length - 1] === '') raw.pop();
  for (const l of raw) checker.add(binary ? l : binaryOf(l));
  return { reasons: [...shaReason(actual, manifest), ...checker.end(manifest)], manifest, lines: linesOf(checker) };
}

function linesOf(checker: LineChecker): { op: string; key: string }[] {
  const ops = checker.ops;
  return checker.keys.map((key, i) => ({ op: ops[i], key }));
}

function shaReason(actual: string, manifest: BatchManifest): string[] {
  return actual === manifest.sha256 ? [] : [`content: SHA-256 ${actual} ≠ manifest ${manifest.sha256}`];
}

/**
 * The wire format: the batch file as the body, its manifest in a header. The body's chunks are hashed and
 * its lines checked as they arrive (a run of whole lines checked for UTF-8 at once, as a binary string),
 * and kept as they are for the file; the answer is the same as checkBatch's for the same manifest and content.
 */
export class BodyChecker {
  readonly chunks: Buffer[] = [];
  size = 0;
  private readonly hash = createHash('sha256');
  private readonly checker?: LineChecker;
  private readonly manifestReasons: string[];
  private rest: Buffer = Buffer.alloc(0);
  readonly manifest?: BatchManifest;

  constructor(header: string | string[] | undefined) {
    let parsed: unknown;
    if (typeof header !== 'string' || !header) this.manifestReasons = [`manifest: missing (header ${MANIFEST_HEADER})`];
    else {
      try {
        parsed = JSON.parse(header);
        ({ reasons: this.manifestReasons, manifest: this.manifest } = checkManifest(parsed));
      } catch {
        this.manifestReasons = [`manifest: header ${MANIFEST_HEADER} is not JSON`];
      }
    }
    if (this.manifest) this.checker = new LineChecker(this.manifest.items);
  }

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (!this.checker) return;
    this.chunks.push(chunk);
    this.hash.update(chunk);
    const end = chunk.lastIndexOf(10);
    if (end === -1) {
      this.rest = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
      return;
    }
    if (this.rest.length) {
      // the line the last chunk began, on its own: the rest of this chunk is not copied to join it
      const first = chunk.indexOf(10);
      this.lines(Buffer.concat([this.rest, chunk.subarray(0, first)]));
      if (first < end) this.lines(chunk.subarray(first + 1, end));
    } else this.lines(chunk.subarray(0, end));
    this.rest = chunk.subarray(end + 1);
  }

  /** Whole lines (the last one's LF cut off). */
  private lines(run: Buffer): void {
    const checker = this.checker!;
    if (isUtf8(run)) return checker.addRun(run.toString('latin1'));
    for (let at = 0; at <= run.length; ) {
      let lf = run.indexOf(10, at);
      if (lf === -1) lf = run.length;
      const line = run.subarray(at, lf);
      checker.add(line.toString('latin1'), isUtf8(line));
      at = lf + 1;
    }
  }

  /** Every reason once the body has ended, and every line's op and key (made when asked for). */
  end(): { reasons: string[]; manifest?: BatchManifest; lines?: () => { op: string; key: string }[] } {
    const checker = this.checker;
    if (!checker || !this.manifest) return { reasons: this.manifestReasons };
    if (this.rest.length) this.lines(this.rest);
    const reasons = [...shaReason(this.hash.digest('hex'), this.manifest), ...checker.end(this.manifest)];
    return { reasons, manifest: this.manifest, lines: () => linesOf(checker) };
  }
}

/** A parsed JSON value whose strings are binary, with its strings (and member names) as text. */
function textDeep(v: unknown): unknown {
  if (typeof v === 'string') return textOf(v);
  if (Array.isArray(v)) return v.map(textDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [textOf(k), textDeep(x)]));
  return v;
}

/**
 * A body as JSON: from its bytes read as Latin-1 when that gives the same values in binary (valid UTF-8,
 * no \\u escape, which could spell a character above U+00FF), else from its UTF-8 text.
 */
export function parseBody(raw: Buffer): { body: unknown; binary: boolean } {
  if (isUtf8(raw) && raw.indexOf('\\u') === -1) return { body: JSON.parse(raw.toString('latin1')), binary: true };
  return { body: JSON.parse(raw.toString('utf8')), binary: false };
}

