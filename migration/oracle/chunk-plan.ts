import { canonicalDecimal } from './convert';
import { encodeKey, keyOrders } from '../composite-key';
import type { TableMapping } from '../mapping';
import type { Chunk } from '../source';

/** 切分 Oracle's chunk plans as the engine's chunks: key boundaries (plain or composite) and ROWID extents. */

/**
 * 复合主键 A composite key's boundary row (one value per key column, planBoundariesQuery) as the encoded tuple the
 * engine holds bounds in (composite-key.ts): each component in the contract's text form, a number as its exact decimal.
 */
export function compositeBoundary(table: TableMapping, row: unknown[]): string {
  const orders = keyOrders(table);
  if (row.length !== orders.length) throw new Error(`chunk boundary of ${table.name} has ${row.length} values for a key of ${orders.length} columns`);
  return encodeKey(
    row.map((v, i) => {
      if (typeof v !== 'string') throw new Error(`chunk boundary of ${table.name} is not text: ${String(v)} (key column ${table.source.keys?.[i] ?? table.source.key})`);
      return orders[i] === 'numeric' ? canonicalDecimal(v) : v;
    }),
  );
}

/** (-∞, b1], (b1, b2], …, (bn, +∞): consecutive equal boundaries (a non-unique key) are merged. */
export function chunksFromBoundaries(tableName: string, boundaries: unknown[]): Chunk[] {
  const keys: string[] = [];
  for (const b of boundaries) {
    if (typeof b !== 'string') throw new Error(`chunk boundary of ${tableName} is not text: ${String(b)}`);
    if (keys[keys.length - 1] !== b) keys.push(b);
  }
  const chunks: Chunk[] = [];
  let from: string | null = null;
  for (const to of [...keys, null]) {
    chunks.push({ id: `${tableName}:${String(chunks.length).padStart(6, '0')}`, keyFrom: from, keyTo: to });
    from = to;
  }
  return chunks;
}

/**
 * ROWID chunks from extents ([boundary ROWID, blocks] in Oracle's ROWID order, rowidExtentsQuery): whole
 * extents are grouped until a group holds blocksPerChunk blocks, and the last extent of each group bounds
 * its chunk. The ranges are consecutive between the boundaries, open below the first and above the last,
 * so they hold every row once whatever the extents (the boundaries are only where the cuts fall).
 */
export function rowidChunks(tableName: string, extents: unknown[][], blocksPerChunk: number): Chunk[] {
  const cuts: string[] = [];
  let blocks = 0;
  for (const [boundary, size] of extents) {
    if (typeof boundary !== 'string' || !/^[A-Za-z0-9+/]{18}$/.test(boundary)) throw new Error(`ROWID boundary of ${tableName} is not an extended ROWID: ${String(boundary)}`);
    blocks += Number(size) || 0;
    if (blocks >= blocksPerChunk) {
      if (cuts[cuts.length - 1] !== boundary) cuts.push(boundary);
      blocks = 0;
    }
  }
  // the last group's cut would leave an empty last range: the open range above covers it
  if (blocks === 0) cuts.pop();
  const chunks: Chunk[] = [];
  let from: string | null = null;
  for (const to of [...cuts, null]) {
    chunks.push({ id: `${tableName}:r${String(chunks.length).padStart(6, '0')}`, keyFrom: from, keyTo: to, rowid: true });
    from = to;
  }
  return chunks;
}
