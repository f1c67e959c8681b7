import type { Readable } from 'node:stream';
import type { CopyLine } from './copy-text';
import type { TableMapping } from './mapping';
import type { SourceRejection } from './source-rejection';

/**
 * What the engine needs from a legacy database, whatever it is (PostgreSQL here, Oracle in production).
 * Rows come out as COPY text lines (fields escaped, '\\N' = NULL) in the mapping's column order, already
 * in the canonical text form the target accepts (numbers as exact decimals, dates ISO). A field never
 * holds a NUL character, which PostgreSQL text cannot store: the adapter sends such a row as a
 * SourceRejection (invalid_text:nul) instead, so the engine need not scan every field for one.
 */
export interface Chunk {
  id: string;
  /** exclusive lower bound of the source key; null = from the start */
  keyFrom: string | null;
  /** inclusive upper bound of the source key; null = to the end */
  keyTo: string | null;
  /**
   * The bounds are the legacy database's own row addresses (Oracle ROWIDs), not keys: the target cannot
   * compare them, so it cleans up a retried chunk by the keys the chunk itself reads (the same rows at
   * the one read point) and checks its orphans likewise. Verification never uses such chunks (byKey).
   */
  rowid?: true;
}

/**
 * One item of a chunk stream: a row, or a row the adapter read but could not turn into target text
 * (the engine quarantines it; see source-rejection.ts).
 */
export type SourceItem = CopyLine | SourceRejection;

import type { PreflightProblem } from './preflight-report';
export type { PreflightProblem };

export interface SourceAdapter {
  readonly kind: 'postgres' | 'oracle';
  /**
   * Checks the live legacy database against the mapping before anything runs (catalog, types, privileges,
   * server version, character sets …) and returns every problem at once; [] when all is well.
   */
  preflight?(mapping: import('./mapping').Mapping): Promise<PreflightProblem[]>;
  /** The rows [legacy code, target code] of a code table kept in the legacy database (code-tables.ts). */
  readCodeTable?(spec: import('./code-tables').LegacyCodeTable): Promise<[string, string][]>;
  /**
   * Pins one consistent read point (PostgreSQL exported snapshot, Oracle SCN) that every later chunk
   * reads at, so that chunks read in parallel, by different workers, see one state of the legacy data.
   * Returns an opaque token to pass to readChunk.
   */
  readPoint(): Promise<string | null>;
  /** The table's rows at the read point (null: now), for count reconciliation. */
  countRows(table: TableMapping, readPoint: string | null): Promise<number>;
  /**
   * Splits a table into key ranges of about rowsPerChunk rows each (as of readPoint where the adapter can).
   * An adapter may plan ranges of its own row addresses instead (Chunk.rowid) for the migration; byKey asks
   * for key ranges whatever it is configured for (verification segments, the export in key order).
   */
  planChunks(table: TableMapping, rowsPerChunk: number, readPoint?: string | null, options?: { byKey?: boolean }): Promise<Chunk[]>;
  /**
   * The rows of one chunk in key order, as an object-mode stream of batches (SourceItem[]): the engine
   * works batch by batch, since a stream hop per row costs more than converting the row.
   */
  readChunk(table: TableMapping, chunk: Chunk, readPoint: string | null): Promise<Readable>;
  /**
   * The rows of a few keys of a one-column-key table (the keys' texts as the target holds them), as
   * readChunk gives them, at the read point. It may give rows of other keys too (a collation that
   * equates them) and may miss a key whose legacy text differs from the target's; the caller matches the
   * rows it gets and reads the chunk again for any key still missing. Optional: without it, the chunk is read again.
   */
  readKeys?(table: TableMapping, keys: string[], readPoint: string | null): Promise<Readable>;
  close(): Promise<void>;
}
