import { encodeLine, Field } from '../migration/copy-text';
import type { ExtractedRow } from './extract';
import type { ReportTable } from './spec';

/**
 * 上报格式 The national batch's line format and the canonical line the three-way verification hashes,
 * in one place for the preparer (which writes them) and the verifier (which reads them back).
 */
export type Op = 'U' | 'C' | 'D';

/** A row as the national batch carries it: one JSON line. */
export interface NationalLine {
  op: Op;
  key: string;
  data: Record<string, string | null> | null;
}

/** What a row means nationally: deleted (no row), cancelled (注销, by the spec's status item) or a plain upsert. */
export function opOf(table: ReportTable, row: Pick<ExtractedRow, 'present'>, fields: Field[]): Op {
  if (!row.present) return 'D';
  const c = table.cancellation;
  if (c) {
    const v = fields[table.items.findIndex((i) => i.name === c.item)];
    if (v !== null && c.values.includes(v)) return 'C';
  }
  return 'U';
}

/**
 * JSON.stringify({ op, key, data }) with data's members in item order, written without building the
 * object per row (item names are identifiers, so an object would keep that order too: the same text).
 */
export function nationalLineWriter(items: readonly string[]): (op: Op, key: string, fields: readonly Field[]) => string {
  const names = items.map((n) => JSON.stringify(n) + ':');
  return (op, key, fields) => {
    if (op === 'D') return `{"op":"D","key":${JSON.stringify(key)},"data":null}\n`;
    let data = '';
    for (let i = 0; i < names.length; i++) {
      const v = fields[i];
      data += (i ? ',' : '') + names[i] + (v === null || v === undefined ? 'null' : JSON.stringify(v));
    }
    return `{"op":"${op}","key":${JSON.stringify(key)},"data":{${data}}}\n`;
  };
}

/**
 * nationalLineWriter's line for a row none of whose values (nor its key) needs a JSON escape (no '"', '\\'
 * or control character; see JSON_SAFE_LINE): each value between quotes as it is — the same text, without a
 * JSON.stringify per value.
 */
export function plainNationalLineWriter(items: readonly string[]): (op: Op, key: string, fields: readonly Field[]) => string {
  const names = items.map((n, i) => (i ? ',' : '') + JSON.stringify(n) + ':');
  return (op, key, fields) => {
    let data = '';
    for (let i = 0; i < names.length; i++) {
      const v = fields[i];
      data += v === null || v === undefined ? names[i] + 'null' : names[i] + '"' + v + '"';
    }
    return '{"op":"' + op + '","key":"' + key + '","data":{' + data + '}}\n';
  };
}

/**
 * A row's values need no JSON escape when its items' COPY line (the values, escaped, TAB between them) holds
 * no '"', no backslash (every COPY escape and every backslash in a value shows as one) and no control
 * character but the TABs between fields; a key when it holds none of '"', '\\' or a control character.
 */
// eslint-disable-next-line no-control-regex -- control characters are what is looked for
export const JSON_UNSAFE_LINE = /["\\\x00-\x08\x0a-\x1f]/;
// eslint-disable-next-line no-control-regex -- control characters are what is looked for
export const JSON_UNSAFE_KEY = /["\\\x00-\x1f]/;

/**
 * 上报线格式 On the wire (delivery.ts → receiver.ts) a batch is its file as the body, of this type, and its
 * manifest in this header.
 */
export const MANIFEST_HEADER = 'x-report-manifest';
export const BATCH_CONTENT_TYPE = 'application/x-ndjson; charset=utf-8';

/** A manifest as an HTTP header value: its JSON, every character outside printable ASCII \u-escaped. */
export function manifestHeader(manifest: object): string {
  return JSON.stringify(manifest).replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** The line the verification's streams hash for a row that exists: its items in COPY text, then its op. */
export function canonicalLine(fields: readonly Field[], op: Op): string {
  return encodeLine(fields as Field[]) + '\t' + op + '\n';
}
