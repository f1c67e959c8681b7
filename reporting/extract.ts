import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { from as copyFrom } from 'pg-copy-streams';
import type { Client } from 'pg';
import { copyTo } from '../lib/copy-to';
import { quoteIdent } from '../lib/db';
import { decodeLine, encodeField, Field } from '../migration/copy-text';
import { literal } from '../migration/pg-source';
import { TARGET_SESSION } from '../verification/canonical';
import type { ReportTable } from './spec';

/**
 * 抽取 Extraction from the registry: one COPY per table and window, rows in key order (code-point
 * order, COLLATE "C", as verification/ compares keys), each row's key, whether the row still exists
 * (a key from the change log with no row is a deletion), and the item values in canonical text
 * (the session is set like verification's: ISO dates, UTC).
 */
export type Selection =
  /** every row; with versionsFrom, each row's newest change-log xid at or above it (else NULL) */
  | { kind: 'full'; versionsFrom?: string }
  /** keys changed by transactions with xid ≥ fromXid */
  | { kind: 'changes'; fromXid: string }
  /** the keys in pg_temp.report_keys (verification) */
  | { kind: 'keys' }
  /** 补报 backfill: rows whose item (a date) lies in [from, to) */
  | { kind: 'backfill'; item: string; from: string; to: string };

export interface ExtractedRow {
  key: string;
  present: boolean;
  /** the newest change-log xid for the key, when extraction read the log */
  version: string | null;
  fields: Field[];
}

function itemExpr(from: string): string {
  const [a, c] = from.includes('.') ? from.split('.') : ['t', from];
  return `${quoteIdent(a)}.${quoteIdent(c)}`;
}

export function extractionSql(table: ReportTable, sel: Selection): string {
  const key = `t.${quoteIdent(table.source.key)}`;
  const items = table.items.map((i) => itemExpr(i.from)).join(', ');
  const joins = table.source.joins
    .map((j) => ` LEFT JOIN ${quoteIdent(j.table)} ${quoteIdent(j.alias)} ON ${quoteIdent(j.alias)}.${quoteIdent(j.on.references)} = t.${quoteIdent(j.on.column)}`)
    .join('');
  const src = quoteIdent(table.source.table);
  switch (sel.kind) {
    case 'full': {
      if (sel.versionsFrom === undefined) return `COPY (SELECT ${key}::text, true, NULL::text, ${items} FROM ${src} t${joins} ORDER BY ${key}::text COLLATE "C") TO STDOUT`;
      const versions = `(SELECT key, max(xid)::text AS version FROM report_change_log WHERE table_name = ${literal(table.source.table)} AND xid >= ${literal(sel.versionsFrom)}::xid8 GROUP BY key)`;
      return `COPY (SELECT ${key}::text, true, v.version, ${items} FROM ${src} t LEFT JOIN ${versions} v ON v.key = ${key}::text${joins} ORDER BY ${key}::text COLLATE "C") TO STDOUT`;
    }
    case 'backfill': {
      const item = table.items.find((i) => i.name === sel.item);
      if (!item) throw new Error(`backfill: "${sel.item}" is not an item of ${table.name}`);
      const col = itemExpr(item.from);
      return `COPY (SELECT ${key}::text, true, NULL::text, ${items} FROM ${src} t${joins} WHERE ${col} >= ${literal(sel.from)} AND ${col} < ${literal(sel.to)} ORDER BY ${key}::text COLLATE "C") TO STDOUT`;
    }
    case 'changes':
    case 'keys': {
      const keys =
        sel.kind === 'changes'
          ? `(SELECT key, max(xid)::text AS version FROM report_change_log WHERE table_name = ${literal(table.source.table)} AND xid >= ${literal(sel.fromXid)}::xid8 GROUP BY key)`
          : `(SELECT k.key, (SELECT max(l.xid)::text FROM report_change_log l WHERE l.table_name = ${literal(table.source.table)} AND l.key = k.key) AS version FROM pg_temp.report_keys k)`;
      return `COPY (SELECT c.key, ${key} IS NOT NULL, c.version, ${items} FROM ${keys} c LEFT JOIN ${src} t ON ${key}::text = c.key${joins} ORDER BY c.key COLLATE "C") TO STDOUT`;
    }
  }
}

