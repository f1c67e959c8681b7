import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import { decodeLine, encodeLine, Field } from '../migration/copy-text';
import { castKey } from '../migration/key-order';
import { literal } from '../migration/pg-source';
import { keyColumn, Mapping, TableMapping, targetColumns } from '../migration/mapping';
import { unionFilterSql } from '../migration/union';
import { readLegacyLines } from '../migration/remediate';
import type { SourceAdapter } from '../migration/source';
import { compileTransform, transformText } from '../migration/transform';
import { copyOut, fieldDifferences, RowDifference } from './canonical';

/**
 * 整改复核 The rows a remediation run loaded, compared with what they should be (issue #15: the loop "re-verifies
 * those keys' content"): the legacy row read again by its key, with the sheet's correction applied (a child that
 * followed its parent in: as it is), through the mapping with the sheet's code entries — against the target's
 * row, column by column. A table whose source cannot read rows by key (an adapter without readKeys) or
 * that has a composite key is left unchecked, and the result says so.
 */
export interface ReloadedRowsCheck {
  table: string;
  checked: number;
  /** why the table's rows were not compared */
  unchecked?: string;
  differences: RowDifference[];
}

/** Keys read back per statement. */
const KEYS_PER_READ = 1_000;

export async function checkReloadedRows(opts: {
  source: SourceAdapter;
  /** a target session prepared with prepareTargetSession (canonical dates, numbers) */
  target: Client;
  /** the mapping with the sheet's code entries (withCodeMappings) */
  mapping: Mapping;
  table: TableMapping;
  /** the keys loaded, each with its correction (source column → value; {} for a row loaded as it was) */
  rows: Map<string, Record<string, Field>>;
}): Promise<ReloadedRowsCheck> {
  const { source, target, mapping, table, rows } = opts;
  const result: ReloadedRowsCheck = { table: table.name, checked: 0, differences: [] };
  if (!rows.size) return result;
  const legacy = await readLegacyLines(source, table, [...rows.keys()], KEYS_PER_READ);
  if (typeof legacy === 'string') return { ...result, unchecked: legacy };
  const transform = compileTransform(mapping, table);
  const keys = [...rows.keys()];

  const expected = new Map<string, string>();
  for (const [key, fields] of legacy) {
    const fix = rows.get(key)!;
    const outcome = transformText(transform, encodeLine(table.columns.map((c, j) => (c.source in fix ? fix[c.source] : (fields[j] ?? null)))));
    if (outcome.ok) expected.set(key, outcome.line);
    else result.differences.push({ table: table.name, kind: 'unaccounted_source_row', key, note: `the legacy row with its correction fails ${outcome.rule}: ${outcome.detail}` });
  }

  // the target's rows by the legacy key texts (as migration_remediation and the quarantine hold them), each line led by
  // the key it was found by: the target's own key may print otherwise (a number's canonical text)
  const cols = targetColumns(table).map((c) => `x.${quoteIdent(c.target)}`).join(', ');
  const match = `x.${quoteIdent(keyColumn(table).target)} = ${castKey('w.k', 'text', keyColumn(table).type)}`;
  const found = new Map<string, string>();
  const chunks: Buffer[] = [];
  const sql = `COPY (SELECT w.k, ${cols} FROM unnest(ARRAY[${keys.map(literal).join(', ')}]::text[]) AS w(k) JOIN ${quoteIdent(table.target.table)} x ON ${match}${unionFilterSql(table, 'x')}) TO STDOUT`;
  for await (const chunk of copyOut(target, sql) as AsyncIterable<Buffer>) chunks.push(chunk);
  for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    found.set(decodeLine(line.slice(0, tab))[0] ?? '', line.slice(tab + 1) + '\n');
  }

  for (const key of keys) {
    const want = expected.get(key);
    const got = found.get(key);
    if (want === undefined) {
      if (!result.differences.some((d) => d.key === key)) result.differences.push({ table: table.name, kind: 'extra_in_target', key, note: 'loaded by the remediation, but the legacy no longer has the row' });
      continue;
    }
    result.checked++;
    if (got === undefined) result.differences.push({ table: table.name, kind: 'missing_in_target', key, note: 'loaded by the remediation, absent from the target now' });
    else if (got !== want) result.differences.push({ table: table.name, kind: 'changed', key, fields: fieldDifferences(table, want, got) });
  }
  return result;
}
