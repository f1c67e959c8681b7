import { StringDecoder } from 'node:string_decoder';
import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import { decodeLine, Field, textOf } from '../migration/copy-text';
import type { Mapping, TableMapping } from '../migration/mapping';
import { targetColumns } from '../migration/mapping';
import type { Chunk, SourceAdapter, SourceItem } from '../migration/source';
import { isSourceRejection } from '../migration/source-rejection';
import { compileTransform } from '../migration/transform';
import { copyOut, RowDifference } from './canonical';
import { MultisetDigest } from './multiset-digest';

/**
 * 无键表 A keyless table verified as a multiset of rows: no key to match rows by, no order to rely on. Both sides are
 * read whole in the canonical form (canonical.ts: the source through the mapping's transform, the target as its COPY
 * prints), each line counted; the table is proven when every line occurs as often on both sides — so an exact
 * duplicate the legacy holds three times must be loaded three times. The rows the migration held are left out of
 * the source side by their legacy row as read (migration_quarantine.raw_row, one held record per legacy row).
 * A difference names the row's content and both counts. The proof is made in constant memory (each side's
 * multiset digest, multiset-digest.ts); only a table that differs is read again, one entry per distinct row, to
 * name its differences.
 */
export interface KeylessComparison {
  /** source rows that must be in the target (transform ok, not held) */
  sourceRows: number;
  /** source rows the migration held: expected absent */
  quarantinedRows: number;
  targetRows: number;
  /** each side's multiset digest (the sum of its lines' SHA-256, mod 2^256): equal when the multisets are */
  sourceSha256: string;
  targetSha256: string;
  differences: RowDifference[];
}

/** The held rows of a table, as legacy fields in mapping order (JSON), each with how many records hold it. */
async function heldRows(target: Client, table: TableMapping): Promise<Map<string, number>> {
  const { rows } = await target.query<{ raw: Record<string, Field> }>('SELECT raw_row AS raw FROM migration_quarantine WHERE table_name = $1', [table.name]);
  const held = new Map<string, number>();
  for (const r of rows) {
    const k = JSON.stringify(table.columns.map((c) => r.raw[c.source] ?? null));
    held.set(k, (held.get(k) ?? 0) + 1);
  }
  return held;
}

function take(counts: Map<string, number>, k: string): boolean {
  const n = counts.get(k);
  if (!n) return false;
  if (n === 1) counts.delete(k);
  else counts.set(k, n - 1);
  return true;
}

/** A canonical line as the row it is: target column → value. */
function rowOf(table: TableMapping, line: string): Record<string, Field> {
  const fields = decodeLine(line);
  return Object.fromEntries(targetColumns(table).map((c, i) => [c.target, fields[i] ?? null]));
}

type KeylessInput = {
  source: SourceAdapter;
  target: Client;
  mapping: Mapping;
  table: TableMapping;
  segment: Chunk;
  readPoint: string | null;
};

/**
 * Both sides read once, each canonical line handed to `sourceLine` / `targetLine` as it comes: the source through
 * the transform, less the rows the migration held (matched by their legacy row, and taken off `held` as found);
 * source rows neither loadable nor held are named.
 */
