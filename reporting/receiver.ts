import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { binaryOf, textOf } from '../migration/copy-text';

/**
 * 国家局接收端(参考实现) A reference national receiver for tests and the demo: POST /batches takes
 * { manifest, content } (JSON lines, UTF-8), checks the manifest against the content (SHA-256, row and
 * op counts, every line's shape against the manifest's items, no key twice), and the sequence per
 * table: the next one is acknowledged, a batch id seen before is acknowledged again as a duplicate
 * (never applied twice), a sequence already taken by another batch is a repeat and one skipped a gap
 * (409, with reasons). Malformed batches get 422 with every reason. Accepted batches are written under
 * its directory. GET /batches lists what it accepted; faults can be injected for tests.
 */
export interface ReceivedBatch {
  batchId: string;
  table: string;
  sequence: number;
  rows: number;
  sha256: string;
  keys: { op: string; key: string }[];
}

export interface Receiver {
  url: string;
  accepted: ReceivedBatch[];
  /** answer the next n POSTs with 503 (a platform that fails, then recovers) */
  failNext(n: number): void;
  /** answers given, by status */
  answers: Record<number, number>;
  close(): Promise<void>;
}

/** A manifest as checkBatch accepts it. */
interface BatchManifest {
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

/**
 * `binary`: the body was parsed from its bytes read as Latin-1 (a valid UTF-8 body without \\u escapes:
 * every string is then its UTF-8 bytes, one char each — copy-text.ts's binary strings), which parses a
 * large batch several times faster; the manifest is turned back to text here, the content's lines are
 * checked as bytes and what the answer names of them is text. The same reasons either way.
 */
export function checkBatch(body: unknown, binary = false): { reasons: string[]; manifest?: BatchManifest; lines?: { op: string; key: string }[] } {
  const text = binary ? textOf : (v: string) => v;
  const reasons: string[] = [];
  if (!body || typeof body !== 'object') return { reasons: ['the body is not a JSON object { manifest, content }'] };
  // Untrusted JSON: every field is checked below before any of it is used.
  const { manifest: parsed, content } = body as { manifest?: unknown; content?: unknown };
  const m = (binary ? textDeep(parsed) : parsed) as { [K in keyof BatchManifest]?: unknown } | undefined;
  if (!m || typeof m !== 'object') return { reasons: ['manifest: missing'] };
  if (typeof content !== 'string') return { reasons: ['content: missing (a string of JSON lines)'] };
  if (typeof m.batchId !== 'string' || !m.batchId) reasons.push('manifest.batchId: missing');
  if (typeof m.table !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(m.table)) reasons.push('manifest.table: missing or not an identifier');
  if (typeof m.sequence !== 'number' || !Number.isInteger(m.sequence) || m.sequence < 1) reasons.push('manifest.sequence: expected a positive integer');
  if (typeof m.rows !== 'number' || !Number.isInteger(m.rows) || m.rows < 0) reasons.push('manifest.rows: expected a count');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) reasons.push('manifest.sha256: expected 64 hex digits');
  if (!Array.isArray(m.items) || !m.items.every((i: unknown) => typeof i === 'string')) reasons.push('manifest.items: expected the item names');
  if (!m.window || typeof (m.window as { to?: unknown }).to !== 'string') reasons.push('manifest.window.to: missing');
  if (reasons.length) return { reasons };
  const manifest = m as BatchManifest;
  const actual = createHash('sha256').update(content, binary ? 'latin1' : 'utf8').digest('hex');
  if (actual !== manifest.sha256) reasons.push(`content: SHA-256 ${actual} ≠ manifest ${manifest.sha256}`);
  const items = new Set<string>(binary ? manifest.items.map(binaryOf) : manifest.items);
  const lines: { op: string; key: string }[] = [];
  const seen = new Set<string>();
  const counts: Record<string, number> = { U: 0, C: 0, D: 0 };
  const raw = content.split('\n');
  if (raw[raw.length - 1] === '') raw.pop();
  raw.forEach((l, i) => {
    if (reasons.length >= 50) return;
    let r: { op?: unknown; key?: unknown; data?: unknown } | null;
    try {
      r = JSON.parse(l);
    } catch {
      reasons.push(`line ${i + 1}: not JSON`);
      return;
    }
    if (!r || !OPS.has(r.op)) return void reasons.push(`line ${i + 1}: op must be U, C or D`);
    if (typeof r.key !== 'string' || !r.key) return void reasons.push(`line ${i + 1}: key missing`);
    if (seen.has(r.key)) reasons.push(`line ${i + 1}: key ${text(r.key)} twice in the batch`);
    seen.add(r.key);
    counts[r.op as string]++;
    if (r.op === 'D') {
      if (r.data !== null) reasons.push(`line ${i + 1}: a deletion carries no data`);
    } else if (!r.data || typeof r.data !== 'object') reasons.push(`line ${i + 1}: data missing`);
    else {
      const data = r.data as Record<string, unknown>;
      const names = Object.keys(data);
      const unknown = names.filter((n) => !items.has(n));
      const missing = [...items].filter((n) => !(n in data));
      if (unknown.length) reasons.push(`line ${i + 1}: items not in the manifest: ${unknown.map(text).join(', ')}`);
      if (missing.length) reasons.push(`line ${i + 1}: items missing: ${missing.map(text).join(', ')}`);
      for (const n of names) if (data[n] !== null && typeof data[n] !== 'string') reasons.push(`line ${i + 1}: ${text(n)} must be a string or null`);
    }
    lines.push({ op: r.op as string, key: text(r.key) });
  });
  if (raw.length !== manifest.rows) reasons.push(`content: ${raw.length} lines, manifest.rows says ${manifest.rows}`);
  const declared = manifest.counts as Record<string, unknown> | undefined;
  if (declared) for (const op of ['U', 'C', 'D']) if ((declared[op] ?? 0) !== counts[op]) reasons.push(`manifest.counts.${op}: ${declared[op]} ≠ ${counts[op]} lines`);
  return { reasons, manifest, lines };
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

export async function startReceiver(dir: string, port = 0): Promise<Receiver> {
  const accepted: ReceivedBatch[] = [];
  const byId = new Map<string, ReceivedBatch>();
  const last = new Map<string, number>();
  const answers: Record<number, number> = {};
  let failing = 0;
  const send = (res: http.ServerResponse, status: number, body: object) => {
    answers[status] = (answers[status] ?? 0) + 1;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/batches')) return send(res, 200, { batches: accepted.map(({ keys: _k, ...b }) => b) });
    if (req.method !== 'POST' || req.url !== '/batches') return send(res, 404, { reasons: ['POST /batches'] });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 512 * 1024 * 1024) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      if (failing > 0) {
        failing--;
        return send(res, 503, { reasons: ['temporarily unavailable (injected)'] });
      }
      let body: unknown;
      let binary: boolean;
      try {
        ({ body, binary } = parseBody(Buffer.concat(chunks)));
      } catch {
        return send(res, 422, { reasons: ['the body is not JSON'] });
      }
      const { reasons, manifest: m, lines } = checkBatch(body, binary);
      // (with no reasons the manifest and lines are always there)
      if (reasons.length || !m || !lines) return send(res, 422, { error: 'malformed batch', reasons });
      const seen = byId.get(m.batchId);
      if (seen) {
        if (seen.sha256 === m.sha256) return send(res, 200, { batchId: m.batchId, sequence: seen.sequence, duplicate: true });
        return send(res, 409, { error: 'repeat', reasons: [`batch ${m.batchId} was accepted before with other content`] });
      }
      const expected = (last.get(m.table) ?? 0) + 1;
      if (m.sequence < expected) return send(res, 409, { error: 'repeat', reasons: [`${m.table}: sequence ${m.sequence} was already accepted (next is ${expected})`] });
      if (m.sequence > expected) return send(res, 409, { error: 'gap', reasons: [`${m.table}: sequence ${m.sequence} leaves a gap (expected ${expected})`] });
      const file = path.join(dir, m.table, `${String(m.sequence).padStart(8, '0')}.jsonl`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, (body as { content: string }).content, binary ? 'latin1' : 'utf8');
      const b: ReceivedBatch = { batchId: m.batchId, table: m.table, sequence: m.sequence, rows: m.rows, sha256: m.sha256, keys: lines };
      accepted.push(b);
      byId.set(b.batchId, b);
      last.set(m.table, m.sequence);
      send(res, 200, { batchId: m.batchId, sequence: m.sequence, accepted: true });
    });
    req.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: p } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${p}`,
    accepted,
    answers,
    failNext: (n) => void (failing = n),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
