import { Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { inTransaction, quoteIdent } from '../lib/db';
import { CopyTextParser, encodeRow, Field } from './copy-text';
import type { Mapping, TableMapping } from './mapping';
import { keyColumn } from './mapping';
import { compileTransform } from './transform';

/**
 * Moves one key range of one table from the legacy database to the target, COPY to COPY.
 * The whole chunk is one target transaction that first removes whatever an earlier attempt of the
 * same chunk left, so a retry after a crash neither duplicates nor skips a row.
 */
export interface Chunk {
  id: string;
  /** exclusive lower bound of the source key; null = from the start */
  keyFrom: string | null;
  /** inclusive upper bound of the source key; null = to the end */
  keyTo: string | null;
}

export interface ChunkResult {
  table: string;
  chunkId: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  quarantinedByRule: Record<string, number>;
  durationMs: number;
}

interface QuarantinedRow {
  sourceKey: string | null;
  rule: string;
  detail: string;
  raw: Record<string, Field>;
}

function rangePredicate(column: string, chunk: Chunk, firstParam: number): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  if (chunk.keyFrom !== null) {
    params.push(chunk.keyFrom);
    parts.push(`${quoteIdent(column)} > $${firstParam + params.length - 1}`);
  }
  if (chunk.keyTo !== null) {
    params.push(chunk.keyTo);
    parts.push(`${quoteIdent(column)} <= $${firstParam + params.length - 1}`);
  }
  return { sql: parts.length ? parts.join(' AND ') : 'TRUE', params };
}

/** COPY cannot take bind parameters; bounds are inlined as escaped literals. */
function literal(value: string): string {
  return "'" + value.replace(/'/g, "''") + "'";
}

export function sourceCopySql(table: TableMapping, chunk: Chunk): string {
  const key = quoteIdent(table.source.key);
  const bounds: string[] = [];
  if (chunk.keyFrom !== null) bounds.push(`${key} > ${literal(chunk.keyFrom)}`);
  if (chunk.keyTo !== null) bounds.push(`${key} <= ${literal(chunk.keyTo)}`);
  const cols = table.columns.map((c) => quoteIdent(c.source)).join(', ');
  const where = bounds.length ? ` WHERE ${bounds.join(' AND ')}` : '';
  return `COPY (SELECT ${cols} FROM ${quoteIdent(table.source.table)}${where} ORDER BY ${key}) TO STDOUT`;
}

export async function copyChunk(opts: {
  source: Client;
  target: Client;
  mapping: Mapping;
  table: TableMapping;
  chunk: Chunk;
  runId: string;
  onProgress?: (rowsRead: number) => void;
}): Promise<ChunkResult> {
  const { source, target, mapping, table, chunk, runId, onProgress } = opts;
  const started = Date.now();
  const transform = compileTransform(mapping, table);
  const keyIndex = table.columns.indexOf(keyColumn(table));
  const quarantined: QuarantinedRow[] = [];
  const byRule: Record<string, number> = {};
  let rowsRead = 0;
  let rowsLoaded = 0;

  const convert = new Transform({
    writableObjectMode: true,
    transform(fields: Field[], _enc: BufferEncoding, done: TransformCallback) {
      rowsRead++;
      if (onProgress && rowsRead % 10000 === 0) onProgress(rowsRead);
      const outcome = transform(fields);
      if (outcome.ok) {
        rowsLoaded++;
        done(null, encodeRow(outcome.values));
        return;
      }
      byRule[outcome.rule] = (byRule[outcome.rule] ?? 0) + 1;
      const raw: Record<string, Field> = {};
      table.columns.forEach((c, i) => (raw[c.source] = fields[i] ?? null));
      quarantined.push({ sourceKey: fields[keyIndex] ?? null, rule: outcome.rule, detail: outcome.detail, raw });
      done();
    },
  });

  const targetKey = keyColumn(table).target;
  const range = rangePredicate(targetKey, chunk, 1);
  await inTransaction(target, async () => {
    await target.query(`DELETE FROM ${quoteIdent(table.target.table)} WHERE ${range.sql}`, range.params);
    await target.query('DELETE FROM migration_quarantine WHERE table_name = $1 AND chunk_id = $2', [table.name, chunk.id]);
    const cols = table.columns.map((c) => quoteIdent(c.target)).join(', ');
    // The source read runs in a REPEATABLE READ, READ ONLY transaction: legacy data is only ever queried.
    await inTransaction(
      source,
      () =>
        pipeline(
          source.query(copyTo(sourceCopySql(table, chunk))),
          new CopyTextParser(),
          convert,
          target.query(copyFrom(`COPY ${quoteIdent(table.target.table)} (${cols}) FROM STDIN`)),
        ),
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
    for (const q of quarantined) {
      await target.query(
        `INSERT INTO migration_quarantine (run_id, table_name, chunk_id, source_key, rule, detail, raw_row)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [runId, table.name, chunk.id, q.sourceKey, q.rule, q.detail, JSON.stringify(q.raw)],
      );
    }
    await target.query(
      `INSERT INTO migration_chunk (table_name, chunk_id, run_id, key_from, key_to, rows_read, rows_loaded, rows_quarantined)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (table_name, chunk_id) DO UPDATE SET run_id = EXCLUDED.run_id, key_from = EXCLUDED.key_from,
         key_to = EXCLUDED.key_to, rows_read = EXCLUDED.rows_read, rows_loaded = EXCLUDED.rows_loaded,
         rows_quarantined = EXCLUDED.rows_quarantined, finished_at = now()`,
      [table.name, chunk.id, runId, chunk.keyFrom, chunk.keyTo, rowsRead, rowsLoaded, quarantined.length],
    );
  });
  return {
    table: table.name,
    chunkId: chunk.id,
    rowsRead,
    rowsLoaded,
    rowsQuarantined: quarantined.length,
    quarantinedByRule: byRule,
    durationMs: Date.now() - started,
  };
}
