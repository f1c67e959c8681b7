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

/**
 * 数据汇聚/上报结果验证, first pass: the batch's rows as three streams of canonical lines (items in COPY
 * text, then the op), each in code-point key order, each hashed as it streams — the delivered file
 * (parsed back; a first load's digest made with its file, the file tied to it by its SHA-256), the
 * province (its COPY TO output hashed as bytes, never parsed) and the registry now (re-extracted, through
 * the same converter; a first load's read again by the same query and compared as bytes with what the load
 * read, converted by one scan of the table only when that differs). Equal digests and counts, the deletions absent (or
 * tombstoned) at the province and gone from the registry, no row changed again since: verified, without
 * holding a row per key. Anything else answers `undefined` and the caller compares key by key, which
 * names the differing keys (the verification module's order: segment checksums first, rows only where
 * they differ).
 */
export interface StreamVerification {
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
   * a first load's canonical digest and rows, made with its file from the same rows (rows.ts gives a row's
   * JSON line and canonical line from the same values; the property test holds them to the text path): the
   * file's SHA-256 matching the ledger's, it stands for the file, which is not parsed back
   */
  canonical?: { sha256: string; rows: number };
  /**
   * with `canonical`: the digest of the registry's extraction output as the first load read it. The same
   * query's output now, byte for byte the same, is the same rows, which the same converter makes the same
   * canonical lines: the registry side is then that digest, without converting the table again. Any
   * difference (a row changed since, through the change log or behind it) and the rows are converted and
   * compared as for any other batch.
   */
  sourceSha256?: string;
}): Promise<StreamVerification | undefined> {
  const { province, table, batchId } = input;
  const names = table.items.map((i) => i.name);
  // The delivered batch, in the order it was written (code-point key order, checked), read as a binary
  // string: JSON.parse hands back each value's UTF-8 bytes, which are what the canonical line hashes.
  const batch = new LineHash();
  const keys: string[] = [];
  const deleted: string[] = [];
  const made = input.kind === 'full' ? input.canonical : undefined;
  const content = made ? '' : input.bytes.toString('latin1');
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

  // The registry now: a first load's extraction read again as bytes, when it has their digest — on a session
  // of its own while the province is read back below (two databases, two cores); else (further down) through
  // the converter, a first full batch against the whole table (one scan, rows the converter rejects are the
  // held ones and not in the batch), any other for the batch's keys.
  const rereading: Promise<boolean> =
    made && input.sourceSha256
      ? withClient(input.registryUrl, async (registry) => {
          await prepareRegistrySession(registry);
          return inTransaction(
            registry,
            async () => {
              const h = createHash('sha256');
              for await (const chunk of registry.query(copyTo(extractionSql(table, { kind: 'full' }))) as AsyncIterable<Buffer>) h.update(chunk);
              return h.digest('hex') === input.sourceSha256;
            },
            'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
          );
        })
      : Promise.resolve(false);
  rereading.catch(() => undefined); // awaited below, after the province's read-back (a failure there comes first)

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

  const unchanged = await rereading;
  const provinceSha = provinceHash.digest('hex');
  if (unchanged && made) {
    const sha256 = { batch: made.sha256, province: provinceSha, source: made.sha256 };
    if (made.sha256 !== provinceSha || made.rows !== provinceRows) return undefined;
    return { counts: { batch: made.rows, province: provinceRows, source: made.rows, sourceMovedOn: 0 }, sha256 };
  }
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
  const fromFile = { digest: batch.digest(), rows: batch.rows, keys: keys.length };
  const b = made ? { digest: made.sha256, rows: made.rows, keys: made.rows } : fromFile;
  const sha256 = { batch: b.digest, province: provinceSha, source: source.digest() };
  if (sha256.batch !== sha256.province || sha256.batch !== sha256.source || b.rows !== provinceRows || b.rows !== source.rows) return undefined;
  return { counts: { batch: b.keys, province: provinceRows + deleted.length, source: b.keys, sourceMovedOn: 0 }, sha256 };
}