async function readSides(input: KeylessInput, held: Map<string, number>, sourceLine: (line: string) => void, targetLine: (line: string) => void) {
  const { source, target, mapping, table, segment, readPoint } = input;
  const transform = compileTransform(mapping, table);
  const unaccounted: RowDifference[] = [];
  let quarantinedRows = 0;
  for await (const batch of await source.readChunk(table, segment, readPoint)) {
    for (const item of batch as SourceItem[]) {
      if (isSourceRejection(item)) {
        if (take(held, JSON.stringify(item.fields))) quarantinedRows++;
        else unaccounted.push({ table: table.name, kind: 'unaccounted_source_row', key: '', row: Object.fromEntries(table.columns.map((c, i) => [c.source, item.fields[i] ?? null])), note: `the source cannot deliver this row (${item.rule}) and it is not in quarantine 无键表` });
        continue;
      }
      // the legacy row as the chunk held it (decoded only when some row was held)
      if (held.size && take(held, JSON.stringify(decodeLine(textOf(item))))) {
        quarantinedRows++;
        continue;
      }
      const outcome = transform(item);
      if (!outcome.ok) {
        unaccounted.push({ table: table.name, kind: 'unaccounted_source_row', key: '', row: Object.fromEntries(table.columns.map((c, i) => [c.source, decodeLine(textOf(item))[i] ?? null])), note: `fails ${outcome.rule} (${outcome.detail}) but is not in quarantine 无键表` });
        continue;
      }
      // the transform's line ends in its LF, as it goes to COPY; the target's are split on it
      sourceLine(textOf(outcome.line.endsWith('\n') ? outcome.line.slice(0, -1) : outcome.line));
    }
  }
  let rest = '';
  const utf8 = new StringDecoder('utf8');
  const cols = targetColumns(table).map((c) => quoteIdent(c.target)).join(', ');
  for await (const chunk of copyOut(target, `COPY (SELECT ${cols} FROM ${quoteIdent(table.target.table)}) TO STDOUT`) as AsyncIterable<Buffer>) {
    const lines = (rest + utf8.write(chunk)).split('\n');
    rest = lines.pop()!;
    for (const l of lines) targetLine(l);
  }
  return { unaccounted, quarantinedRows };
}

/**
 * First pass, in constant memory: each side's multiset digest (multiset-digest.ts) and rows. Equal digests and
 * counts, every source row loaded or held, every held row found: the table is proven, and no row was kept in
 * memory. Anything else, and a second pass reads both sides again into counted lines to name the differences.
 */
export async function compareKeylessTable(input: KeylessInput): Promise<KeylessComparison> {
  const { target, table } = input;
  const sourceDigest = new MultisetDigest();
  const targetDigest = new MultisetDigest();
  const held = await heldRows(target, table);
  const first = await readSides(input, held, (l) => sourceDigest.add(l), (l) => targetDigest.add(l));
  const sourceSha256 = sourceDigest.digest();
  const targetSha256 = targetDigest.digest();
  const counts = { sourceRows: sourceDigest.rows, quarantinedRows: first.quarantinedRows, targetRows: targetDigest.rows, sourceSha256, targetSha256 };
  if (sourceSha256 === targetSha256 && sourceDigest.rows === targetDigest.rows && !first.unaccounted.length && !held.size) return { ...counts, differences: [] };

  const expected = new Map<string, number>();
  const found = new Map<string, number>();
  const heldAgain = await heldRows(target, table);
  const second = await readSides(input, heldAgain, (l) => void expected.set(l, (expected.get(l) ?? 0) + 1), (l) => void found.set(l, (found.get(l) ?? 0) + 1));
  const differences: RowDifference[] = [...second.unaccounted];
  for (const line of [...new Set([...expected.keys(), ...found.keys()])].sort()) {
    const s = expected.get(line) ?? 0;
    const t = found.get(line) ?? 0;
    if (s === t) continue;
    differences.push({
      table: table.name,
      kind: s > t ? 'missing_in_target' : 'extra_in_target',
      key: line,
      row: rowOf(table, line),
      count: { source: s, target: t },
      note: `${s} in the source, ${t} in the target (无键表 a keyless table, compared as a multiset)`,
    });
  }
  // rows the migration held that no legacy row matches: held twice, or the legacy changed
  for (const [k, n] of heldAgain) {
    differences.push({ table: table.name, kind: 'quarantined_but_loaded', key: '', row: Object.fromEntries(table.columns.map((c, i) => [c.source, (JSON.parse(k) as Field[])[i]])), count: { source: 0, target: n }, note: `held ${n} time(s) in quarantine, yet no legacy row left to match it 无键表` });
  }
  return { ...counts, differences };
}
