import { createHash, Hash } from 'node:crypto';
import type { Client } from 'pg';
import { copyTo } from '../lib/copy-to';
import { inTransaction, quoteIdent, withClient } from '../lib/db';
import { literal } from '../migration/pg-source';
import { compareKeys } from '../verification/canonical';
import { canonicalLine, NationalLine, opOf } from './batch-format';
import type { Converter } from './convert';
import { extractRows, loadTempKeys, prepareRegistrySession } from './extract';
import type { ReportTable } from './spec';

/**
 * 数据汇聚/上报结果验证, first pass: the batch's rows as three streams of canonical lines (items in COPY
 * text, then the op), each in code-point key order, each hashed as it streams — the delivered file
 * (parsed back), the province (its COPY TO output hashed as bytes, never parsed) and the registry now
 * (re-extracted, through the same converter). Equal digests and counts, the deletions absent (or
 * tombstoned) at the province and gone from the registry, no row changed again since: verified, without
 * holding a row per key. Anything else answers `undefined` and the caller compares key by key, which
 * names the differing keys (the verification module's order: segment checksums first, rows only where
 * they differ).
 */
export interface StreamVerification {
  counts: { batch: number; province: number; source: number; sourceMovedOn: number };
  sha256: { batch: string; province: string; source: string };
}

/** Strings hashed in runs: one update per row costs more than the hashing. */
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
    if (this.parts.length) this.hash.update(this.parts.join(''), 'utf8');
    this.parts = [];
  }
  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }
}

export async function verifyByStreams(input: {
  province: Client;
  registryUrl: string;
  table: ReportTable;
  batchId: string;
  toXid: string;
  content: string;
  convert: Converter;
}): Promise<StreamVerification | undefined> {
  const { province, table, batchId } = input;
  const names = table.items.map((i) => i.name);
  // The delivered batch, in the order it was written (code-point key order, checked).
  const batch = new LineHash();
  const keys: string[] = [];
  const deleted: string[] = [];
  let previous: string | undefined;
  for (let at = 0; at < input.content.length; ) {
    let end = input.content.indexOf('\n', at);
    if (end === -1) end = input.content.length;
    const l = input.content.slice(at, end);
    at = end + 1;
    if (!l) continue;
    const r = JSON.parse(l) as NationalLine;
    if (previous !== undefined && compareKeys(previous, r.key) >= 0) return undefined;
    previous = r.key;
    keys.push(r.key);
    if (r.op === 'D') deleted.push(r.key);
    else batch.add(canonicalLine(names.map((n) => r.data![n] ?? null), r.op));
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

  // The registry now, for the batch's keys, through the converter.
  const source = new LineHash();
  let movedOn = 0;
  let gone = 0;
  const ok = await withClient(input.registryUrl, async (registry) => {
    await prepareRegistrySession(registry);
    const rows = await inTransaction(
      registry,
      async () => {
        await loadTempKeys(registry, keys);
        return extractRows(registry, table, { kind: 'keys' });
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ',
    );
    const toXid = BigInt(input.toXid);
    for (const r of rows) {
      if (r.version !== null && BigInt(r.version) >= toXid) movedOn++;
      else if (!r.present) gone++;
      else {
        const c = input.convert(r.fields);
        if (!c.ok) return false;
        source.add(canonicalLine(c.fields, opOf(table, r, c.fields)));
      }
    }
    return rows.length === keys.length;
  });
  if (!ok || movedOn || gone !== deleted.length) return undefined;
  const sha256 = { batch: batch.digest(), province: provinceHash.digest('hex'), source: source.digest() };
  if (sha256.batch !== sha256.province || sha256.batch !== sha256.source || batch.rows !== provinceRows || batch.rows !== source.rows) return undefined;
  return { counts: { batch: keys.length, province: provinceRows + deleted.length, source: keys.length, sourceMovedOn: 0 }, sha256 };
}
