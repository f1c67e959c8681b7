import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction, quoteIdent, withClient } from '../lib/db';
import type { Client } from 'pg';
import { decodeField, encodeField, textOf } from '../migration/copy-text';
import { compareKeys } from '../verification/canonical';
import { pruneChangeLog } from './capture';
import { Op } from './batch-format';
import { copyBinaryLines, extractionSql, loadTempKeys, prepareRegistrySession, REPORT_SESSION, Selection } from './extract';
import { compileRowReady, ReadyRow, RejectedRow, splitExtracted } from './rows';
import { ensureProvinceSchema } from './province';
import type { BatchState, Manifest, PrepareResult, ReportContext } from './batch-types';
import type { ReportTable } from './spec';
import { BatchReads, batchFile, chunked, shaBytes, writeDurably } from './batch-files';
import { advanceWatermark, batchIdOf, holdRejected, openBatch } from './batch-ledger';
import { ThreadPool } from '../lib/thread-pool';
import { deliverBatch } from './delivery';
import { verifyBatch } from './batch-verify';
import type { Verification } from './batch-verify';

export type { Op } from './batch-format';
export type { BatchRow, BatchState, Manifest, PrepareResult, ReportContext } from './batch-types';
export { openBatch } from './batch-ledger';
export { readBatch } from './batch-files';
export { BatchRejected, deliverBatch, deliveryRequest } from './delivery';
export { verifyBatch } from './batch-verify';
export type { Verification } from './batch-verify';

const FIRST_LOAD_MODULE = path.join(__dirname, `first-load${path.extname(__filename)}`);
let threads: ThreadPool | undefined;
/** The threads first loads run in: one per core (at most 4), made when first needed. */
function reportThreads(): ThreadPool {
  return (threads ??= new ThreadPool());
}

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
 * Step 1 is here (a first load in first-load.ts), step 2 in delivery.ts, step 3 in batch-verify.ts; the
 * province's ledger in batch-ledger.ts, the outbox's files in batch-files.ts.
 *
 * A crash before step 1 commits leaves nothing behind (the next attempt takes a new snapshot; a file
 * written for an uncommitted batch is overwritten under the same sequence); after it, the ledger says
 * which step to resume.
 */
export async function ensureReportSchema(ctx: ReportContext): Promise<void> {
  await withClient(ctx.provinceUrl, (p) => ensureProvinceSchema(p, ctx.spec.tables));
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
      // in a worker thread: the rows' bytes are made ready there, while this thread serves the other lanes
      const sequence = await nextSequence();
      return reportThreads().run<PrepareResult>(FIRST_LOAD_MODULE, 'prepareFirstLoadAlone', { ctx, table: table.name, sequence });
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
        const held = await provinceLinesOf(province, table, good.map((g) => g.key));
        batchRows = good.filter((g) => {
          const k = held.get(g.key);
          const same = g.op === 'D' ? k === undefined || k.endsWith('\tD') : k === `${g.line}\t${g.op}`;
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
        const copyIn = `COPY ${quoteIdent(table.name)} (${cols}, _report_op, _report_batch) FROM STDIN`;
        await pipeline(Readable.from(chunked(upserts.map((r) => `${r.line}\t${r.op}\t${batchField}\n`))), province.query(copyFrom(copyIn)));
      } else if (upserts.length) {
        await province.query(`CREATE TEMP TABLE report_stage (LIKE ${quoteIdent(table.name)} INCLUDING DEFAULTS) ON COMMIT DROP`);
        const copyIn = `COPY report_stage (${cols}, _report_op, _report_batch) FROM STDIN`;
        const lines = upserts.map((r) => `${r.line}\t${r.op}\t${batchField}\n`);
        await pipeline(Readable.from(chunked(lines)), province.query(copyFrom(copyIn)));
        const set = [...names.filter((n) => n !== table.key), '_report_op', '_report_batch', '_report_at'].map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`).join(', ');
        await province.query(
          `INSERT INTO ${quoteIdent(table.name)} (${cols}, _report_op, _report_batch, _report_at) SELECT ${cols}, _report_op, _report_batch, now() FROM report_stage ON CONFLICT (${quoteIdent(table.key)}) DO UPDATE SET ${set}`,
        );
      }
      if (deletes.length) {
        const where = `${quoteIdent(table.key)}::text = ANY($1::text[])`;
        if (table.deletes.province === 'delete') await province.query(`DELETE FROM ${quoteIdent(table.name)} WHERE ${where}`, [deletes]);
        else await province.query(`UPDATE ${quoteIdent(table.name)} SET _report_op = 'D', _report_batch = $2, _report_at = now() WHERE ${where}`, [deletes, batchId]);
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

/** One table through all three steps, resuming whatever the ledger says is open. */
export async function runTableCycle(ctx: ReportContext, table: string): Promise<{ table: string; batchId?: string; state: BatchState | 'empty'; rows: number; rejected: number; verification?: Verification }> {
  let p = await prepareBatch(ctx, table);
  const batchId = p.open?.batchId ?? p.batchId;
  if (!batchId) return { table, state: 'empty', rows: 0, rejected: p.rejected };
  const state: BatchState = p.open?.state ?? 'applied';
  if (state === 'rejected') return { table, batchId, state, rows: p.rows, rejected: p.rejected };
  let delivery: Promise<BatchState> | undefined;
  const reads = new BatchReads(ctx);
  if (state === 'applied') {
    // Step 2 and step 3's reading side by side (the file read and hashed once): the verification settles only after the upload has ended.
    delivery = deliverBatch(ctx, batchId, reads).then((d) => d.state);
    delivery.catch(() => undefined); // awaited by verifyBatch; a failure there fails this attempt
  }
  const v = await verifyBatch(ctx, batchId, delivery, reads);
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

/**
 * What the province holds for these keys, as its COPY text (items, then the op; binary strings, the same
 * bytes a ready row's line has): a row the cycle re-read is news only when its line differs.
 */
async function provinceLinesOf(province: Client, table: ReportTable, keys: string[]): Promise<Map<string, string>> {
  await loadTempKeys(province, keys);
  const names = table.items.map((i) => i.name);
  const k = `p.${quoteIdent(table.key)}`;
  const sql = `COPY (SELECT ${k}::text, ${names.map((n) => `p.${quoteIdent(n)}`).join(', ')}, p._report_op FROM ${quoteIdent(table.name)} p JOIN pg_temp.report_keys r ON r.key = ${k}::text) TO STDOUT`;
  const held = new Map<string, string>();
  for await (const lines of copyBinaryLines(province, sql)) {
    for (const line of lines) {
      if (!line) continue;
      const tab = line.indexOf('\t');
      const raw = line.slice(0, tab);
      held.set(textOf(raw.indexOf('\\') === -1 ? raw : decodeField(raw)!), line.slice(tab + 1));
    }
  }
  return held;
}
