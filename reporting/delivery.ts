import http from 'node:http';
import https from 'node:https';
import { withClient } from '../lib/db';
import type { BatchRow, BatchState, Manifest, ReportContext } from './batch-types';
import { readBatch, shaBytes } from './batch-files';

/**
 * The delivery's body, JSON.stringify({ manifest, content }) in UTF-8, made from the file's bytes: read as
 * a binary string, JSON.stringify escapes the same ASCII characters it would in the text and passes every
 * other byte through, so the bytes are the same without decoding and encoding the content.
 */
export function deliveryBody(manifest: Manifest, bytes: Buffer): Buffer {
  return Buffer.concat(deliveryBodyParts(manifest, bytes));
}

function deliveryBodyParts(manifest: Manifest, bytes: Buffer): Buffer[] {
  return [Buffer.from(`{"manifest":${JSON.stringify(manifest)},"content":`, 'utf8'), jsonStringBytes(bytes), Buffer.from('}')];
}

/**
 * One POST with the body in parts, written to the socket as they are (fetch copies a Buffer body whole,
 * and again into its stream); a connection that fails or an answer that takes longer than timeoutMs throws.
 */
function post(url: URL, headers: Record<string, string>, parts: Buffer[], timeoutMs: number): Promise<{ status: number; text: string }> {
  const length = parts.reduce((n, p) => n + p.length, 0);
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? https.request : http.request;
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    // the whole exchange, as fetch's AbortSignal.timeout had it (not the socket's idle time)
    const timer = setTimeout(() => req.destroy(new Error(`the national receiver did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}

/**
 * JSON.stringify's escapes for the ASCII characters it escapes (", \\ and the control characters): per byte
 * its escape's length (0: none), and the escapes 6 bytes apart.
 */
const ESCAPE_LENGTH = new Uint8Array(256);
/** the bytes an escape adds */
const ESCAPE_EXTRA = new Uint8Array(256);
const ESCAPES = new Uint8Array(128 * 6);
for (let c = 0; c < 128; c++) {
  const e = JSON.stringify(String.fromCharCode(c)).slice(1, -1);
  if (e.length > 1) {
    ESCAPE_LENGTH[c] = e.length;
    ESCAPE_EXTRA[c] = e.length - 1;
    ESCAPES.set(Buffer.from(e, 'latin1'), c * 6);
  }
}

/**
 * The UTF-8 bytes of JSON.stringify(text) for the text whose UTF-8 bytes are given: JSON.stringify escapes
 * ASCII characters only (a well-formed text has no lone surrogate), so every other byte is copied as it is.
 */
export function jsonStringBytes(bytes: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < bytes.length; i++) extra += ESCAPE_EXTRA[bytes[i]];
  const out = Buffer.allocUnsafe(bytes.length + extra + 2);
  out[0] = 0x22;
  let at = 1;
  if (!extra) at += bytes.copy(out, at);
  else {
    // byte by byte: a copy call per escape costs more than the bytes between them
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      const n = ESCAPE_LENGTH[c];
      if (n === 0) out[at++] = c;
      else for (let j = c * 6, end = j + n; j < end; j++) out[at++] = ESCAPES[j];
    }
  }
  out[at] = 0x22;
  return out;
}

export class BatchRejected extends Error {
  constructor(
    readonly batchId: string,
    readonly status: number,
    readonly reasons: string[],
  ) {
    super(`the national receiver rejected batch ${batchId} (HTTP ${status}): ${reasons.join('; ')}`);
    this.name = 'BatchRejected';
  }
}

/**
 * Step 2. A 4xx answer is a rejection (recorded with the receiver's reasons, the table held: resending
 * the same bytes cannot help); a 5xx or a dropped connection throws to be retried.
 */
export async function deliverBatch(ctx: ReportContext, batchId: string): Promise<{ state: BatchState; ack?: unknown; reasons?: string[] }> {
  return withClient(ctx.provinceUrl, async (province) => {
    const b = (await province.query<BatchRow>('SELECT * FROM report_batch WHERE batch_id = $1', [batchId])).rows[0];
    if (!b) throw new Error(`no batch ${batchId} in the ledger`);
    if (b.state !== 'applied') return { state: b.state };
    const { manifest, bytes } = await readBatch(ctx, b);
    if (shaBytes(bytes) !== b.sha256) throw new Error(`batch ${batchId}: the outbox file ${b.file} no longer matches the ledger's SHA-256`);
    let ack: unknown = { outbox: b.file };
    if (ctx.receiverUrl) {
      const res = await post(new URL('/batches', ctx.receiverUrl), { 'content-type': 'application/json; charset=utf-8', 'idempotency-key': batchId }, deliveryBodyParts(manifest, bytes), 60_000);
      const text = res.text;
      let body: { reasons?: string[] } & Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        body = { reasons: [`unreadable answer: ${text.slice(0, 200)}`] };
      }
      if (res.status >= 400 && res.status < 500) {
        const reasons = Array.isArray(body.reasons) ? body.reasons.map(String) : [`HTTP ${res.status}`];
        await province.query(`UPDATE report_batch SET state = 'rejected', reasons = $2, ack = $3 WHERE batch_id = $1`, [batchId, JSON.stringify(reasons), JSON.stringify(body)]);
        return { state: 'rejected', reasons };
      }
      if (res.status < 200 || res.status > 299) throw new Error(`the national receiver answered HTTP ${res.status} for batch ${batchId}`);
      ack = body;
    }
    await province.query(`UPDATE report_batch SET state = 'delivered', ack = $2, delivered_at = now() WHERE batch_id = $1 AND state = 'applied'`, [batchId, JSON.stringify(ack)]);
    return { state: 'delivered', ack };
  });
}