/** Reads a COPY TO STDOUT as decoded lines (UTF-8; a character may span two chunks). */
export async function* copyLines(client: Client, sql: string): AsyncGenerator<string> {
  const utf8 = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of client.query(copyTo(sql)) as AsyncIterable<Buffer>) {
    const lines = (rest + utf8.write(chunk)).split('\n');
    rest = lines.pop()!;
    yield* lines;
  }
  rest += utf8.end();
  if (rest) yield rest;
}

/**
 * Reads a COPY TO STDOUT as binary lines (copy-text.ts: one char per UTF-8 byte, fields still escaped),
 * in runs of one socket chunk's lines: no UTF-8 decoding, and no stream hop per row. `bytes` also gets
 * every chunk as it came (a digest of the output).
 */
export async function* copyBinaryLines(client: Client, sql: string, bytes?: { update(chunk: Buffer): unknown }): AsyncGenerator<string[]> {
  let rest = '';
  for await (const chunk of client.query(copyTo(sql)) as AsyncIterable<Buffer>) {
    bytes?.update(chunk);
    const end = chunk.lastIndexOf(10);
    if (end === -1) {
      rest += chunk.toString('latin1');
      continue;
    }
    const lines = (rest + chunk.toString('latin1', 0, end)).split('\n');
    rest = chunk.toString('latin1', end + 1);
    yield lines;
  }
  if (rest) yield [rest];
}

/**
 * The canonical session, and no JIT: a cycle's queries are read once each, over a window's rows, where
 * compiling the plan cost more than the query (400 ms of a 1.1 s key extraction of 166,676 rows), and
 * the sort of a window's keys in memory rather than in temporary files.
 */
export const REPORT_SESSION = [...TARGET_SESSION, 'SET jit = off', "SET work_mem = '64MB'"];

export async function prepareRegistrySession(registry: Client): Promise<void> {
  for (const sql of REPORT_SESSION) await registry.query(sql);
}

/** The rows of a selection, read on a session already inside its (REPEATABLE READ) transaction. */
export async function extractRows(registry: Client, table: ReportTable, sel: Selection): Promise<ExtractedRow[]> {
  const out: ExtractedRow[] = [];
  await forEachExtracted(registry, table, sel, (r) => void out.push(r));
  return out;
}

/** The same, each row handed on as it arrives (a first full cycle need not hold the raw rows beside the converted ones). */
export async function forEachExtracted(registry: Client, table: ReportTable, sel: Selection, each: (row: ExtractedRow) => void): Promise<number> {
  let n = 0;
  for await (const line of copyLines(registry, extractionSql(table, sel))) {
    const f = decodeLine(line);
    each({ key: f[0]!, present: f[1] === 't', version: f[2], fields: f.slice(3) });
    n++;
  }
  return n;
}

/**
 * Fills pg_temp.report_keys on a session (for a 'keys' selection): by COPY (an INSERT of one array
 * parameter took 0.9 s for 166,676 keys), each key once (a repeated key is dropped).
 */
export async function loadTempKeys(client: Client, keys: string[]): Promise<void> {
  await client.query('CREATE TEMP TABLE IF NOT EXISTS report_keys (key text PRIMARY KEY)');
  await client.query('TRUNCATE pg_temp.report_keys');
  const unique = new Set(keys);
  if (!unique.size) return;
  const lines: string[] = [];
  for (const k of unique) lines.push(encodeField(k) + '\n');
  const chunks = function* () {
    for (let i = 0; i < lines.length; i += 4096) yield Buffer.from(lines.slice(i, i + 4096).join(''), 'utf8');
  };
  await pipeline(Readable.from(chunks()), client.query(copyFrom('COPY pg_temp.report_keys (key) FROM STDIN')));
}
