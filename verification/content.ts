import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Client } from 'pg';
import { decodeLine } from '../migration/copy-text';
import { KeyCollate, sourceKeyAs } from '../migration/key-order';
import type { Mapping, TableMapping } from '../migration/mapping';
import { dialectOf, ensureIndex, render, run } from '../lib/dialect';
import { findTable, isComposite, isKeyless, keyColumn } from '../migration/mapping';
import { compareKeylessTable } from './keyless';
import { fieldsKey, keyIndexes, sourceKeyTupleRange } from '../migration/composite-key';
import { literal } from '../migration/pg-source';
import type { Chunk, SourceAdapter } from '../migration/source';
import { readSource, sourceSide } from './source-side';
import type { SourceThreadPool } from './source-threads';
import { compareKeys, copyOut, DifferenceKind, fieldDifferences, KeyRange, rangeWhere, RowDifference, targetRangeCopySql } from './canonical';

/**
 * 全量内容校验 Full-content verification of one key-range segment of one table: a sha256 over the
 * canonical lines (verification/canonical.ts) on each side — the source read through the adapter and
 * the mapping's transform, the target with COPY TO STDOUT, both read at once. Equal hashes and counts
 * prove the segment. On a mismatch the segment is read again on both sides, rows are matched by key,
 * and every differing row is reported with its key and field-level differences (capped, with totals).
 * Rows the migration quarantined are expected to be absent from the target: they are not differences.
 */
// A row's difference is defined beside the canonical form (canonical.ts): source-side.ts needs it too.
export type { DifferenceKind, RowDifference } from './canonical';

export interface SegmentResult {
  table: string;
  segmentId: string;
  keyFrom: string | null;
  keyTo: string | null;
  /** source rows that must be in the target (transform ok, not quarantined) */
  sourceRows: number;
  /** source rows the migration quarantined: expected absent */
  quarantinedRows: number;
  targetRows: number;
  sourceSha256: string;
  targetSha256: string;
  ok: boolean;
  differenceTotals: Partial<Record<DifferenceKind, number>>;
  /** the first differences, capped */
  differences: RowDifference[];
  durationMs: number;
  /** 整改 rows loaded by approved corrections (migration_remediation): they differ from the legacy on purpose, and are not differences */
  corrected?: number;
}

export const DIFFERENCE_CAP = 50;

/**
 * 整改 The keys of a table that approved corrections loaded (the remediation loop, activities/remediation.ts):
 * such a row differs from the legacy on purpose (its legacy value broke a rule), so what the comparison finds on
 * it is the correction, not a difference. Empty where no correction ever ran.
 */
/**
 * 整改 Keys an approved correction loaded, each with the target columns it may have changed (null: any — a
 * record from before the columns were kept).
 */
export type CorrectedKeys = Map<string, ReadonlySet<string> | null>;

/**
 * What an approved correction explains on its key: the legacy row still breaks its rule (the source side cannot
 * deliver it, unaccounted), the target holds the corrected row (extra to what the source gives) or holds it with
 * the corrected values (changed — in the columns the correction may change, and no other). A corrected row absent
 * from the target, held and loaded at once, or changed elsewhere, is a difference like any other.
 */
export function explainedByCorrection(d: RowDifference, corrected: CorrectedKeys): boolean {
  if (!corrected.has(d.key)) return false;
  if (d.kind === 'unaccounted_source_row' || d.kind === 'extra_in_target') return true;
  if (d.kind !== 'changed') return false;
  const columns = corrected.get(d.key);
  // a change not told by its fields (a row now under another entity) is not one a field correction explains
  return columns === null || (!!d.fields?.length && d.fields.every((f) => columns!.has(f.column)));
}

