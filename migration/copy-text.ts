import { Transform, TransformCallback } from 'node:stream';

/**
 * PostgreSQL COPY text format, both ways. Rows move between COPY TO STDOUT and COPY FROM STDIN
 * without ever becoming JS objects, which is what lets the engine stream at close to COPY speed.
 * Format: fields separated by TAB, rows by LF, NULL as \N, backslash escapes (PostgreSQL docs, "COPY").
 */

export type Field = string | null;

/**
 * A row as one COPY text line without its LF, fields still escaped ('\\N' is NULL): the engine's
 * working form. Fields without a mapping rule go from the legacy COPY output to the target COPY input
 * untouched, and only the few fields a rule reads are ever cut out and decoded (transform.ts).
 *
 * The line is a binary string: its UTF-8 bytes, one char each (Node's 'latin1' encoding reads and
 * writes them so). Reading a chunk that way is a copy, where decoding it as UTF-8 and encoding it
 * again for COPY FROM and the checksums was the largest cost per row of the Node.js thread; and TAB,
 * LF and backslash are single bytes that never occur inside a multi-byte character, so the format's
 * parsing is the same. textOf / binaryOf convert where real text is needed: the fields a rule reads,
 * quarantine records, row differences.
 */
export type CopyLine = string;
export const NULL_FIELD = '\\N';

// eslint-disable-next-line no-control-regex -- the range starts at NUL: anything outside 7-bit ASCII
const NON_ASCII = /[^\x00-\x7f]/;

/** The text a binary string's UTF-8 bytes spell. */
export function textOf(binary: string): string {
  return NON_ASCII.test(binary) ? Buffer.from(binary, 'latin1').toString('utf8') : binary;
}

/** A text's UTF-8 bytes as a binary string. */
export function binaryOf(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

const DECODE_SIMPLE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

export function decodeField(raw: string): Field {
  if (raw === '\\N') return null;
  if (raw.indexOf('\\') === -1) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = raw[i + 1];
    if (next === undefined) break;
    if (next in DECODE_SIMPLE) {
      out += DECODE_SIMPLE[next];
      i++;
    } else if (next >= '0' && next <= '7') {
      const m = /^[0-7]{1,3}/.exec(raw.slice(i + 1))![0];
      out += String.fromCharCode(parseInt(m, 8));
      i += m.length;
    } else if (next === 'x' && /[0-9a-fA-F]/.test(raw[i + 2] ?? '')) {
      const m = /^[0-9a-fA-F]{1,2}/.exec(raw.slice(i + 2))![0];
      out += String.fromCharCode(parseInt(m, 16));
      i += 1 + m.length;
    } else {
      out += next;
      i++;
    }
  }
  return out;
}

/** The decoded fields of one COPY text line (no LF): an escaped field never holds a TAB. */
export function decodeLine(line: CopyLine): Field[] {
  return line.split('\t').map(decodeField);
}

/** The decoded field at `index` of a line, without splitting the rest of it. */
export function fieldAt(line: CopyLine, index: number): Field {
  let start = 0;
  for (let i = 0; i < index; i++) {
    start = line.indexOf('\t', start) + 1;
    if (start === 0) return null;
  }
  const end = line.indexOf('\t', start);
  return decodeField(end === -1 ? line.slice(start) : line.slice(start, end));
}

const ENCODE_TEST = /[\\\t\n\r\b\f\v]/;
const ENCODE_RE = /[\\\t\n\r\b\f\v]/g;
const ENCODE_MAP: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\b': '\\b', '\f': '\\f', '\v': '\\v' };

export function encodeField(value: Field): string {
  if (value === null) return '\\N';
  return ENCODE_TEST.test(value) ? value.replace(ENCODE_RE, (c) => ENCODE_MAP[c]) : value;
}

export function encodeLine(values: Field[]): CopyLine {
  let line = encodeField(values[0]);
  for (let i = 1; i < values.length; i++) line += '\t' + encodeField(values[i]);
  return line;
}

export function encodeRow(values: Field[]): string {
  return encodeLine(values) + '\n';
}

/**
 * Splits a COPY text byte stream into lines (CopyLine: binary strings, still escaped), emitted as one
 * array of lines per input chunk: a stream hop per row would cost more than the splitting itself.
 */
export class CopyTextParser extends Transform {
  private rest: Buffer = Buffer.alloc(0);

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const end = buf.lastIndexOf(10);
    if (end === -1) {
      this.rest = buf;
      return done();
    }
    const lines = buf.toString('latin1', 0, end).split('\n');
    this.rest = buf.subarray(end + 1);
    done(null, lines);
  }

  override _flush(done: TransformCallback): void {
    if (this.rest.length) this.push([this.rest.toString('latin1')]);
    done();
  }
}
