import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import { decodeLine } from '../migration/copy-text';
import type { KeyCollate } from '../migration/key-order';
import type { Mapping, TableMapping } from '../migration/mapping';
import { isComposite, isKeyless, keyColumn, keyColumns } from '../migration/mapping';
import { fieldsKey, keyIndexes, keyMatchesSql, targetTupleOrder } from '../migration/composite-key';
import { literal, PostgresSource } from '../migration/pg-source';
import type { Chunk } from '../migration/source';
import { compareKeys, copyOut, fieldDifferences, KeyRange, targetRangeCopySql } from '../verification/canonical';
import { DIFFERENCE_CAP, planSegments, RowDifference } from '../verification/content';
import { lsnDiffBytes, ReplicationDialect } from './dialect';
import { primaryPosition, standbyReplay } from './health';

/**
 * 一致性检查 Primary vs standby, per key-range segment of each registry table, in the verification
 * module's canonical form (verification/canonical.ts: the target's COPY text, columns in mapping order,
 * keys in code-point order) and its SHA-256 per segment — the same checksum, applied to two copies of the
 * target instead of source-as-mapped vs target.
 *
 * A streaming standby cannot reproduce a snapshot of a primary that is being written to. So: the check
 * captures the primary's WAL position, waits until the standby replayed past it, and hashes both sides of
 * a segment at once. A segment that differs is read row by row and its differing keys are re-checked —
 * primary position captured again, standby caught up again, those rows read on both sides — up to
 * `recheckRounds` times: rows in flight clear, a row that differs on the standby side stays and is
 * reported with its segment, key and fields. Differences read as the verification's kinds with the
 * standby in the target's place: missing_in_target = on the primary, not the standby.
 */
export interface StandbySegmentResult {
  table: string;
  segmentId: string;
  keyFrom: string | null;
  keyTo: string | null;
  primaryRows: number;
  standbyRows: number;
  primarySha256: string;
  standbySha256: string;
  ok: boolean;
  /** the first pass differed and re-checks after catch-up cleared it (rows in flight, not a mismatch) */
  clearedOnRecheck: boolean;
  recheckRounds: number;
  differenceTotals: Partial<Record<RowDifference['kind'], number>>;
  differences: RowDifference[];
  durationMs: number;
}

/** The target table as the chunk planner's "source": the standby check plans on the primary's copy of it. */
export function onTarget(table: TableMapping): TableMapping {
  const columns = table.columns.map((c) => ({ ...c, source: c.target }));
  // 无键表 a keyless table: one segment, the whole table (compareKeyless)
  if (isKeyless(table)) return { ...table, source: { table: table.target.table, key: '', keyless: true }, columns };
  // the columns are read by their target names there: a key the mapping renames (bgid → altid) is found, and a
  // composite key (复合主键) keeps all its columns, so segments are the same tuple ranges compareSegment reads
  const keys = isComposite(table) ? { keys: keyColumns(table).map((c) => c.target) } : {};
  return { ...table, source: { table: table.target.table, key: keyColumn(table).target, ...keys }, columns };
}

/** Segments of every table, planned on the primary by the migration engine's key-sample planner. */
export async function planStandbySegments(primaryUrl: string, mapping: Mapping, tables: string[], segmentRows: number): Promise<{ table: string; segment: Chunk }[]> {
  const source = new PostgresSource(primaryUrl);
  try {
    return await planSegments(source, { ...mapping, tables: mapping.tables.map(onTarget) }, tables, segmentRows);
  } finally {
    await source.close();
  }
}

export interface CatchUp {
  /** the standby's replay position when the wait ended */
  replayLsn: string | null;
  reached: boolean;
  /** the copy is out of recovery (promoted): it cannot catch up, it is compared as it stands */
  promoted: boolean;
  waitedMs: number;
}

/** Waits until the standby replayed at least `lsn`; never throws on a timeout, says it. */
export async function waitForReplay(standby: Client, d: ReplicationDialect, lsn: string, timeoutMs: number, onWait?: () => void): Promise<CatchUp> {
  const started = Date.now();
  let polls = 0;
  for (;;) {
    const s = await standbyReplay(standby, d);
    if (!s.inRecovery) return { replayLsn: s.replayLsn, reached: false, promoted: true, waitedMs: Date.now() - started };
    if (s.replayLsn && lsnDiffBytes(s.replayLsn, lsn) >= 0) return { replayLsn: s.replayLsn, reached: true, promoted: false, waitedMs: Date.now() - started };
    if (Date.now() - started >= timeoutMs) return { replayLsn: s.replayLsn, reached: false, promoted: false, waitedMs: Date.now() - started };
    onWait?.();
    // A standby a few milliseconds behind is the common case: look again soon, then every 50 ms.
    await new Promise((r) => setTimeout(r, Math.min(50, 5 * 2 ** polls++)));
  }
}

