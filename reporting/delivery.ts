import http from 'node:http';
import https from 'node:https';
import { withClient } from '../lib/db';
import type { BatchRow, BatchState, Manifest, ReportContext } from './batch-types';
import { BatchReads, readHashed } from './batch-files';
import { BATCH_CONTENT_TYPE, MANIFEST_HEADER, manifestHeader } from './batch-format';

/**
 * 上报线格式 The batch on the wire: the batch file's bytes as the body, as the outbox holds them (JSON lines,
 * UTF-8), and its manifest in a header (receiver.ts, README): nothing is escaped, decoded or copied on the
 * way, and the receiver hashes and checks the lines as they stream in.
 */
export function deliveryRequest(manifest: Manifest, bytes: Buffer): { headers: Record<string, string>; parts: Buffer[] } {
  return { headers: { 'content-type': BATCH_CONTENT_TYPE, [MANIFEST_HEADER]: manifestHeader(manifest), 'idempotency-key': manifest.batchId }, parts: [bytes] };
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
export async function deliverBatch(ctx: ReportContext, batchId: string, reads?: BatchReads): Promise<{ state: BatchState; ack?: unknown; reasons?: string[] }> {
  return withClient(ctx.provinceUrl, async (province) => {
    const b = (await province.query<BatchRow>('SELECT * FROM report_batch WHERE batch_id = $1', [batchId])).rows[0];
    if (!b) throw new Error(`no batch ${batchId} in the ledger`);
    if (b.state !== 'applied') return { state: b.state };
    const { manifest, bytes, sha256 } = await (reads ? reads.get(b) : readHashed(ctx, b));
    if (sha256 !== b.sha256) throw new Error(`batch ${batchId}: the outbox file ${b.file} no longer matches the ledger's SHA-256`);
    let ack: unknown = { outbox: b.file };
    if (ctx.receiverUrl) {
      const { headers, parts } = deliveryRequest(manifest, bytes);
      const res = await post(new URL('/batches', ctx.receiverUrl), headers, parts, 60_000);
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
