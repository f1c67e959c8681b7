import { createHash, Hash } from 'node:crypto';
import type { Client } from 'pg';
import { copyTo } from '../lib/copy-to';
import { inTransaction, quoteIdent, withClient } from '../lib/db';
import { literal } from '../migration/pg-source';
import { encodeField, textOf } from '../migration/copy-text';
import type { NationalLine } from './batch-format';
import { copyBinaryLines, extractionSql, loadTempKeys, prepareRegistrySession, Selection } from './extract';
import { compileRowReady, splitExtracted } from './rows';
import type { ReportSpec, ReportTable } from './spec';
import { registryUnchangedSince, SourceCounts } from './source-check';

/**
 * 数据汇聚/上报结果验证, first pass: the batch's rows as three streams of canonical lines (items in COPY
 * text, then the op), each in code-point key order, each hashed as it streams — the delivered file
 * (parsed back), the province (its COPY TO output hashed as bytes, never parsed) and the registry now
 * (re-extracted, through the same converter). A first load is checked without parsing or re-reading:
 * its province lines' digest was made as they were sent (the file's SHA-256 matching the ledger's ties
 * the file to the same rows), the province prints them back byte for byte, and the registry is unchanged
 * since its snapshot (source-check.ts); anything else there and it goes the general way. Equal digests
 * and counts, the deletions absent (or tombstoned) at the province and gone from the registry, no row
 * changed again since: verified, without holding a row per key. Anything else answers `undefined` and
 * the caller compares key by key, which names the differing keys (the verification module's order:
 * segment checksums first, rows only where they differ).
 */
export interface StreamVerification {
  /** how the three were shown equal: a first load's digests against an unchanged registry, or the three streams */
  via: 'snapshot' | 'streams';
  counts: { batch: number; province: number; source: number; sourceMovedOn: number };
  sha256: { batch: string; province: string; source: string };
}

/** Binary strings (copy-text.ts) hashed as their bytes, in runs: one update per row costs more than the hashing. */
class LineHash {
  private readonly hash: Hash = createHash('sha256');
  private parts: string[] = [];
  rows = 0;
  add(line: string): void {
    this.parts.push(line);
    this.rows++;
    if (this.parts.length >= 4096) this.flush();
  }
  private flush(): void {
    if (this.parts.length) this.hash.update(this.parts.join(''), 'latin1');
    this.parts = [];
  }
  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }
}

/** A \u escape the batch writer never makes (it escapes control characters only): its text is not its bytes. */
const WIDE_ESCAPE = /\\u(?!00[01][0-9a-fA-F])/;

