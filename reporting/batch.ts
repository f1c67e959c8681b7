import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Client } from 'pg';
import { inTransaction, quoteIdent, withClient } from '../lib/db';
import { encodeField, encodeRow, textOf } from '../migration/copy-text';
import { compareKeys } from '../verification/canonical';
import { pruneChangeLog } from './capture';
import { NationalLine, Op, opOf } from './batch-format';
import { compileConverter } from './convert';
import { copyBinaryLines, copyLines, extractionSql, extractRows, loadTempKeys, prepareRegistrySession, REPORT_SESSION, Selection } from './extract';
import { compileRowReady, ReadyRow, RejectedRow, splitExtracted } from './rows';
import type { ReportTable } from './spec';
import { ensureProvinceSchema } from './province';
import type { ReportSpec } from './spec';
import { verifyByStreams } from './verify-stream';

/**
 * 汇聚及上报 One table's cycle, in steps that each survive a crash:
 *
 * 1. prepare: extract (watermark, snapshot] from the registry in one REPEATABLE READ snapshot; convert;
 *    drop rows the province already holds in the same content (an overlap re-read, deduplicated by key
 *    and row hash); write the national batch file and manifest to the outbox; then in ONE province
 *    transaction upsert/delete the rows, hold rejected rows with their reason and record the batch
 *    ("applied"). The watermark does not move.
 * 2. deliver: POST the batch to the national receiver; its batch id makes a re-delivery an
 *    acknowledged duplicate, never a second copy ("delivered").
 * 3. verify: source vs province vs delivered batch, counts and SHA-256 over canonical lines per table
 *    and window. Passed → ONE province transaction marks the batch "verified" and advances the
 *    watermark; failed → the batch is "held" with the differing keys and the table goes no further.
 *
 * A crash before step 1 commits leaves nothing behind (the next attempt takes a new snapshot; a file
 * written for an uncommitted batch is overwritten under the same sequence); after it, the ledger says
 * which step to resume.
 */
export interface ReportContext {
  spec: ReportSpec;
  registryUrl: string;
  provinceUrl: string;
  outboxDir: string;
  /** the national receiver; without it the outbox is the delivery */
  receiverUrl?: string;
}

export type { Op } from './batch-format';
export type BatchState = 'applied' | 'delivered' | 'verified' | 'held' | 'rejected';

export interface Manifest {
  batchId: string;
  table: string;
  sequence: number;
  kind: 'full' | 'changes' | 'backfill';
  window: { from: string | null; to: string; fromXid: string | null; toXid: string };
  rows: number;
  counts: Record<Op, number>;
  sha256: string;
  format: 'jsonl';
  encoding: 'utf-8';
  items: string[];
}

export interface BatchRow {
  batch_id: string;
  table_name: string;
  sequence: string;
  kind: Manifest['kind'];
  from_xid: string | null;
  to_xid: string;
  window_from: Date | null;
  window_to: Date;
  rows: number;
  deletes: number;
  rejected: number;
  skipped: number;
  sha256: string;
  /** SHA-256 of the batch's canonical lines, computed with its file (a first load's); null otherwise */
  canonical_sha256: string | null;
  file: string;
  state: BatchState;
  reasons: string[];
  differing_keys: { key: string; where: string }[];
}

export async function ensureReportSchema(ctx: ReportContext): Promise<void> {
  await withClient(ctx.provinceUrl, (p) => ensureProvinceSchema(p, ctx.spec.tables));
}

export async function openBatch(province: Client, table: string): Promise<BatchRow | undefined> {
  const { rows } = await province.query<BatchRow>(`SELECT * FROM report_batch WHERE table_name = $1 AND state <> 'verified' ORDER BY sequence LIMIT 1`, [table]);
  return rows[0];
}

function batchFile(ctx: ReportContext, table: string, sequence: number): string {
  return path.join(ctx.outboxDir, table, `${String(sequence).padStart(8, '0')}.jsonl`);
}

