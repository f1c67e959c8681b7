import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction, quoteIdent } from '../lib/db';
import { binaryOf, decodeLine, encodeLine, encodeRow, Field, fieldAt, textOf } from './copy-text';
import type { Mapping, TableMapping } from './mapping';
import { findTable, isComposite, keyColumn, targetColumns } from './mapping';
import { encodeKey, keyMatchesSql, targetKeyArraySql } from './composite-key';
import { castKey, parentMissingSql } from './key-order';
import type { SourceAdapter, SourceItem } from './source';
import { isSourceRejection } from './source-rejection';
import { compileTransform } from './transform';
import { unionFilterSql } from './union';

/**
 * 整改重载 Reload held rows from the raw rows the quarantine keeps, with corrections applied (field values
 * by legacy column, per key), through the same transform as the migration: a row that still breaks a rule
 * stays held with the rule and the reason (what a correction did not fix); a row that passes is loaded,
 * its data-quality issues recorded, its quarantine row removed — and every child waiting for it
 * (waiting_for:<table>:<key>) follows it in, down the mapping's tree. One target transaction: a crash
 * loads nothing, a repeat finds nothing left to load (no key is loaded twice).
 *
 * 问题数据整改 A row that loaded flagged (migration_data_quality, an open issue) is not reloaded: its legacy row
 * (read again by its key) with the correction goes through the same transform, and the target row's corrected
 * columns are UPDATEd to what the transform gives, its issues in those columns marked corrected
 * (corrected_by) — in the same transaction. A repeat finds no open issue left and updates nothing again.
 *
 * This is the engine piece of the remediation loop: activities/remediation.ts runs it for an approved
 * corrections sheet (migration/corrections.ts, migration/correction-ledger.ts), workflows/remediation.ts around it.
 */
export interface ReloadOutcome {
  loaded: { table: string; key: string; chunkId: string; followed?: string }[];
  stillHeld: { table: string; key: string; rule: string; detail: string }[];
  /** flagged rows whose corrected columns were updated in place (their issues in those columns now corrected) */
  updated: { table: string; key: string; chunkId: string }[];
  /** flagged rows the correction did not fix (the legacy row changed since the check, or the target refused it) */
  stillFlagged: { table: string; key: string; rule: string; detail: string }[];
}

type Corrections = Map<string, Record<string, Field>>;

/** Flagged rows to correct in place: their legacy rows (by source column) and, per key, the target columns to update. */
export interface FlaggedRows {
  rows: Map<string, Record<string, Field>>;
  columnsOf: (key: string) => string[];
}

/**
 * The legacy rows of `keys` read again by their keys (SourceAdapter.readKeys), each by its source column; a
 * string says why they cannot be (a source without readKeys, or a composite key).
 */
export async function readLegacyRows(source: SourceAdapter, table: TableMapping, keys: readonly string[]): Promise<Map<string, Record<string, Field>> | string> {
  const rows = await readLegacyLines(source, table, keys);
  if (typeof rows === 'string') return rows;
  return new Map([...rows].map(([k, fields]) => [k, Object.fromEntries(table.columns.map((c, i) => [c.source, fields[i] ?? null]))]));
}

/** The legacy rows of `keys` as read (fields in the mapping's column order), or why they cannot be read by key. */
export async function readLegacyLines(source: SourceAdapter, table: TableMapping, keys: readonly string[], perRead = 1_000): Promise<Map<string, Field[]> | string> {
  if (isComposite(table)) return 'a composite key (rows are not read back by key)';
  if (!source.readKeys) return `the ${source.kind} source does not read rows by key`;
  const keyIndex = table.columns.indexOf(keyColumn(table));
  const wanted = new Set(keys);
  const out = new Map<string, Field[]>();
  for (let i = 0; i < keys.length; i += perRead) {
    for await (const batch of await source.readKeys(table, keys.slice(i, i + perRead), null)) {
      for (const item of batch as SourceItem[]) {
        if (isSourceRejection(item)) continue;
        const raw = fieldAt(item, keyIndex);
        const key = raw === null ? null : textOf(raw);
        if (key === null || !wanted.has(key)) continue;
        out.set(key, decodeLine(textOf(item)));
      }
    }
  }
  return out;
}