export async function verifyByStreams(input: {
  province: Client;
  registryUrl: string;
  spec: ReportSpec;
  table: ReportTable;
  batchId: string;
  kind: string;
  toXid: string;
  /** the delivered batch file's bytes (their SHA-256 checked against the manifest and the ledger) */
  bytes: Buffer;
  /**
   * a first load's ledger: the digest of its province lines as sent (items, op; rows.ts gives a
   * row's JSON line and its province line from the same values, and the property test holds them to the
   * text path) and the count of every registry table in its snapshot
   */
  firstLoad?: { canonicalSha256: string; rows: number; sourceCounts: SourceCounts };
}): Promise<StreamVerification | undefined> {
  if (input.kind === 'full' && input.firstLoad) {
    const quick = await verifyFirstLoad(input.province, input.registryUrl, input.table, input.batchId, input.toXid, input.firstLoad);
    if (quick) return quick;
  }
  const { province, table, batchId } = input;
  const names = table.items.map((i) => i.name);
  // The delivered batch, in the order it was written (code-point key order, checked), read as a binary
  // string: JSON.parse hands back each value's UTF-8 bytes, which are what the canonical line hashes.
  const batch = new LineHash();
  const keys: string[] = [];
  const deleted: string[] = [];
  const content = input.bytes.toString('latin1');
  let previous: string | undefined;
  for (let at = 0; at < content.length; ) {
    let end = content.indexOf('\n', at);
    if (end === -1) end = content.length;
    const l = content.slice(at, end);
    at = end + 1;
    if (!l) continue;
    if (l.indexOf('\\u') !== -1 && WIDE_ESCAPE.test(l)) return undefined;
    const r = JSON.parse(l) as NationalLine;
    // binary strings: byte order is code-point order
    if (previous !== undefined && previous >= r.key) return undefined;
    previous = r.key;
    keys.push(r.key);
    if (r.op === 'D') deleted.push(textOf(r.key));
    else {
      let line = '';
      for (let i = 0; i < names.length; i++) line += (i ? '\t' : '') + encodeField(r.data![names[i]] ?? null);
      batch.add(line + '\t' + r.op + '\n');
    }
  }

  // The province: the rows this batch wrote, as COPY prints them, hashed as bytes.
  const cols = names.map((n) => `p.${quoteIdent(n)}`).join(', ');
  const key = `p.${quoteIdent(table.key)}`;
  const provinceHash = createHash('sha256');
  let provinceRows = 0;
  const sql = `COPY (SELECT ${cols}, p._report_op FROM ${quoteIdent(table.name)} p WHERE p._report_batch = ${literal(batchId)} AND p._report_op <> 'D' ORDER BY ${key}::text COLLATE "C") TO STDOUT`;
  for await (const chunk of province.query(copyTo(sql)) as AsyncIterable<Buffer>) {
    provinceHash.update(chunk);
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) provinceRows++;
  }
  if (deleted.length) {
    const stillThere = table.deletes.province === 'delete' ? 'true' : `(p._report_op <> 'D' OR p._report_batch <> $2)`;
    const { rows } = await province.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${quoteIdent(table.name)} p WHERE ${key}::text = ANY($1::text[]) AND ${stillThere}`,
      table.deletes.province === 'delete' ? [deleted] : [deleted, batchId],
    );
    if (rows[0].n) return undefined;
  }

  const provinceSha = provinceHash.digest('hex');
  // The registry now, through the converter: a first full batch against the whole table (one scan, rows the
  // converter rejects are the held ones and not in the batch), any other for the batch's keys.
  const { canonical } = compileRowReady(input.spec, table);
  const source = new LineHash();
  let movedOn = 0;
  let gone = 0;
  let read = 0;
  const whole = input.kind === 'full' && !deleted.length;
  const ok = await withClient(input.registryUrl, async (registry) => {
    await prepareRegistrySession(registry);
    return inTransaction(
      registry,
      async () => {
        if (!whole) await loadTempKeys(registry, keys.map(textOf));
        const toXid = BigInt(input.toXid);
        const sel: Selection = whole ? { kind: 'full', versionsFrom: input.toXid } : { kind: 'keys' };
        for await (const lines of copyBinaryLines(registry, extractionSql(table, sel))) {
          for (const line of lines) {
            const raw = splitExtracted(line);
            read++;
            if (raw.version !== null && BigInt(raw.version) >= toXid) movedOn++;
            else if (!raw.present) gone++;
            else {
              const c = canonical(raw);
              if (c === undefined) {
                if (whole) continue;
                return false;
              }
              source.add(c!);
            }
          }
        }
        return whole || read === keys.length;
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ',
    );
  });
  if (!ok || movedOn || gone !== deleted.length) return undefined;
  const b = { digest: batch.digest(), rows: batch.rows, keys: keys.length };
  const sha256 = { batch: b.digest, province: provinceSha, source: source.digest() };
  if (sha256.batch !== sha256.province || sha256.batch !== sha256.source || b.rows !== provinceRows || b.rows !== source.rows) return undefined;
  return { via: 'streams', counts: { batch: b.keys, province: provinceRows + deleted.length, source: b.keys, sourceMovedOn: 0 }, sha256 };
}

/**
 * A first load's batch: its province lines read back as COPY prints them (items, op), hashed as
 * bytes and compared with the digest made as they were sent, while the registry is checked unchanged since
 * the snapshot (source-check.ts), two databases side by side. Read in the table's physical order: the load
 * wrote the rows in key order into a table it had emptied, and a scan that starts at its first page reads
 * them back in that order, without a sort; a table in any other order gives another digest, and the caller
 * then goes the general way (sorted, parsed, key by key). `undefined`: not shown equal this way.
 */
async function verifyFirstLoad(
  province: Client,
  registryUrl: string,
  table: ReportTable,
  batchId: string,
  toXid: string,
  made: { canonicalSha256: string; rows: number; sourceCounts: SourceCounts },
): Promise<StreamVerification | undefined> {
  const unchanged = registryUnchangedSince(registryUrl, toXid, made.sourceCounts);
  unchanged.catch(() => undefined); // awaited below, after the province's read-back (a failure there comes first)
  const cols = table.items.map((i) => `p.${quoteIdent(i.name)}`).join(', ');
  const hash = createHash('sha256');
  let rows = 0;
  // one scan from the table's first page: not one joining another under way (it would start where that one
  // is), nor a parallel one (its workers' pages come interleaved)
  await province.query('SET synchronize_seqscans = off');
  await province.query('SET max_parallel_workers_per_gather = 0');
  try {
    const sql = `COPY (SELECT ${cols}, p._report_op FROM ${quoteIdent(table.name)} p WHERE p._report_batch = ${literal(batchId)} AND p._report_op <> 'D') TO STDOUT`;
    for await (const chunk of province.query(copyTo(sql)) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
    }
  } finally {
    await province.query('RESET synchronize_seqscans');
    await province.query('RESET max_parallel_workers_per_gather');
  }
  const sha = hash.digest('hex');
  if (!(await unchanged) || sha !== made.canonicalSha256 || rows !== made.rows) return undefined;
  return { via: 'snapshot', counts: { batch: rows, province: rows, source: rows, sourceMovedOn: 0 }, sha256: { batch: made.canonicalSha256, province: sha, source: made.canonicalSha256 } };
}
