import { binaryOf, decodeField, decodeLine, Field, NULL_FIELD, textOf } from '../migration/copy-text';
import { JSON_UNSAFE_KEY, JSON_UNSAFE_LINE, nationalLineWriter, Op, plainNationalLineWriter } from './batch-format';
import { compileLineConverter } from './convert';
import type { ReportSpec, ReportTable } from './spec';

/**
 * 汇聚 One extracted row (a COPY text line of extractionSql: key, present, version, the items) made
 * ready for every place it goes, as binary strings (copy-text.ts: one char per UTF-8 byte), so that a
 * row is never decoded to text and encoded again: its province COPY line, its national JSON line and its
 * canonical line (what the three-way verification hashes). The bytes are the text converter's (convert.ts) in UTF-8, byte for byte.
 */
export interface ReadyRow {
  /** the key as text (for SQL parameters, the ledger, key order) */
  key: string;
  op: Op;
  /** the items' COPY text (binary, no LF); '' for a deletion */
  line: string;
  /** the national JSON line (binary, with its LF) */
  json: string;
}

export interface RejectedRow {
  key: string;
  reason: string;
  /** the row's item values as read (text) */
  fields: Field[];
}

/** The fields of an extracted line, from a row's binary COPY text. */
export interface RawRow {
  parts: string[];
  /** the key, decoded (binary) */
  key: string;
  present: boolean;
  version: string | null;
}

export function splitExtracted(line: string): RawRow {
  const parts = line.split('\t');
  const k = parts[0];
  return { parts, key: k.indexOf('\\') === -1 ? k : decodeField(k)!, present: parts[1] === 't', version: parts[2] === NULL_FIELD ? null : parts[2] };
}

export type Ready = { ok: true; row: ReadyRow } | { ok: false; rejected: RejectedRow };

/** Compiles the per-row step for a table: a binary extracted line → its ready row, or its rejection. */
export function compileRowReady(spec: ReportSpec, table: ReportTable): { ready: (raw: RawRow) => Ready; canonical: (raw: RawRow) => string | null | undefined } {
  const convert = compileLineConverter(spec, table);
  const lineOf = nationalLineWriter(table.items.map((i) => i.name));
  const plainLineOf = plainNationalLineWriter(table.items.map((i) => i.name));
  const op = opOfValues(table);
  const ready = (raw: RawRow): Ready => {
    const key = textOf(raw.key);
    if (!raw.present) return { ok: true, row: { key, op: 'D', line: '', json: lineOf('D', raw.key, []) } };
    const c = convert(raw.parts, 3);
    if (!c.ok) return { ok: false, rejected: { key, reason: c.reason, fields: decodeLine(textOf(raw.parts.slice(3).join('\t'))) } };
    const line = c.fields.join('\t');
    const o = op(c.values);
    const json = JSON_UNSAFE_LINE.test(line) || JSON_UNSAFE_KEY.test(raw.key) ? lineOf(o, raw.key, c.values) : plainLineOf(o, raw.key, c.values);
    return { ok: true, row: { key, op: o, line, json } };
  };
  /** the canonical line of a present row (binary, canonicalLine's bytes); null: deleted; undefined: rejected */
  const canonical = (raw: RawRow): string | null | undefined => {
    if (!raw.present) return null;
    const c = convert(raw.parts, 3);
    if (!c.ok) return undefined;
    return c.fields.join('\t') + '\t' + op(c.values) + '\n';
  };
  return { ready, canonical };
}

/** opOf for a present row's converted values in binary (batch-format.ts). */
export function opOfValues(table: ReportTable): (values: readonly Field[]) => Op {
  const c = table.cancellation;
  if (!c) return () => 'U';
  const at = table.items.findIndex((i) => i.name === c.item);
  const cancelled = new Set(c.values.map(binaryOf));
  return (values) => {
    const v = values[at];
    return v !== null && v !== undefined && cancelled.has(v) ? 'C' : 'U';
  };
}
