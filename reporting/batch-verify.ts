import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import { inTransaction, quoteIdent, withClient } from '../lib/db';
import { encodeRow } from '../migration/copy-text';
import { compareKeys } from '../verification/canonical';
import { NationalLine, opOf } from './batch-format';
import { compileConverter } from './convert';
import { copyLines, extractRows, loadTempKeys, prepareRegistrySession, REPORT_SESSION } from './extract';
import { verifyByStreams } from './verify-stream';
import type { BatchRow, BatchState, ReportContext } from './batch-types';
import { BatchReads, readHashed } from './batch-files';
import { advanceWatermark } from './batch-ledger';

export interface Verification {
  batchId: string;
  ok: boolean;
  /** how: a first load's digests against an unchanged registry, three streams' digests, or key by key */
  via: 'snapshot' | 'streams' | 'keys';
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
export async function verifyBatch(ctx: ReportContext, batchId: string, delivery?: Promise<unknown>, reads?: BatchReads): Promise<Verification & { state: BatchState }> {
  return withClient(ctx.provinceUrl, async (province) => {
    for (const s of REPORT_SESSION) await province.query(s);
    const ledgerRow = async () => (await province.query<BatchRow>('SELECT * FROM report_batch WHERE batch_id = $1', [batchId])).rows[0];
    const b = await ledgerRow();
    if (!b) throw new Error(`no batch ${batchId} in the ledger`);
    // Compared while the upload runs (the file does not change by being sent); decided once it has ended.
    const settle = async (result: Verification, differing = 0) => settleVerification(province, delivery ? ((await delivery), await ledgerRow()) : b, result, differing);
    const table = ctx.spec.tables.find((t) => t.name === b.table_name)!;
    const { manifest, bytes, sha256 } = await (reads ? reads.get(b) : readHashed(ctx, b));
    const names = table.items.map((i) => i.name);
    // First the three streams' digests; key by key only when they differ (to name the keys).
    const fileOk = sha256 === manifest.sha256;
    const streams = fileOk ? await verifyByStreams({ province, registryUrl: ctx.registryUrl, spec: ctx.spec, table, batchId, kind: b.kind, toXid: b.to_xid, bytes, firstLoad: b.canonical_sha256 && b.source_counts && !Number(b.deletes) ? { canonicalSha256: b.canonical_sha256, rows: Number(b.rows), sourceCounts: b.source_counts } : undefined }) : undefined;
    if (streams && streams.counts.batch === manifest.rows) return settle({ batchId, ok: true, ...streams, differingKeys: [] });
    const content = bytes.toString('utf8');
    const convert = compileConverter(ctx.spec, table);
    const differing: { key: string; where: string }[] = [];
    // The delivered batch, as canonical lines by key.
    const batchLines = new Map<string, string>();
    const deleted = new Set<string>();
    if (!fileOk) differing.push({ key: '*', where: 'the batch file does not match its manifest SHA-256' });
    for (const [i, l] of content.split('\n').entries()) {
      if (!l) continue;
      let r: NationalLine;
      try {
        r = JSON.parse(l) as NationalLine;
      } catch {
        differing.push({ key: '*', where: `line ${i + 1} of the batch file is not JSON` });
        continue;
      }
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
      via: 'keys',
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
