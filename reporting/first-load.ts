import { createHash } from 'node:crypto';
import path from 'node:path';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Client } from 'pg';
import { copyTo } from '../lib/copy-to';
import { literal } from '../migration/pg-source';
import { inTransaction, quoteIdent, withClient } from '../lib/db';
import { EncodedRun, FirstLoadEncoder } from './batch-encoder';
import { extractionSql, prepareRegistrySession, REPORT_SESSION } from './extract';
import type { ReportTable } from './spec';
import type { Manifest, PrepareResult, ReportContext } from './batch-types';
import { batchFile, writeDurably, writeDurablyAsync } from './batch-files';
import { advanceWatermark, batchIdOf, holdRejected, openBatch } from './batch-ledger';
import { joinedCounts, SourceCounts } from './source-check';

/**
 * The same on a province session of its own, its transaction included: what a worker thread runs
 * (batch.ts), with everything it needs passed as data.
 */
export async function prepareFirstLoadAlone(input: { ctx: ReportContext; table: string; sequence: number }): Promise<PrepareResult> {
  const table = input.ctx.spec.tables.find((t) => t.name === input.table);
  if (!table) throw new Error(`no reported table "${input.table}" in ${input.ctx.spec.file}`);
  return withClient(input.ctx.provinceUrl, async (province) => {
    for (const s of REPORT_SESSION) await province.query(s);
    return inTransaction(province, () => prepareFirstLoad(input.ctx, province, table, input.sequence));
  });
}

/**
 * Step 1 for a first load, in its province transaction: the lock and the ledger checked first, then the
 * registry's rows streamed as they are made ready, in runs of bytes, into one COPY into the empty table
 * (the province writes while the registry reads and this thread converts), the file's and the province
 * lines' digests made on the way; then the file, the held rows and the ledger row — what prepareBatch's
 * general path makes for the same rows, without holding a row as an object. The ledger also keeps the
 * row count of every registry table read, in the extraction's snapshot: the verification tells from them
 * that the registry is unchanged since, without reading it again (source-check.ts).
 */
export async function prepareFirstLoad(ctx: ReportContext, province: Client, table: ReportTable, sequence: number): Promise<PrepareResult> {
  await province.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`jm-report-table:${table.name}`]);
  const again = await openBatch(province, table.name);
  const wm = (await province.query<{ xid: string }>('SELECT xid FROM report_watermark WHERE table_name = $1', [table.name])).rows[0];
  const { rows: check } = await province.query<{ empty: boolean; n: string }>(
    `SELECT NOT EXISTS (SELECT 1 FROM ${quoteIdent(table.name)}) AS empty, (SELECT coalesce(max(sequence), 0) + 1 FROM report_batch WHERE table_name = $1) AS n`,
    [table.name],
  );
  if (again || wm || !check[0].empty || Number(check[0].n) !== sequence) throw new Error(`${table.name}: another cycle prepared a batch meanwhile; this attempt retries from the ledger`);
  const batchId = batchIdOf(table.name, sequence);
  const names = table.items.map((i) => i.name);
  const encoder = new FirstLoadEncoder(ctx.spec, table);
  const file: Buffer[] = [];
  const hash = createHash('sha256');
  // the province lines as sent (items, op: the canonical lines): what the province's COPY TO must print back, byte for byte
  const canonicalDigest = createHash('sha256');
  const toProvince = new PassThrough();
  // The table is empty (checked above, under the lock): truncated in this transaction, it takes the rows
  // frozen (COPY FREEZE: committed and visible to all, hint bits set as written), so the verification's
  // read-back does not set every tuple's hint bits and write every page out again. The truncation's lock
  // keeps other readers of the table waiting until the load commits (they saw it empty before).
  await province.query(`TRUNCATE ${quoteIdent(table.name)}`);
  // Its key index is built once the rows are in (one sort), not grown row by row: a third of the load's time.
  const pk = (await province.query<{ name: string }>(`SELECT conname AS name FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, [quoteIdent(table.name)])).rows[0]?.name;
  if (pk) await province.query(`ALTER TABLE ${quoteIdent(table.name)} DROP CONSTRAINT ${quoteIdent(pk)}`);
  // Every row's batch id is this batch's: the column's default while the rows go in, not a field of each line.
  await province.query(`ALTER TABLE ${quoteIdent(table.name)} ALTER COLUMN _report_batch SET DEFAULT ${literal(batchId)}`);
  const copyIn = `COPY ${quoteIdent(table.name)} (${names.map(quoteIdent).join(', ')}, _report_op) FROM STDIN WITH (FREEZE)`;
  const loaded = pipeline(toProvince, province.query(copyFrom(copyIn)));
  // The province COPY can fail while the rows are still coming (its connection ended, a value refused): the
  // extraction then stops at its next run of rows with that cause — it must not wait for a 'drain' that a
  // destroyed stream never emits (the load would hang for good, its activity still heartbeating).
  let copyFailed: Error | undefined;
  const failure = loaded.then(
    () => new Error(`${table.name}: the province COPY ended before every row was sent`),
    (err: Error) => err,
  );
  void failure.then((err) => (copyFailed = err));
  let snap: { xmin: string; now: Date; joined: SourceCounts };
  try {
    snap = await withClient(ctx.registryUrl, async (registry) => {
      await prepareRegistrySession(registry);
      return inTransaction(
        registry,
        async () => {
          const { rows: at } = await registry.query<{ xmin: string; now: Date }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, now() AS now');
          const joined = await joinedCounts(registry, table);
          // the batch is in code-point key order (binary strings: byte order), as the query sorts it; the
          // encoder refuses a row out of that order
          const put = async ({ province: sent, json }: EncodedRun) => {
            if (json.length) {
              hash.update(json);
              file.push(json);
            }
            if (!sent.length) return;
            canonicalDigest.update(sent);
            if (copyFailed) throw copyFailed;
            if (!toProvince.write(sent)) {
              const stopped = await Promise.race([once(toProvince, 'drain').then(() => undefined), failure]);
              if (stopped) throw stopped;
            }
          };
          for await (const chunk of registry.query(copyTo(extractionSql(table, { kind: 'full' }))) as AsyncIterable<Buffer>) await put(encoder.push(chunk));
          await put(encoder.end());
          return { xmin: at[0].xmin, now: at[0].now, joined };
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
  await province.query(`ALTER TABLE ${quoteIdent(table.name)} ALTER COLUMN _report_batch DROP DEFAULT`);
  if (pk) await province.query(`ALTER TABLE ${quoteIdent(table.name)} ADD CONSTRAINT ${quoteIdent(pk)} PRIMARY KEY (${quoteIdent(table.key)})`);
  const { rows, rejected, counts } = encoder;
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
    `INSERT INTO report_batch (batch_id, table_name, sequence, kind, from_xid, to_xid, window_from, window_to, rows, upserts, cancels, deletes, rejected, skipped, sha256, file, state, canonical_sha256, source_counts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'applied', $17, $18)`,
    [batchId, table.name, sequence, manifest.kind, null, snap.xmin, null, manifest.window.to, rows, counts.U, counts.C, counts.D, rejected.length, 0, manifest.sha256, path.relative(ctx.outboxDir, outFile), canonicalDigest.digest('hex'), JSON.stringify({ [table.source.table]: rows + rejected.length, ...snap.joined })],
  );
  return { table: table.name, batchId, rows, rejected: rejected.length, skipped: 0, empty: false };
}
