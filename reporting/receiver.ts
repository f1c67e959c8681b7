import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MANIFEST_HEADER } from './batch-format';
import { BatchManifest, BodyChecker, checkBatch, parseBody } from './receiver-check';

export { BATCH_CONTENT_TYPE, MANIFEST_HEADER, manifestHeader } from './batch-format';

/**
 * 国家局接收端(参考实现) A reference national receiver for tests and the demo. POST /batches takes a batch
 * on the wire (README, 上报线格式):
 *  - the batch file itself as the body (JSON lines, UTF-8; `content-type: application/x-ndjson`) and its
 *    manifest as JSON in the `x-report-manifest` header (ASCII: other characters \u-escaped). The body is
 *    checked as it streams in — SHA-256, lines, every line's shape — without holding it as text or a row
 *    as an object (a line of the writer's exact shape is checked by one pattern; any other by JSON.parse);
 *  - or, as clients before it sent, one JSON object { manifest, content } (`application/json`).
 * Either way the manifest is checked against the content (SHA-256, row and op counts, every line's shape
 * against the manifest's items, no key twice), with the same reasons for the same batch, and the
 * sequence per table: the next one is acknowledged, a batch id seen before is acknowledged again as a
 * duplicate (never applied twice), a sequence already taken by another batch is a repeat and one skipped
 * a gap (409, with reasons). Malformed batches get 422 with every reason. Accepted batches are written
 * under its directory as received. GET /batches lists what it accepted; faults can be injected for tests.
 * The checks themselves are in receiver-check.ts.
 */
export interface ReceivedBatch {
  batchId: string;
  table: string;
  sequence: number;
  rows: number;
  sha256: string;
  /** every line's op and key, in order (made when read: the receiver keeps them as a string of ops and the keys) */
  readonly keys: { op: string; key: string }[];
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

/** A body's chunks written as they are. */
function writeRuns(file: string, chunks: Buffer[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const c of chunks) for (let at = 0; at < c.length; ) at += fs.writeSync(fd, c, at, c.length - at);
  } finally {
    fs.closeSync(fd);
  }
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
  /** A checked batch: acknowledged, or refused as a repeat or a gap; written and recorded when new. */
  const take = (res: http.ServerResponse, m: BatchManifest, write: (file: string) => void, lines: () => { op: string; key: string }[]) => {
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
    write(file);
    const b: ReceivedBatch = {
      batchId: m.batchId,
      table: m.table,
      sequence: m.sequence,
      rows: m.rows,
      sha256: m.sha256,
      get keys() {
        return lines();
      },
    };
    accepted.push(b);
    byId.set(b.batchId, b);
    last.set(m.table, m.sequence);
    send(res, 200, { batchId: m.batchId, sequence: m.sequence, accepted: true });
  };
  const injected = (res: http.ServerResponse) => {
    if (failing <= 0) return false;
    failing--;
    send(res, 503, { reasons: ['temporarily unavailable (injected)'] });
    return true;
  };
  const LIMIT = 512 * 1024 * 1024;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/batches')) return send(res, 200, { batches: accepted.map(({ batchId, table, sequence, rows, sha256 }) => ({ batchId, table, sequence, rows, sha256 })) });
    if (req.method !== 'POST' || req.url !== '/batches') return send(res, 404, { reasons: ['POST /batches'] });
    req.on('error', () => undefined);
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type === 'application/x-ndjson' || type === 'application/jsonl') {
      // The batch file as the body: checked as it streams in.
      const body = new BodyChecker(req.headers[MANIFEST_HEADER]);
      req.on('data', (c: Buffer) => {
        body.write(c);
        if (body.size > LIMIT) req.destroy();
      });
      req.on('end', () => {
        if (injected(res)) return;
        const { reasons, manifest: m, lines } = body.end();
        if (reasons.length || !m || !lines) return send(res, 422, { error: 'malformed batch', reasons });
        take(res, m, (file) => writeRuns(file, body.chunks), lines);
      });
      return;
    }
    if (type !== 'application/json') {
      req.resume();
      req.on('end', () => send(res, 415, { reasons: [`content-type: expected application/x-ndjson (the batch file, its manifest in the ${MANIFEST_HEADER} header) or application/json ({ manifest, content })`] }));
      return;
    }
    // The former format, { manifest, content }: the whole body, then parsed.
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > LIMIT) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      if (injected(res)) return;
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
      const content = (body as { content: string }).content;
      take(res, m, (file) => fs.writeFileSync(file, content, binary ? 'latin1' : 'utf8'), () => lines);
    });
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
