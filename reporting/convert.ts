import { binaryOf, decodeField, encodeField, Field, NULL_FIELD, textOf } from '../migration/copy-text';
import type { ReportCleaning, ReportSpec, ReportTable } from './spec';

/**
 * 转换 The report converter: a source row's fields (item order, COPY text decoded) → the reported
 * values, or the reason the row is rejected. Small on purpose: cleansing, code conversion to national
 * codes, required and length checks — the part that can later move onto the mapping language.
 */
const CLEAN: Record<ReportCleaning, (v: string) => string> = {
  trim: (v) => v.trim(),
  upper: (v) => v.toUpperCase(),
  collapseSpaces: (v) => v.replace(/\s+/g, ' '),
};

export type Converted = { ok: true; fields: Field[] } | { ok: false; reason: string };

export type Converter = (fields: Field[]) => Converted;

export function compileConverter(spec: ReportSpec, table: ReportTable): Converter {
  const steps = table.items.map((item) => {
    const cleaners = (item.clean ?? []).map((c) => CLEAN[c]);
    const codes = item.codeTable ? spec.codeTables.get(item.codeTable)! : undefined;
    return (value: Field): Field | { reason: string } => {
      let v = value;
      if (v !== null) for (const c of cleaners) v = c(v);
      if (v === '') v = null;
      if (v !== null && codes) {
        const mapped = codes.values.get(v);
        if (mapped === undefined) return { reason: `${item.name}: code "${v}" has no national code in ${codes.name} (${codes.title})` };
        v = mapped;
      }
      if (v === null && item.required) return { reason: `${item.name}: required, but empty` };
      if (v !== null && item.length !== undefined && [...v].length > item.length) return { reason: `${item.name}: ${[...v].length} characters, at most ${item.length} allowed` };
      return v;
    };
  });
  return (fields) => {
    const out: Field[] = new Array(steps.length);
    const reasons: string[] = [];
    for (let i = 0; i < steps.length; i++) {
      const r = steps[i](fields[i] ?? null);
      if (r !== null && typeof r === 'object') reasons.push(r.reason);
      else out[i] = r;
    }
    return reasons.length ? { ok: false, reason: reasons.join('; ') } : { ok: true, fields: out };
  };
}

/**
 * The same converter on COPY text lines as binary strings (copy-text.ts: each char one UTF-8 byte, fields
 * still escaped), the form rows arrive in from COPY TO and leave in for COPY FROM, the file and the
 * hashes: no UTF-8 decoding and encoding per row. An item without a rule passes its escaped field through
 * untouched; cleansing works on the bytes when they are ASCII and on the decoded text otherwise (a
 * continuation byte read as a Latin-1 char would be taken for U+00A0 by trim, or upper-cased); code tables
 * are looked up by their codes' bytes; a length counts characters as the bytes that start one. Reasons are
 * the text converter's, word for word.
 */
export type LineConverted = { ok: true; fields: string[]; values: Field[] } | { ok: false; reason: string };

export type LineConverter = (raw: readonly string[], offset: number) => LineConverted;

// eslint-disable-next-line no-control-regex -- the range starts at NUL: anything outside 7-bit ASCII
const NON_ASCII = /[^\x00-\x7f]/;

/** Characters of a binary string's UTF-8 text: every byte that is not a continuation byte (10xxxxxx). */
export function utf8Length(binary: string): number {
  let n = 0;
  for (let i = 0; i < binary.length; i++) if ((binary.charCodeAt(i) & 0xc0) !== 0x80) n++;
  return n;
}

/**
 * JavaScript's whitespace (what trim strips and \s matches) in UTF-8, as binary strings: the non-ASCII ones
 * are U+00A0 (2 bytes) and U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF (3 bytes).
 */