/** SHA-256 and row count of a segment's canonical COPY text (rows end in the one unescaped LF). */
async function hashRange(client: Client, sql: string): Promise<{ sha256: string; rows: number }> {
  const hash = createHash('sha256');
  let rows = 0;
  for await (const chunk of copyOut(client, sql) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
  }
  return { sha256: hash.digest('hex'), rows };
}

/** Each line (without its LF) of what a COPY prints; a character split between two chunks is held back whole. */
async function eachLine(client: Client, sql: string, take: (line: string) => void): Promise<void> {
  const utf8 = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of copyOut(client, sql) as AsyncIterable<Buffer>) {
    const lines = (rest + utf8.write(chunk)).split('\n');
    rest = lines.pop()!;
    for (const l of lines) take(l);
  }
}

/** key → canonical line of what a COPY prints. */
async function readLines(client: Client, sql: string, keyOf: (fields: (string | null)[]) => string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await eachLine(client, sql, (l) => out.set(keyOf(decodeLine(l)), l + '\n'));
  return out;
}

function keysCopySql(table: TableMapping, keys: string[], collate: KeyCollate): string {
  const key = keyColumn(table).target;
  const cols = table.columns.map((c) => quoteIdent(c.target)).join(', ');
  if (isComposite(table)) {
    const own = `EXISTS (SELECT 1 FROM unnest(ARRAY[${keys.map(literal).join(', ')}]::text[]) AS own(k) WHERE ${keyMatchesSql(table, 't', 'own.k')})`;
    return `COPY (SELECT ${cols} FROM ${quoteIdent(table.target.table)} t WHERE ${own} ORDER BY ${targetTupleOrder(table, collate, 't')}) TO STDOUT`;
  }
  return `COPY (SELECT ${cols} FROM ${quoteIdent(table.target.table)} WHERE ${quoteIdent(key)} IN (${keys.map(literal).join(', ')}) ORDER BY ${quoteIdent(key)}${collate}) TO STDOUT`;
}

function differencesOf(table: TableMapping, primary: Map<string, string>, standby: Map<string, string>, keys?: Iterable<string>): RowDifference[] {
  const out: RowDifference[] = [];
  const all = keys ? new Set(keys) : new Set([...primary.keys(), ...standby.keys()]);
  for (const key of all) {
    const p = primary.get(key);
    const s = standby.get(key);
    if (p === s) continue;
    if (s === undefined) out.push({ table: table.name, kind: 'missing_in_target', key, note: 'on the primary, not on the standby' });
    else if (p === undefined) out.push({ table: table.name, kind: 'extra_in_target', key, note: 'on the standby, not on the primary' });
    else out.push({ table: table.name, kind: 'changed', key, fields: fieldDifferences(table, p, s), note: 'fields: primary → standby' });
  }
  return out.sort((a, b) => compareKeys(a.key, b.key));
}

