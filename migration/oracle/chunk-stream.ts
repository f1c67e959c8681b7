import { Readable } from 'node:stream';
import { binaryOf, encodeLine, Field } from '../copy-text';
import type { SourceItem } from '../source';
import type { SourceRejection } from '../source-rejection';
import { ConversionError, rawText } from './convert';
import { oracleFailure } from './errors';
import type { OracleConnection, OracleResultSet } from './driver';
import type { ResolvedTable } from './resolve';

/**
 * One legacy row → a COPY text line, or a rejection carrying the first failing column's rule.
 * Errors that are not ConversionErrors (the driver returned an unexpected JS type) are bugs, and
 * propagate so that the chunk fails loudly instead of quarantining good data.
 */
export function convertRow(table: ResolvedTable, row: unknown[]): SourceItem {
  const checks = table.substitutionChecks;
  for (let n = 0; n < checks.length; n++) {
    const value = row[checks[n]];
    if (typeof value !== 'string' || value.indexOf('?') === -1) continue;
    const arrived = value.split('?').length - 1;
    const stored = Number(row[table.columns.length + n]);
    if (arrived > stored) {
      const col = table.columns[checks[n]].legacy;
      const err = new ConversionError(
        'invalid_text:substituted',
        `${arrived - stored} character(s) replaced by '?' in the conversion to UTF-8 (${arrived} arrived, the source holds ${stored}): bytes the database character set does not define`,
      );
      return rejection(table, row, col.name, err);
    }
  }
  const out: Field[] = new Array(table.columns.length);
  for (let i = 0; i < table.columns.length; i++) {
    const col = table.columns[i];
    try {
      out[i] = col.convert(row[i]);
    } catch (err) {
      if (err instanceof ConversionError) return rejection(table, row, col.legacy.name, err);
      throw new Error(`${table.table.source.table.toUpperCase()}.${col.legacy.name} (${col.legacy.dataType}): ${(err as Error).message}`, { cause: err });
    }
  }
  return binaryOf(encodeLine(out));
}

function rejection(table: ResolvedTable, row: unknown[], column: string, err: ConversionError): SourceRejection {
  return {
    kind: 'source-rejection',
    rule: err.rule,
    column,
    detail: `${column}: ${err.message}`,
    key: rawText(row[table.keyIndex]),
    fields: table.columns.map((_, i) => rawText(row[i])),
  };
}

/**
 * The rows of one open result set as an object-mode stream of batches (one per fetch) with backpressure: it fetches one batch
 * (fetchArraySize rows, one round trip) only when the consumer wants more, so a chunk never sits in
 * memory whole. It owns the result set and the (pooled) connection, and releases both when the rows
 * run out, when a fetch fails and when the consumer destroys it.
 */
export class OracleChunkStream extends Readable {
  private pumping = false;
  private inflight: Promise<unknown> | null = null;
  private released = false;

  constructor(
    private readonly connection: OracleConnection,
    private readonly resultSet: OracleResultSet,
    private readonly table: ResolvedTable,
    private readonly batchSize: number,
  ) {
    // Counted in batches: one fetched batch waits while the engine converts the previous one.
    super({ objectMode: true, highWaterMark: 1 });
  }

  override _read(): void {
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        const fetch = this.resultSet.getRows(this.batchSize);
        this.inflight = fetch;
        const rows = await fetch;
        this.inflight = null;
        if (this.destroyed) return;
        const wantMore = rows.length === 0 || this.push(rows.map((row) => convertRow(this.table, row)));
        if (rows.length < this.batchSize) {
          await this.release();
          this.push(null);
          return;
        }
        // Stop when the consumer's buffer is full; Node calls _read again once it drains.
        if (!wantMore) return;
      }
    } catch (err) {
      this.inflight = null;
      // a fatal Oracle error (ORA-01555 mid-fetch, say) becomes a non-retryable failure naming the table
      this.destroy(oracleFailure(err, `读取 read ${this.table.table.source.table.toUpperCase()}`) as Error);
    } finally {
      this.pumping = false;
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // Let a fetch in flight settle first: closing a result set under a running call is not allowed.
    const settled = this.inflight ? this.inflight.then(
      () => undefined,
      () => undefined,
    ) : Promise.resolve();
    settled
      .then(() => this.release())
      .then(
        () => callback(err),
        (closeErr: Error) => callback(err ?? closeErr),
      );
  }

  private async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    let first: unknown = null;
    try {
      await this.resultSet.close();
    } catch (e) {
      first = e;
    }
    try {
      await this.connection.close();
    } catch (e) {
      first ??= e;
    }
    if (first) throw first;
  }
}