export async function correctedKeys(target: Client, table: TableMapping): Promise<CorrectedKeys> {
  const [exists] = await run<{ ok: boolean }>(target, render(dialectOf(target), 'relationExists', {}, ['migration_remediation']));
  if (exists?.ok !== true) return new Map();
  const { rows: kept } = await target.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'migration_remediation' AND column_name = 'columns'`);
  const { rows } = await target.query<{ k: string; columns: string | null }>(
    `SELECT source_key AS k, ${kept.length ? 'columns' : 'NULL::text AS columns'} FROM migration_remediation WHERE table_name = $1 AND followed IS NULL`,
    [table.name],
  );
  const out: CorrectedKeys = new Map();
  for (const r of rows) {
    // a key corrected more than once (in several runs) may differ in any column one of them corrected
    const before = out.get(r.k);
    if (before === null) continue;
    const columns = r.columns === null ? null : (JSON.parse(r.columns) as string[]);
    out.set(r.k, columns === null ? null : new Set([...(before ?? []), ...columns]));
  }
  return out;
}

interface SegmentInput {
  source: SourceAdapter;
  /** a target session prepared with prepareTargetSession */
  target: Client;
  /** what prepareTargetSession returned for that session */
  keyCollate: KeyCollate;
  mapping: Mapping;
  table: TableMapping;
  segment: Chunk;
  readPoint: string | null;
  onProgress?: (rows: number) => void;
  /** run the source side on these threads rather than this one */
  sourceThreads?: SourceThreadPool;
}

/**
 * Keys the migration quarantined in a key range of a table (compared in the table's key order). A key with
 * no place in the order (NULL, a text under numeric order) belongs to the last range, as on the legacy
 * side; a NULL key is held as '' (the source side reads a NULL key so).
 */
export async function quarantinedKeys(target: Client, table: TableMapping, range: KeyRange, collate: KeyCollate): Promise<Map<string, string>> {
  const where = isComposite(table) ? sourceKeyTupleRange(table, 'source_key', range, literal, collate) : rangeWhere(sourceKeyAs(table, 'source_key', collate), range, { nullable: true });
  const { rows } = await target.query<{ source_key: string | null; rule: string }>(
    `SELECT source_key, rule FROM migration_quarantine WHERE table_name = $1 AND ${where}`,
    [table.name],
  );
  return new Map(rows.map((r) => [r.source_key ?? '', r.rule]));
}

/**
 * The content pass's segments, every table planned at once, always as key ranges (a ROWID chunk cannot be
 * compared with the target's keys): planning waits on the legacy database (a
 * block sample per table), and planning one table after another held up the whole pass.
 */
export async function planSegments(source: SourceAdapter, mapping: Mapping, tables: string[], segmentRows: number): Promise<{ table: string; segment: Chunk }[]> {
  const planned = await Promise.all(tables.map((name) => source.planChunks(findTable(mapping, name), segmentRows, undefined, { byKey: true })));
  return planned.flatMap((segments, i) => segments.map((segment) => ({ table: tables[i], segment })));
}

/** The index quarantinedKeys needs, so a segment does not scan the whole quarantine; idempotent. */
export async function ensureVerificationIndexes(target: Client): Promise<void> {
  await ensureIndex(target, 'migration_quarantine_key', 'migration_quarantine', ['table_name', 'source_key']);
}

export async function verifySegment(input: SegmentInput): Promise<SegmentResult> {
  const started = Date.now();
  const { target, table, segment } = input;
  if (isKeyless(table)) return verifyKeyless(input, started);
  const quarantined = await quarantinedKeys(target, table, segment, input.keyCollate);
  const sourceSideDone = input.sourceThreads
    ? input.sourceThreads.run({ table: table.name, segment, readPoint: input.readPoint, quarantined: [...quarantined] }, input.onProgress)
    : sourceSide(input, quarantined, input.onProgress);
  // The target's bytes are hashed as they arrive, never decoded: the canonical form is what COPY prints.
  // Its rows are not counted here: equal hashes mean equal bytes, hence as many rows (each ends in the one
  // unescaped LF); unequal ones send the segment to the row diff, which counts them.
  const targetHash = createHash('sha256');
  const targetSide = (async () => {
    for await (const chunk of copyOut(target, targetRangeCopySql(table, segment, input.keyCollate)) as AsyncIterable<Buffer>) targetHash.update(chunk);
  })();
  const [src] = await Promise.all([sourceSideDone, targetSide]);
  const unaccounted = src.unaccounted;
  const targetSha256 = targetHash.digest('hex');
  const sameBytes = src.sha256 === targetSha256;

  const result: SegmentResult = {
    table: table.name,
    segmentId: segment.id,
    keyFrom: segment.keyFrom,
    keyTo: segment.keyTo,
    sourceRows: src.rows,
    quarantinedRows: src.quarantined,
    targetRows: src.rows,
    sourceSha256: src.sha256,
    targetSha256,
    ok: false,
    differenceTotals: {},
    differences: [],
    durationMs: 0,
  };
  const diff = sameBytes ? { differences: [], targetRows: src.rows } : await diffSegment(input, quarantined);
  result.targetRows = diff.targetRows;
  let found = [...unaccounted, ...diff.differences];
  if (found.length) {
    const corrected = await correctedKeys(target, table);
    const keys = new Set(found.filter((d) => explainedByCorrection(d, corrected)).map((d) => d.key));
    if (keys.size) result.corrected = keys.size;
    found = found.filter((d) => !explainedByCorrection(d, corrected));
  }
  result.ok = found.length === 0;
  if (!result.ok) {
    for (const d of found) {
      result.differenceTotals[d.kind] = (result.differenceTotals[d.kind] ?? 0) + 1;
      if (result.differences.length < DIFFERENCE_CAP) result.differences.push(d);
    }
  }
  result.durationMs = Date.now() - started;
  return result;
}

/** 无键表 A keyless table's one segment (the whole table), compared as a multiset (keyless.ts). */
async function verifyKeyless(input: SegmentInput, started: number): Promise<SegmentResult> {
  const { table, segment } = input;
  const c = await compareKeylessTable(input);
  const differenceTotals: Partial<Record<DifferenceKind, number>> = {};
  // a row counted n times more on one side is n differences
  for (const d of c.differences) differenceTotals[d.kind] = (differenceTotals[d.kind] ?? 0) + (d.count ? Math.abs(d.count.source - d.count.target) : 1);
  return {
    table: table.name,
    segmentId: segment.id,
    keyFrom: segment.keyFrom,
    keyTo: segment.keyTo,
    sourceRows: c.sourceRows,
    quarantinedRows: c.quarantinedRows,
    targetRows: c.targetRows,
    sourceSha256: c.sourceSha256,
    targetSha256: c.targetSha256,
    ok: c.differences.length === 0,
    differenceTotals,
    differences: c.differences.slice(0, DIFFERENCE_CAP),
    durationMs: Date.now() - started,
  };
}

/**
 * The rows behind a mismatching segment: both sides read again into key → line maps and matched by
 * key, so a difference is named however the two sides happen to order their rows.
 */
export async function diffSegment(input: SegmentInput, quarantined: Map<string, string>): Promise<{ differences: RowDifference[]; targetRows: number }> {
  const { target, table, segment } = input;
  const sourceLines = new Map<string, string>();
  await readSource(input, quarantined, { batch: () => undefined, line: (k, l) => sourceLines.set(k, l), unaccounted: () => undefined });
  const keyIndex = table.columns.indexOf(keyColumn(table));
  const composite = isComposite(table) ? keyIndexes(table) : null;
  const targetLines = new Map<string, string>();
  const targetOrder: string[] = [];
  let rest = '';
  // A character may span two chunks: the decoder holds its first bytes back.
  const utf8 = new StringDecoder('utf8');
  for await (const chunk of copyOut(target, targetRangeCopySql(table, segment, input.keyCollate)) as AsyncIterable<Buffer>) {
    const text = rest + utf8.write(chunk);
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      const fields = decodeLine(l);
      const key = composite ? fieldsKey(fields, composite) : fields[keyIndex] ?? '';
      targetLines.set(key, l + '\n');
      targetOrder.push(key);
    }
  }
  const out: RowDifference[] = [];
  for (const [key, line] of sourceLines) {
    const t = targetLines.get(key);
    if (t === undefined) out.push({ table: table.name, kind: 'missing_in_target', key, note: 'in the source, not quarantined, absent from the target' });
    else if (t !== line) out.push({ table: table.name, kind: 'changed', key, fields: fieldDifferences(table, line, t) });
  }
  for (const key of targetLines.keys()) {
    if (sourceLines.has(key)) continue;
    if (quarantined.has(key)) out.push({ table: table.name, kind: 'quarantined_but_loaded', key, note: `quarantined under ${quarantined.get(key)} yet present in the target` });
    else out.push({ table: table.name, kind: 'extra_in_target', key, note: 'in the target, not in the source' });
  }
  // Rows are matched by key: the same rows in another order are no difference (the hashes, which follow
  // the order, only sent the segment here).
  out.sort((a, b) => compareKeys(a.key, b.key));
  return { differences: out, targetRows: targetOrder.length };
}

/** A segment's key range as people read it. */
export function describeSegment(s: Pick<SegmentResult, 'keyFrom' | 'keyTo'>): string {
  return `(${s.keyFrom ?? '−∞'}, ${s.keyTo ?? '+∞'}]`;
}