const WS3 = new Set(['\u1680', ...Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)), '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff'].map(binaryOf));
const isAsciiWs = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
function wsAtStart(b: string): boolean {
  const c = b.charCodeAt(0);
  if (c < 0x80) return isAsciiWs(c);
  return (c === 0xc2 && b.charCodeAt(1) === 0xa0) || WS3.has(b.slice(0, 3));
}
function wsAtEnd(b: string): boolean {
  const n = b.length;
  const c = b.charCodeAt(n - 1);
  if (c < 0x80) return isAsciiWs(c);
  return (n >= 2 && c === 0xa0 && b.charCodeAt(n - 2) === 0xc2) || (n >= 3 && WS3.has(b.slice(n - 3)));
}
/** Where /\s+/g → ' ' changes a binary string: a whitespace other than a space, or a space and more whitespace. */
const COLLAPSES = /[\t\n\v\f\r]| [ \t\n\v\f\r]|\xc2\xa0|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80|\xef\xbb\xbf/;
/**
 * Whether a cleansing leaves a non-ASCII binary string as it is, told from its bytes (exactly: the whitespace
 * above at either end for trim, COLLAPSES for collapseSpaces; upper is not told, toUpperCase has its own
 * mappings): the text then need not be decoded and encoded again, which was most of a row's conversion.
 */
const UNCHANGED: Record<ReportCleaning, ((b: string) => boolean) | undefined> = {
  trim: (b) => b.length === 0 || (!wsAtStart(b) && !wsAtEnd(b)),
  collapseSpaces: (b) => !COLLAPSES.test(b),
  upper: undefined,
};

/**
 * One item's rules on a value as a binary string (decoded, not COPY-escaped): the reported value, or the
 * reason it is rejected. `plain`: no rule at all (the value passes as it is, '' as NULL).
 */
export interface ItemStep {
  plain: boolean;
  apply(v: Field): Field | { reason: string };
}

export function compileItemSteps(spec: ReportSpec, table: ReportTable): ItemStep[] {
  return table.items.map((item) => {
    const cleaners = (item.clean ?? []).map((c) => CLEAN[c]);
    const codes = item.codeTable ? spec.codeTables.get(item.codeTable)! : undefined;
    const byBytes = codes ? new Map([...codes.values].map(([k, v]) => [binaryOf(k), binaryOf(v)])) : undefined;
    const plain = !cleaners.length && !codes && !item.required && item.length === undefined;
    const checks = (item.clean ?? []).map((c) => UNCHANGED[c]);
    const unchanged = checks.every((c) => c !== undefined) ? (b: string) => checks.every((c) => c!(b)) : undefined;
    const apply = (value: Field): Field | { reason: string } => {
      let v = value;
      if (v !== null && cleaners.length) {
        if (NON_ASCII.test(v)) {
          if (!unchanged?.(v)) {
            let t = textOf(v);
            for (const c of cleaners) t = c(t);
            v = binaryOf(t);
          }
        } else for (const c of cleaners) v = c(v);
      }
      if (v === '') v = null;
      if (v !== null && byBytes) {
        const mapped = byBytes.get(v);
        if (mapped === undefined) return { reason: `${item.name}: code "${textOf(v)}" has no national code in ${codes!.name} (${codes!.title})` };
        v = mapped;
      }
      if (v === null && item.required) return { reason: `${item.name}: required, but empty` };
      if (v !== null && item.length !== undefined && v.length > item.length) {
        const n = utf8Length(v);
        if (n > item.length) return { reason: `${item.name}: ${n} characters, at most ${item.length} allowed` };
      }
      return v;
    };
    return { plain, apply };
  });
}

export function compileLineConverter(spec: ReportSpec, table: ReportTable): LineConverter {
  const steps = compileItemSteps(spec, table);
  return (raw, offset) => {
    const fields: string[] = new Array(steps.length);
    const values: Field[] = new Array(steps.length);
    let reasons: string[] | undefined;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i];
      const f = raw[offset + i] ?? NULL_FIELD;
      let v: Field = f === NULL_FIELD ? null : f.indexOf('\\') === -1 ? f : decodeField(f);
      if (s.plain) {
        if (v === '') v = null;
        fields[i] = v === null ? NULL_FIELD : f;
        values[i] = v;
        continue;
      }
      const r = s.apply(v);
      if (r !== null && typeof r === 'object') {
        (reasons ??= []).push(r.reason);
        continue;
      }
      fields[i] = r === v ? f : encodeField(r);
      values[i] = r;
    }
    return reasons ? { ok: false, reason: reasons.join('; ') } : { ok: true, fields, values };
  };
}