export async function compareSegment(input: {
  primary: Client;
  standby: Client;
  /** what prepareTargetSession returned; both sides are the same engine and schema */
  keyCollate: KeyCollate;
  dialect: ReplicationDialect;
  table: TableMapping;
  segment: KeyRange & { id: string };
  recheckRounds: number;
  catchUpTimeoutMs: number;
  onProgress?: () => void;
}): Promise<StandbySegmentResult> {
  const started = Date.now();
  const { primary, standby, table, segment, keyCollate } = input;
  const sql = isKeyless(table) ? keylessCopySql(table) : targetRangeCopySql(table, segment, keyCollate);
  const [p, s] = await Promise.all([hashRange(primary, sql), hashRange(standby, sql)]);
  const result: StandbySegmentResult = {
    table: table.name,
    segmentId: segment.id,
    keyFrom: segment.keyFrom,
    keyTo: segment.keyTo,
    primaryRows: p.rows,
    standbyRows: s.rows,
    primarySha256: p.sha256,
    standbySha256: s.sha256,
    ok: p.sha256 === s.sha256,
    clearedOnRecheck: false,
    recheckRounds: 0,
    differenceTotals: {},
    differences: [],
    durationMs: 0,
  };
  if (!result.ok && isKeyless(table)) {
    const diffs = await compareKeyless(input, sql, result);
    result.ok = diffs.length === 0;
    result.clearedOnRecheck = result.ok;
    for (const d of diffs) {
      result.differenceTotals[d.kind] = (result.differenceTotals[d.kind] ?? 0) + Math.abs(d.count!.source - d.count!.target);
      if (result.differences.length < DIFFERENCE_CAP) result.differences.push(d);
    }
  } else if (!result.ok) {
    const keyIndex = table.columns.indexOf(keyColumn(table));
    const composite = isComposite(table) ? keyIndexes(table) : null;
    const keyOf = (fields: (string | null)[]) => (composite ? fieldsKey(fields, composite) : fields[keyIndex] ?? '');
    const [pl, sl] = await Promise.all([readLines(primary, sql, keyOf), readLines(standby, sql, keyOf)]);
    let diffs = differencesOf(table, pl, sl);
    // Rows in flight: catch the standby up past a new primary position, read just those rows again.
    while (diffs.length && result.recheckRounds < input.recheckRounds) {
      result.recheckRounds++;
      input.onProgress?.();
      const lsn = await primaryPosition(primary, input.dialect);
      await waitForReplay(standby, input.dialect, lsn, input.catchUpTimeoutMs, input.onProgress);
      const keys = diffs.map((d) => d.key);
      const q = keysCopySql(table, keys, keyCollate);
      const [pk, sk] = await Promise.all([readLines(primary, q, keyOf), readLines(standby, q, keyOf)]);
      diffs = differencesOf(table, pk, sk, keys);
    }
    result.ok = diffs.length === 0;
    result.clearedOnRecheck = result.ok;
    for (const d of diffs) {
      result.differenceTotals[d.kind] = (result.differenceTotals[d.kind] ?? 0) + 1;
      if (result.differences.length < DIFFERENCE_CAP) result.differences.push(d);
    }
  }
  result.durationMs = Date.now() - started;
  return result;
}

/**
 * 无键表 A keyless table, whole, in one order both sides share: by the row's canonical text in code-point order
 * (rows that tie are equal), so equal multisets of rows hash alike.
 */
function keylessCopySql(table: TableMapping): string {
  const cols = table.columns.map((c) => quoteIdent(c.target)).join(', ');
  return `COPY (SELECT ${cols} FROM ${quoteIdent(table.target.table)} t ORDER BY t::text COLLATE "C") TO STDOUT`;
}

/** canonical line → how often the table holds it */
async function countLines(client: Client, sql: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await eachLine(client, sql, (l) => out.set(l, (out.get(l) ?? 0) + 1));
  return out;
}

/**
 * 无键表 The rows of a keyless table whose counts differ, primary as the source side and the standby as the
 * target; with no key to read a few rows again by, every re-check round reads the whole table again after the
 * standby caught up with a new primary position.
 */
async function compareKeyless(input: Parameters<typeof compareSegment>[0], sql: string, result: StandbySegmentResult): Promise<RowDifference[]> {
  const { primary, standby, table } = input;
  const differ = async () => {
    const [p, s] = await Promise.all([countLines(primary, sql), countLines(standby, sql)]);
    const out: RowDifference[] = [];
    for (const line of new Set([...p.keys(), ...s.keys()])) {
      const count = { source: p.get(line) ?? 0, target: s.get(line) ?? 0 };
      if (count.source === count.target) continue;
      const fields = decodeLine(line);
      const row = Object.fromEntries(table.columns.map((c, i) => [c.target, fields[i] ?? null]));
      out.push({ table: table.name, kind: count.source > count.target ? 'missing_in_target' : 'extra_in_target', key: '', row, count, note: `${count.source} on the primary, ${count.target} on the standby (无键表 a keyless table, compared as a multiset)` });
    }
    return out.sort((a, b) => compareKeys(JSON.stringify(a.row), JSON.stringify(b.row)));
  };
  let diffs = await differ();
  while (diffs.length && result.recheckRounds < input.recheckRounds) {
    result.recheckRounds++;
    input.onProgress?.();
    const lsn = await primaryPosition(primary, input.dialect);
    await waitForReplay(standby, input.dialect, lsn, input.catchUpTimeoutMs, input.onProgress);
    diffs = await differ();
  }
  return diffs;
}

export { tableAgreement } from './agreement';
export type { TableAgreement } from './agreement';
