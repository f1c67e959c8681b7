import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction, quoteIdent } from '../lib/db';
import { binaryOf, encodeLine, encodeRow, Field } from './copy-text';
import type { Mapping, TableMapping } from './mapping';
import { findTable, isComposite, keyColumn, targetColumns } from './mapping';
import { encodeKey, keyMatchesSql, targetKeyArraySql } from './composite-key';
import { castKey, parentMissingSql } from './key-order';
import { compileTransform } from './transform';

/**
 * 整改重载 Reload held rows from the raw rows the quarantine keeps, with corrections applied (field values
 * by legacy column, per key), through the same transform as the migration: a row that still breaks a rule
 * stays held with the rule and the reason (what a correction did not fix); a row that passes is loaded,
 * its data-quality issues recorded, its quarantine row removed — and every child waiting for it
 * (waiting_for:<table>:<key>) follows it in, down the mapping's tree. One target transaction: a crash
 * loads nothing, a repeat finds nothing left to load (no key is loaded twice).
 *
 * This is the engine piece of the remediation loop: activities/remediation.ts runs it for an approved
 * corrections sheet (migration/corrections.ts, migration/correction-ledger.ts), workflows/remediation.ts around it.
 */
export interface ReloadOutcome {
  loaded: { table: string; key: string; chunkId: string; followed?: string }[];
  stillHeld: { table: string; key: string; rule: string; detail: string }[];
}

type Corrections = Map<string, Record<string, Field>>;

export async function reloadHeld(opts: {
  target: Client;
  mapping: Mapping;
  table: string;
  keys: string[];
  corrections?: Corrections;
  runId: string;
  /** runs in the same transaction, before it commits: what the caller records of the outcome commits with the load, or not at all */
  beforeCommit?: (outcome: ReloadOutcome) => Promise<void>;
}): Promise<ReloadOutcome> {
  const { target, mapping, runId } = opts;
  const outcome: ReloadOutcome = { loaded: [], stillHeld: [] };
  await inTransaction(target, async () => {
    await reloadTable(findTable(mapping, opts.table), opts.keys, opts.corrections ?? new Map(), undefined);
    await opts.beforeCommit?.(outcome);
  });
  return outcome;

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