export async function reloadHeld(opts: {
  target: Client;
  mapping: Mapping;
  table: string;
  keys: string[];
  corrections?: Corrections;
  /** rows of the table that loaded flagged: corrected in place (UPDATE of their corrected columns), not reloaded */
  flagged?: FlaggedRows;
  runId: string;
  /** runs in the same transaction, before it commits: what the caller records of the outcome commits with the load, or not at all */
  beforeCommit?: (outcome: ReloadOutcome) => Promise<void>;
}): Promise<ReloadOutcome> {
  const { target, mapping, runId } = opts;
  const outcome: ReloadOutcome = { loaded: [], stillHeld: [], updated: [], stillFlagged: [] };
  await inTransaction(target, async () => {
    await reloadTable(findTable(mapping, opts.table), opts.keys, opts.corrections ?? new Map(), undefined);
    if (opts.flagged?.rows.size) await updateFlagged(findTable(mapping, opts.table), opts.flagged, opts.corrections ?? new Map());
    await opts.beforeCommit?.(outcome);
  });
  return outcome;

  async function updateFlagged(table: TableMapping, flagged: FlaggedRows, corrections: Corrections): Promise<void> {
    // the rows still flagged (an open issue), locked: a retry after the commit finds none and updates nothing twice
    const open = await target.query<{ source_key: string; chunk_id: string }>(
      `SELECT source_key, chunk_id FROM migration_data_quality WHERE table_name = $1 AND source_key = ANY($2::text[]) AND corrected_by IS NULL ORDER BY id FOR UPDATE`,
      [table.name, [...flagged.rows.keys()]],
    );
    const chunkOf = new Map<string, string>();
    for (const r of open.rows) if (!chunkOf.has(r.source_key)) chunkOf.set(r.source_key, r.chunk_id);
    const transform = compileTransform(mapping, table);
    const order = targetColumns(table).map((c) => c.target);
    const composite = isComposite(table);
    const key = keyColumn(table);
    const match = composite ? keyMatchesSql(table, 'x', '$1::text') : `x.${quoteIdent(key.target)} = ${castKey('$1::text', 'text', key.type)}`;
    for (const [k, chunkId] of chunkOf) {
      const raw = flagged.rows.get(k)!;
      const fix = corrections.get(k) ?? {};
      const fields = table.columns.map((c) => (c.source in fix ? fix[c.source] : (raw[c.source] ?? null)));
      const converted = transform(binaryOf(encodeLine(fields)));
      const stillFlagged = (rule: string, detail: string) => outcome.stillFlagged.push({ table: table.name, key: k, rule, detail });
      if (!converted.ok) {
        stillFlagged(converted.rule, converted.detail);
        continue;
      }
      const flaggedColumns = new Set((converted.flags ?? []).map((f) => f.column));
      const broken = (converted.flags ?? []).find((f) => table.columns.some((c) => c.target === f.column && c.source in fix));
      if (broken) {
        stillFlagged(broken.rule, `the corrected value still breaks the rule: ${broken.detail}`);
        continue;
      }
      const values = decodeLine(textOf(converted.line).replace(/\n$/, ''));
      const columns = flagged.columnsOf(k).filter((c) => order.includes(c));
      if (!columns.length) continue;
      await target.query('SAVEPOINT update_row');
      try {
        const sql = `UPDATE ${quoteIdent(table.target.table)} x SET ${columns.map((c, i) => `${quoteIdent(c)} = $${i + 2}`).join(', ')} WHERE ${match}${unionFilterSql(table, 'x')}`;
        const { rowCount } = await target.query(sql, [k, ...columns.map((c) => values[order.indexOf(c)] ?? null)]);
        await target.query('RELEASE SAVEPOINT update_row');
        if (!rowCount) {
          stillFlagged('missing_in_target', `${table.name} ${k} loaded flagged but is not in the target now`);
          continue;
        }
      } catch (err) {
        await target.query('ROLLBACK TO SAVEPOINT update_row');
        const code = (err as { code?: string }).code ?? '';
        if (!code.startsWith('22') && !code.startsWith('23')) throw err;
        stillFlagged('rejected_by_target', (err as Error).message);
        continue;
      }
      // 已整改 the issues in the columns now holding a clean value are closed; one in a column still flagged stays open
      const closed = columns.filter((c) => !flaggedColumns.has(c));
      await target.query('UPDATE migration_data_quality SET corrected_by = $3, corrected_at = now() WHERE table_name = $1 AND source_key = $2 AND corrected_by IS NULL AND column_name = ANY($4::text[])', [table.name, k, runId, closed]);
      outcome.updated.push({ table: table.name, key: k, chunkId });
    }
  }

  async function reloadTable(table: TableMapping, keys: string[], corrections: Corrections, followed: string | undefined): Promise<void> {
    if (!keys.length) return;
    const held = await target.query<{ id: string; chunk_id: string; source_key: string; raw_row: Record<string, Field> }>(
      `SELECT id, chunk_id, source_key, raw_row FROM migration_quarantine WHERE table_name = $1 AND source_key = ANY($2::text[]) ORDER BY id FOR UPDATE`,
      [table.name, keys],
    );
    const transform = compileTransform(mapping, table);
    const copyIn = `COPY ${quoteIdent(table.target.table)} (${targetColumns(table).map((c) => quoteIdent(c.target)).join(', ')}) FROM STDIN`;
    const loadedHere: { id: string; key: string; chunkId: string }[] = [];
    for (const row of held.rows) {
      const fix = corrections.get(row.source_key) ?? {};
      const fields = table.columns.map((c) => (c.source in fix ? fix[c.source] : (row.raw_row[c.source] ?? null)));
      const converted = transform(binaryOf(encodeLine(fields)));
      if (!converted.ok) {
        await target.query('UPDATE migration_quarantine SET rule = $2, detail = $3, raw_row = $4 WHERE id = $1', [row.id, converted.rule, converted.detail, JSON.stringify(Object.fromEntries(table.columns.map((c, i) => [c.source, fields[i]])))]);
        outcome.stillHeld.push({ table: table.name, key: row.source_key, rule: converted.rule, detail: converted.detail });
        continue;
      }
      await target.query('SAVEPOINT reload_row');
      try {
        await pipeline(Readable.from([Buffer.from(converted.line, 'latin1')]), target.query(copyFrom(copyIn)));
        await target.query('RELEASE SAVEPOINT reload_row');
      } catch (err) {
        await target.query('ROLLBACK TO SAVEPOINT reload_row');
        const code = (err as { code?: string }).code ?? '';
        if (!code.startsWith('22') && !code.startsWith('23')) throw err;
        await target.query('UPDATE migration_quarantine SET rule = $2, detail = $3 WHERE id = $1', [row.id, 'rejected_by_target', (err as Error).message]);
        outcome.stillHeld.push({ table: table.name, key: row.source_key, rule: 'rejected_by_target', detail: (err as Error).message });
        continue;
      }
      if (converted.flags?.length) {
        const lines = converted.flags.map((f) => encodeRow([runId, table.name, row.chunk_id, row.source_key, f.rule, f.column, f.raw, f.detail]));
        await pipeline(Readable.from(lines), target.query(copyFrom('COPY migration_data_quality (run_id, table_name, chunk_id, source_key, rule, column_name, raw_value, detail) FROM STDIN')));
      }
      loadedHere.push({ id: row.id, key: row.source_key, chunkId: row.chunk_id });
    }
    // a child whose parent is still not in the target goes back to waiting (or is a real orphan)
    let parentless = new Set<string>();
    if (table.parent && loadedHere.length) {
      const parent = findTable(mapping, table.parent.table);
      const key = keyColumn(table);
      // 复合主键 a composite key is matched component by component and returned as its encoded text (composite-key.ts)
      const composite = isComposite(table);
      const own = composite ? `EXISTS (SELECT 1 FROM unnest($1::text[]) AS own(k) WHERE ${keyMatchesSql(table, 'c', 'own.k')})` : `${castKey(`c.${quoteIdent(key.target)}`, key.type, 'text')} = ANY($1::text[])`;
      const { rows } = await target.query<{ k: string; fk: string }>(
        `DELETE FROM ${quoteIdent(table.target.table)} c WHERE ${own} AND ${parentMissingSql(table, parent, 'c')}
         RETURNING ${composite ? targetKeyArraySql(table, 'c') : `c.${quoteIdent(key.target)}::text`} AS k, c.${quoteIdent(table.parent.column)}::text AS fk`,
        [loadedHere.map((l) => l.key)],
      );
      if (composite) for (const r of rows) r.k = encodeKey(r.k as unknown as string[]);
      parentless = new Set(rows.map((r) => r.k));
      for (const r of rows) {
        const rule = `waiting_for:${parent.name}:${r.fk}`;
        await target.query('UPDATE migration_quarantine SET rule = $3, detail = $4 WHERE table_name = $1 AND source_key = $2', [table.name, r.k, rule, `${table.parent.column}=${r.fk}: its ${parent.name} row is not in the target`]);
        await target.query('DELETE FROM migration_data_quality WHERE table_name = $1 AND source_key = $2', [table.name, r.k]);
        outcome.stillHeld.push({ table: table.name, key: r.k, rule, detail: `${parent.name} ${r.fk} is not in the target` });
      }
    }
    const loaded = loadedHere.filter((l) => !parentless.has(l.key));
    if (!loaded.length) return;
    await target.query('DELETE FROM migration_quarantine WHERE id = ANY($1::bigint[])', [loaded.map((l) => l.id)]);
    for (const l of loaded) outcome.loaded.push({ table: table.name, key: l.key, chunkId: l.chunkId, ...(followed ? { followed } : {}) });
    // 跟随父记录 the children that waited for these rows follow them in
    for (const child of mapping.tables.filter((t) => t.parent?.table === table.name)) {
      const rules = loaded.map((l) => `waiting_for:${table.name}:${l.key}`);
      const { rows } = await target.query<{ k: string }>('SELECT source_key AS k FROM migration_quarantine WHERE table_name = $1 AND rule = ANY($2::text[])', [child.name, rules]);
      await reloadTable(child, rows.map((r) => r.k), new Map(), table.name);
    }
  }
}