function shaBytes(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function writeDurably(file: string, text: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** writeDurably off the event loop (the other lane's table goes on meanwhile), the runs written as they are. */
async function writeDurablyAsync(file: string, runs: Buffer[]): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fh = await fs.promises.open(tmp, 'w');
  try {
    for (let i = 0; i < runs.length; i += 256) {
      const part = runs.slice(i, i + 256);
      const want = part.reduce((n, b) => n + b.length, 0);
      let done = (await fh.writev(part)).bytesWritten;
      // a short write (rare for a regular file): the rest of this part, as one buffer
      if (done < want) {
        const rest = Buffer.concat(part);
        while (done < want) done += (await fh.write(rest, done, want - done)).bytesWritten;
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}

export interface PrepareResult {
  table: string;
  batchId?: string;
  rows: number;
  rejected: number;
  skipped: number;
  /** no change since the watermark: the watermark moved, no batch was made */
  empty: boolean;
  /** a batch of this table is open (not verified): nothing new is prepared past it */
  open?: { batchId: string; state: BatchState };
}

/**
 * Step 1. `backfill` re-sends rows whose date item lies in a range (补报) without moving the watermark;
 * otherwise the selection is everything (first cycle) or the changes since the watermark.
 */
export async function prepareBatch(ctx: ReportContext, tableName: string, backfill?: { item: string; from: string; to: string }): Promise<PrepareResult> {
  const table = ctx.spec.tables.find((t) => t.name === tableName);
  if (!table) throw new Error(`no reported table "${tableName}" in ${ctx.spec.file}`);
  return withClient(ctx.provinceUrl, async (province) => {
    for (const s of REPORT_SESSION) await province.query(s);
    const open = await openBatch(province, table.name);
    if (open) return { table: table.name, rows: 0, rejected: 0, skipped: 0, empty: false, open: { batchId: open.batch_id, state: open.state } };
    const wm = (await province.query<{ xid: string; window_to: Date }>('SELECT xid, window_to FROM report_watermark WHERE table_name = $1', [table.name])).rows[0];
    const sel: Selection = backfill ? { kind: 'backfill', ...backfill } : wm ? { kind: 'changes', fromXid: wm.xid } : { kind: 'full' };

    // A first load (no watermark, an empty province table) has nothing to compare with: its rows go to the
    // province and the file as they come, in runs of bytes, and no row is held as an object meanwhile (the
    // batch id its province lines carry is the next sequence; checked again under the lock).
    const isEmpty = async () => (await province.query(`SELECT NOT EXISTS (SELECT 1 FROM ${quoteIdent(table.name)}) AS empty`)).rows[0].empty as boolean;
    const nextSequence = async () => Number((await province.query<{ n: string }>('SELECT coalesce(max(sequence), 0) + 1 AS n FROM report_batch WHERE table_name = $1', [table.name])).rows[0].n);
    if (sel.kind === 'full' && (await isEmpty())) {
      const sequence = await nextSequence();
      return inTransaction(province, () => prepareFirstLoad(ctx, province, table, sequence));
    }

    // The registry: one snapshot for the rows and the snapshot's xmin (the next watermark).
    // Made ready as the rows stream in (the registry's snapshot held meanwhile), as binary strings (rows.ts):
    // otherwise per row only its strings (the province COPY line, its hash, its national JSON line).
    const { ready } = compileRowReady(ctx.spec, table);
    const good: ReadyRow[] = [];
    const rejected: RejectedRow[] = [];
    const snap = await withClient(ctx.registryUrl, async (registry) => {
      await prepareRegistrySession(registry);
      return inTransaction(
        registry,
        async () => {
          const { rows } = await registry.query<{ xmin: string; now: Date }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, now() AS now');
          for await (const lines of copyBinaryLines(registry, extractionSql(table, sel))) {
            for (const line of lines) {
              const r = ready(splitExtracted(line));
              if (r.ok) good.push(r.row);
              else rejected.push(r.rejected);
            }
          }
          return { xmin: rows[0].xmin, now: rows[0].now };
        },
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      );
    });

    return inTransaction(province, async () => {
      // One preparer per table at a time; a second one finds the batch or the moved watermark and stops.
      await province.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`jm-report-table:${table.name}`]);
      const again = await openBatch(province, table.name);
      const wm2 = (await province.query<{ xid: string }>('SELECT xid FROM report_watermark WHERE table_name = $1', [table.name])).rows[0];
      if (again || wm2?.xid !== wm?.xid) throw new Error(`${table.name}: another cycle prepared a batch meanwhile; this attempt retries from the ledger`);

      // Overlap re-reads and repeated deliveries: rows the province already holds in this content are not news.
      let skipped = 0;
      let batchRows = good;
      // A first load into an empty province table has nothing to compare with, and can COPY straight in.
      const emptyProvince = (await province.query(`SELECT NOT EXISTS (SELECT 1 FROM ${quoteIdent(table.name)}) AS empty`)).rows[0].empty as boolean;
      if (sel.kind !== 'backfill' && good.length && !emptyProvince) {
        const known = new Map<string, { sha: string; op: string }>();
        const { rows } = await province.query<{ k: string; sha: string; op: string }>(
          `SELECT p.${quoteIdent(table.key)}::text AS k, p._report_sha AS sha, p._report_op AS op FROM ${quoteIdent(table.name)} p WHERE p.${quoteIdent(table.key)}::text = ANY($1::text[])`,
          [good.map((g) => g.key)],
        );
        for (const r of rows) known.set(r.k, r);
        batchRows = good.filter((g) => {
          const k = known.get(g.key);
          const same = g.op === 'D' ? !k || k.op === 'D' : k !== undefined && k.sha === g.sha && k.op === g.op;
          if (same) skipped++;
          return !same;
        });
      }
      batchRows.sort((a, b) => compareKeys(a.key, b.key));

      if (!batchRows.length && !rejected.length && sel.kind !== 'backfill') {
        await advanceWatermark(province, table.name, snap.xmin, snap.now, null, 0);
        return { table: table.name, rows: 0, rejected: 0, skipped, empty: true };
      }

      const { rows: seqRows } = await province.query<{ n: string }>('SELECT coalesce(max(sequence), 0) + 1 AS n FROM report_batch WHERE table_name = $1', [table.name]);
      const sequence = Number(seqRows[0].n);
      const batchId = batchIdOf(table.name, sequence);
      const names = table.items.map((i) => i.name);
      // The JSON lines are binary strings: their bytes are the file (UTF-8), written and hashed without encoding.
      const bytes = Buffer.from(batchRows.map((r) => r.json).join(''), 'latin1');
      const counts: Record<Op, number> = { U: 0, C: 0, D: 0 };
      for (const r of batchRows) counts[r.op]++;
      const manifest: Manifest = {
        batchId,
        table: table.name,
        sequence,
        kind: sel.kind === 'backfill' ? 'backfill' : sel.kind === 'full' ? 'full' : 'changes',
        window: { from: wm ? new Date(wm.window_to).toISOString() : null, to: new Date(snap.now).toISOString(), fromXid: wm?.xid ?? null, toXid: snap.xmin },
        rows: batchRows.length,
        counts,
        sha256: shaBytes(bytes),
        format: 'jsonl',
        encoding: 'utf-8',
        items: names,
      };
      const file = batchFile(ctx, table.name, sequence);
      writeDurably(file, bytes);
      writeDurably(file.replace(/\.jsonl$/, '.manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

      // The province: upserts by key (a re-applied batch changes nothing), deletes or tombstones.
      const upserts = batchRows.filter((r) => r.op !== 'D');
      const batchField = encodeField(batchId);
      const deletes = batchRows.filter((r) => r.op === 'D').map((r) => r.key);
      const cols = names.map(quoteIdent).join(', ');
      if (upserts.length && emptyProvince) {
        const copyIn = `COPY ${quoteIdent(table.name)} (${cols}, _report_op, _report_batch, _report_sha) FROM STDIN`;
        await pipeline(Readable.from(chunked(upserts.map((r) => `${r.line}\t${r.op}\t${batchField}\t${r.sha}\n`))), province.query(copyFrom(copyIn)));
      } else if (upserts.length) {
        await province.query(`CREATE TEMP TABLE report_stage (LIKE ${quoteIdent(table.name)} INCLUDING DEFAULTS) ON COMMIT DROP`);
        const copyIn = `COPY report_stage (${cols}, _report_op, _report_batch, _report_sha) FROM STDIN`;
        const lines = upserts.map((r) => `${r.line}\t${r.op}\t${batchField}\t${r.sha}\n`);
        await pipeline(Readable.from(chunked(lines)), province.query(copyFrom(copyIn)));
        const set = [...names.filter((n) => n !== table.key), '_report_op', '_report_batch', '_report_sha', '_report_at'].map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`).join(', ');
        await province.query(
          `INSERT INTO ${quoteIdent(table.name)} (${cols}, _report_op, _report_batch, _report_sha, _report_at) SELECT ${cols}, _report_op, _report_batch, _report_sha, now() FROM report_stage ON CONFLICT (${quoteIdent(table.key)}) DO UPDATE SET ${set}`,
        );
      }
      if (deletes.length) {
        const where = `${quoteIdent(table.key)}::text = ANY($1::text[])`;
        if (table.deletes.province === 'delete') await province.query(`DELETE FROM ${quoteIdent(table.name)} WHERE ${where}`, [deletes]);
        else await province.query(`UPDATE ${quoteIdent(table.name)} SET _report_op = 'D', _report_batch = $2, _report_sha = 'D', _report_at = now() WHERE ${where}`, [deletes, batchId]);
      }
      // Held rows: kept with the reason until a later change of the row (or a backfill) brings them in.
      const holding = (await province.query('SELECT EXISTS (SELECT 1 FROM report_rejected WHERE table_name = $1) AS any', [table.name])).rows[0].any as boolean;
      if (good.length && holding) await province.query('DELETE FROM report_rejected WHERE table_name = $1 AND key = ANY($2::text[])', [table.name, good.map((g) => g.key)]);
      await holdRejected(province, table, rejected);
      await province.query(
        `INSERT INTO report_batch (batch_id, table_name, sequence, kind, from_xid, to_xid, window_from, window_to, rows, upserts, cancels, deletes, rejected, skipped, sha256, file, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'applied')`,
        [batchId, table.name, sequence, manifest.kind, manifest.window.fromXid, snap.xmin, manifest.window.from, manifest.window.to, batchRows.length, counts.U, counts.C, counts.D, rejected.length, skipped, manifest.sha256, path.relative(ctx.outboxDir, file)],
      );
      return { table: table.name, batchId, rows: batchRows.length, rejected: rejected.length, skipped, empty: false };
    });
  });
}

function batchIdOf(table: string, sequence: number): string {
  return `${table}-${String(sequence).padStart(8, '0')}`;
}

/** Rows held back with their reason, replacing an earlier hold of the same key. */
async function holdRejected(province: Client, table: ReportTable, rejected: RejectedRow[]): Promise<void> {
  const names = table.items.map((i) => i.name);
  for (const r of rejected) {
    await province.query(
      `INSERT INTO report_rejected (table_name, key, reason, fields) VALUES ($1, $2, $3, $4)
       ON CONFLICT (table_name, key) DO UPDATE SET reason = EXCLUDED.reason, fields = EXCLUDED.fields, rejected_at = now()`,
      [table.name, r.key, r.reason, JSON.stringify(Object.fromEntries(names.map((n, i) => [n, r.fields[i] ?? null])))],
    );
  }
}

/**
 * Step 1 for a first load, in its province transaction: the lock and the ledger checked first, then the
 * registry's rows streamed as they are made ready, in runs of bytes, into one COPY into the empty table
 * (the province writes while the registry reads and this thread converts), the file's and the canonical
 * lines' digests made on the way; then the file, the held rows and the ledger row — what prepareBatch's
 * general path makes for the same rows, without holding a row as an object.
 */
async function prepareFirstLoad(ctx: ReportContext, province: Client, table: ReportTable, sequence: number): Promise<PrepareResult> {
  await province.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`jm-report-table:${table.name}`]);
  const again = await openBatch(province, table.name);
  const wm = (await province.query<{ xid: string }>('SELECT xid FROM report_watermark WHERE table_name = $1', [table.name])).rows[0];
  const { rows: check } = await province.query<{ empty: boolean; n: string }>(
    `SELECT NOT EXISTS (SELECT 1 FROM ${quoteIdent(table.name)}) AS empty, (SELECT coalesce(max(sequence), 0) + 1 FROM report_batch WHERE table_name = $1) AS n`,
    [table.name],
  );
  if (again || wm || !check[0].empty || Number(check[0].n) !== sequence) throw new Error(`${table.name}: another cycle prepared a batch meanwhile; this attempt retries from the ledger`);
  const batchId = batchIdOf(table.name, sequence);
  const batchField = encodeField(batchId);
  const names = table.items.map((i) => i.name);
  const { ready } = compileRowReady(ctx.spec, table);
  const file: Buffer[] = [];
  const hash = createHash('sha256');
  const canonical = createHash('sha256');
  const counts: Record<Op, number> = { U: 0, C: 0, D: 0 };
  const rejected: RejectedRow[] = [];
  let rows = 0;
  let lastKey: string | undefined;
  const toProvince = new PassThrough();
  const copyIn = `COPY ${quoteIdent(table.name)} (${names.map(quoteIdent).join(', ')}, _report_op, _report_batch, _report_sha) FROM STDIN`;
  const loaded = pipeline(toProvince, province.query(copyFrom(copyIn)));
  loaded.catch(() => undefined); // awaited below; an extraction failure ends it first
  let snap: { xmin: string; now: Date };
  try {
    snap = await withClient(ctx.registryUrl, async (registry) => {
      await prepareRegistrySession(registry);
      return inTransaction(
        registry,
        async () => {
          const { rows: at } = await registry.query<{ xmin: string; now: Date }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, now() AS now');
          for await (const lines of copyBinaryLines(registry, extractionSql(table, { kind: 'full' }))) {
            const provinceLines: string[] = [];
            const jsonLines: string[] = [];
            const canonicalLines: string[] = [];
            for (const line of lines) {
              const raw = splitExtracted(line);
              // the batch is in code-point key order (binary strings: byte order), as the query sorts it
              if (lastKey !== undefined && !(lastKey < raw.key)) throw new Error(`${table.name}: the registry's rows did not come in key order (${textOf(lastKey)}, then ${textOf(raw.key)})`);
              lastKey = raw.key;
              const r = ready(raw);
              if (!r.ok) {
                rejected.push(r.rejected);
                continue;
              }
              provinceLines.push(`${r.row.line}\t${r.row.op}\t${batchField}\t${r.row.sha}\n`);
              jsonLines.push(r.row.json);
              canonicalLines.push(`${r.row.line}\t${r.row.op}\n`);
              counts[r.row.op]++;
              rows++;
            }
            if (!provinceLines.length) continue;
            canonical.update(canonicalLines.join(''), 'latin1');
            const json = Buffer.from(jsonLines.join(''), 'latin1');
            hash.update(json);
            file.push(json);
            if (!toProvince.write(Buffer.from(provinceLines.join(''), 'latin1'))) await once(toProvince, 'drain');
          }
          return { xmin: at[0].xmin, now: at[0].now };
        },
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      );
    });
  } catch (err) {
    toProvince.destroy(err as Error);
    throw err;
  }
  toProvince.end();
  await loaded;
  if (!rows && !rejected.length) {
    await advanceWatermark(province, table.name, snap.xmin, snap.now, null, 0);
    return { table: table.name, rows: 0, rejected: 0, skipped: 0, empty: true };
  }
  const manifest: Manifest = {
    batchId,
    table: table.name,
    sequence,
    kind: 'full',
    window: { from: null, to: new Date(snap.now).toISOString(), fromXid: null, toXid: snap.xmin },
    rows,
    counts,
    sha256: hash.digest('hex'),
    format: 'jsonl',
    encoding: 'utf-8',
    items: names,
  };
  const outFile = batchFile(ctx, table.name, sequence);
  await writeDurablyAsync(outFile, file);
  writeDurably(outFile.replace(/\.jsonl$/, '.manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  // Held rows: kept with the reason until a later change of the row (or a backfill) brings them in; a key
  // held before and loaded now (the province table was empty: its rows are this batch's) is held no more.
  const holding = (await province.query('SELECT EXISTS (SELECT 1 FROM report_rejected WHERE table_name = $1) AS any', [table.name])).rows[0].any as boolean;
  if (rows && holding) {
    await province.query(`DELETE FROM report_rejected r WHERE r.table_name = $1 AND EXISTS (SELECT 1 FROM ${quoteIdent(table.name)} p WHERE p.${quoteIdent(table.key)}::text = r.key)`, [table.name]);
  }
  await holdRejected(province, table, rejected);
  await province.query(
    `INSERT INTO report_batch (batch_id, table_name, sequence, kind, from_xid, to_xid, window_from, window_to, rows, upserts, cancels, deletes, rejected, skipped, sha256, file, state, canonical_sha256)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'applied', $17)`,
    [batchId, table.name, sequence, manifest.kind, null, snap.xmin, null, manifest.window.to, rows, counts.U, counts.C, counts.D, rejected.length, 0, manifest.sha256, path.relative(ctx.outboxDir, outFile), canonical.digest('hex')],
  );
  return { table: table.name, batchId, rows, rejected: rejected.length, skipped: 0, empty: false };
}

/** Binary COPY lines (rows.ts) as the bytes they are, in runs. */
function* chunked(lines: string[], size = 2000): Generator<Buffer> {
  for (let i = 0; i < lines.length; i += size) yield Buffer.from(lines.slice(i, i + size).join(''), 'latin1');
}

async function advanceWatermark(province: Client, table: string, xid: string, windowTo: Date, batchId: string | null, rows: number): Promise<void> {
  await province.query(
    `INSERT INTO report_watermark (table_name, xid, window_to, last_batch) VALUES ($1, $2, $3, $4)
     ON CONFLICT (table_name) DO UPDATE SET xid = EXCLUDED.xid, window_to = EXCLUDED.window_to, last_batch = coalesce(EXCLUDED.last_batch, report_watermark.last_batch), updated_at = now()`,
    [table, xid, windowTo, batchId],
  );
  await province.query('INSERT INTO report_lag (table_name, lag_seconds, rows) VALUES ($1, extract(epoch FROM now() - $2::timestamptz), $3)', [table, windowTo, rows]);
}

/** A batch from the outbox: its manifest and its file's bytes (hashed and sent as they are; decoded only where text is needed). */
export async function readBatch(ctx: ReportContext, b: Pick<BatchRow, 'file'>): Promise<{ manifest: Manifest; bytes: Buffer }> {
  const file = path.join(ctx.outboxDir, b.file);
  const bytes = await fs.promises.readFile(file);
  const manifest = JSON.parse(await fs.promises.readFile(file.replace(/\.jsonl$/, '.manifest.json'), 'utf8')) as Manifest;
  return { manifest, bytes };
}

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

export interface Verification {
  batchId: string;
  ok: boolean;
  counts: { batch: number; province: number; source: number; sourceMovedOn: number };
  sha256: { batch: string; province: string; source: string };
  differingKeys: { key: string; where: string }[];
}

/**
 * Step 3. 数据汇聚/上报结果验证: the batch's rows in canonical COPY text (verification/canonical.ts)
 * hashed three ways — as delivered (the file), as the province holds them (COPY TO STDOUT), and as the
 * registry holds them now through the same converter (rows changed again since the batch are left to
 * the next window and counted). Passed → verified and the watermark advances, in one transaction.
 */
export async function verifyBatch(ctx: ReportContext, batchId: string, delivery?: Promise<unknown>): Promise<Verification & { state: BatchState }> {
  return withClient(ctx.provinceUrl, async (province) => {
    for (const s of REPORT_SESSION) await province.query(s);
    const ledgerRow = async () => (await province.query<BatchRow>('SELECT * FROM report_batch WHERE batch_id = $1', [batchId])).rows[0];
    const b = await ledgerRow();
    if (!b) throw new Error(`no batch ${batchId} in the ledger`);
    // Compared while the upload runs (the file does not change by being sent); decided once it has ended.
    const settle = async (result: Verification, differing = 0) => settleVerification(province, delivery ? ((await delivery), await ledgerRow()) : b, result, differing);
    const table = ctx.spec.tables.find((t) => t.name === b.table_name)!;
    const { manifest, bytes } = await readBatch(ctx, b);
    const names = table.items.map((i) => i.name);
    // First the three streams' digests; key by key only when they differ (to name the keys).
    const fileOk = shaBytes(bytes) === manifest.sha256;
    const streams = fileOk ? await verifyByStreams({ province, registryUrl: ctx.registryUrl, spec: ctx.spec, table, batchId, kind: b.kind, toXid: b.to_xid, bytes, canonical: b.canonical_sha256 && !Number(b.deletes) ? { sha256: b.canonical_sha256, rows: Number(b.rows) } : undefined }) : undefined;
    if (streams && streams.counts.batch === manifest.rows) return settle({ batchId, ok: true, ...streams, differingKeys: [] });
    const content = bytes.toString('utf8');
    const convert = compileConverter(ctx.spec, table);
    const differing: { key: string; where: string }[] = [];
    // The delivered batch, as canonical lines by key.
    const batchLines = new Map<string, string>();
    const deleted = new Set<string>();
    if (!fileOk) differing.push({ key: '*', where: 'the batch file does not match its manifest SHA-256' });
    for (const l of content.split('\n')) {
      if (!l) continue;
      const r = JSON.parse(l) as NationalLine;
      if (r.op === 'D') deleted.add(r.key);
      else batchLines.set(r.key, encodeRow(names.map((n) => r.data![n] ?? null)) + r.op);
    }
    const keys = [...batchLines.keys(), ...deleted];
    // The province, for the same keys.
    await loadTempKeys(province, keys);
    const provinceLines = new Map<string, string>();
    const ki = names.indexOf(table.key);
    const pcols = names.map((n) => `p.${quoteIdent(n)}`).join(', ');
    for await (const line of copyLines(province, `COPY (SELECT ${pcols}, p._report_op FROM ${quoteIdent(table.name)} p JOIN pg_temp.report_keys k ON k.key = p.${quoteIdent(table.key)}::text ORDER BY p.${quoteIdent(table.key)}::text COLLATE "C") TO STDOUT`)) {
      const fields = line.split('\t');
      const op = fields.pop()!;
      provinceLines.set(decodeKey(fields[ki]), fields.join('\t') + '\n' + op);
    }
    // The registry now, for the same keys.
    const sourceLines = new Map<string, string>();
    let movedOn = 0;
    const sourceRows = await withClient(ctx.registryUrl, async (registry) => {
      await prepareRegistrySession(registry);
      return inTransaction(
        registry,
        async () => {
          await loadTempKeys(registry, keys);
          return extractRows(registry, table, { kind: 'keys' });
        },
        'BEGIN ISOLATION LEVEL REPEATABLE READ',
      );
    });
    const newer = (v: string | null) => v !== null && BigInt(v) >= BigInt(b.to_xid);
    for (const r of sourceRows) {
      if (newer(r.version)) {
        movedOn++;
        continue;
      }
      if (!r.present) {
        sourceLines.set(r.key, 'D');
        continue;
      }
      const c = convert(r.fields);
      sourceLines.set(r.key, c.ok ? encodeRow(c.fields) + opOf(table, r, c.fields) : `rejected: ${c.reason}`);
    }
    const h = { batch: createHash('sha256'), province: createHash('sha256'), source: createHash('sha256') };
    let provinceCount = 0;
    let sourceCount = 0;
    for (const key of [...keys].sort(compareKeys)) {
      const want = deleted.has(key) ? 'D' : batchLines.get(key)!;
      h.batch.update(want);
      const p = provinceLines.get(key);
      const provinceHas = deleted.has(key) ? (table.deletes.province === 'delete' ? (p === undefined ? 'D' : p) : p?.endsWith('\nD') ? 'D' : (p ?? 'absent')) : (p ?? 'absent');
      if (provinceHas !== 'absent') provinceCount++;
      h.province.update(provinceHas);
      if (provinceHas !== want) differing.push({ key, where: `province ${describe(provinceHas)} ≠ batch ${describe(want)}` });
      const s = sourceLines.get(key);
      if (s === undefined) continue; // changed again since: the next window carries it
      sourceCount++;
      h.source.update(s);
      if (s !== want) differing.push({ key, where: `registry ${describe(s)} ≠ batch ${describe(want)}` });
    }
    const counts = { batch: keys.length, province: provinceCount, source: sourceCount, sourceMovedOn: movedOn };
    const ok = differing.length === 0 && keys.length === manifest.rows;
    if (keys.length !== manifest.rows) differing.push({ key: '*', where: `the batch holds ${keys.length} rows, its manifest says ${manifest.rows}` });
    const result: Verification = {
      batchId,
      ok,
      counts,
      sha256: { batch: h.batch.digest('hex'), province: h.province.digest('hex'), source: h.source.digest('hex') },
      differingKeys: differing.slice(0, 100),
    };
    return settle(result, differing.length);
  });
}

/** Passed → verified and the watermark moves, failed → held with the keys; in one province transaction. */
async function settleVerification(province: Client, b: BatchRow, result: Verification, differing = 0): Promise<Verification & { state: BatchState }> {
  const { batchId, ok } = result;
  if (b.state !== 'delivered' && b.state !== 'held') return { ...result, state: b.state };
  const state: BatchState = await inTransaction(province, async () => {
    if (!ok) {
      await province.query(`UPDATE report_batch SET state = 'held', reasons = $2, differing_keys = $3 WHERE batch_id = $1`, [
        batchId,
        JSON.stringify([`${differing} differing keys (source vs province vs batch)`]),
        JSON.stringify(result.differingKeys),
      ]);
      return 'held';
    }
    await province.query(`UPDATE report_batch SET state = 'verified', verified_at = now(), reasons = '[]', differing_keys = '[]' WHERE batch_id = $1`, [batchId]);
    // A backfill re-sends what was already passed: it never moves the watermark.
    if (b.kind !== 'backfill') await advanceWatermark(province, b.table_name, b.to_xid, b.window_to, batchId, b.rows);
    return 'verified';
  });
  return { ...result, state };
}

function decodeKey(raw: string): string {
  return raw.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
}

function describe(line: string): string {
  if (line === 'D') return 'deleted';
  if (line === 'absent') return 'absent';
  if (line.startsWith('rejected')) return line;
  const op = line.slice(-1);
  return `${op === 'C' ? 'cancelled' : 'row'} "${line.slice(0, -2).replace(/\t/g, ' | ').slice(0, 160)}"`;
}

/** One table through all three steps, resuming whatever the ledger says is open. */
export async function runTableCycle(ctx: ReportContext, table: string): Promise<{ table: string; batchId?: string; state: BatchState | 'empty'; rows: number; rejected: number; verification?: Verification }> {
  let p = await prepareBatch(ctx, table);
  const batchId = p.open?.batchId ?? p.batchId;
  if (!batchId) return { table, state: 'empty', rows: 0, rejected: p.rejected };
  const state: BatchState = p.open?.state ?? 'applied';
  if (state === 'rejected') return { table, batchId, state, rows: p.rows, rejected: p.rejected };
  let delivery: Promise<BatchState> | undefined;
  if (state === 'applied') {
    // Step 2 and step 3's reading side by side: the verification settles only after the upload has ended.
    delivery = deliverBatch(ctx, batchId).then((d) => d.state);
    delivery.catch(() => undefined); // awaited by verifyBatch; a failure there fails this attempt
  }
  const v = await verifyBatch(ctx, batchId, delivery);
  if (v.state === 'rejected') return { table, batchId, state: v.state, rows: p.rows, rejected: p.rejected };
  if (p.open && v.state === 'verified') p = { ...p, rows: v.counts.batch };
  if (v.state === 'verified') await pruneBelowWatermarks(ctx, table);
  return { table, batchId, state: v.state, rows: p.rows, rejected: p.rejected, verification: v };
}

/**
 * The registry's change log below every watermark that reads it is history no cycle will read again:
 * pruned once all reported tables of the same source table have passed it (none without a watermark).
 */
export async function pruneBelowWatermarks(ctx: ReportContext, tableName: string): Promise<number> {
  const source = ctx.spec.tables.find((t) => t.name === tableName)!.source.table;
  const readers = ctx.spec.tables.filter((t) => t.source.table === source).map((t) => t.name);
  const { rows } = await withClient(ctx.provinceUrl, (p) =>
    p.query<{ n: number; low: string | null }>('SELECT count(*)::int AS n, min(xid::xid8)::text AS low FROM report_watermark WHERE table_name = ANY($1::text[])', [readers]),
  );
  if (rows[0].n < readers.length || !rows[0].low) return 0;
  return withClient(ctx.registryUrl, (r) => pruneChangeLog(r, source, rows[0].low!));
}
