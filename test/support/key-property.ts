import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { copyChunk } from '../../migration/chunk-copy';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import type { Chunk } from '../../migration/source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { countTable } from '../../verification/counts';
import { verifyContentInProcess } from '../../verification/run-content';

/**
 * The harness of the key property tests (key-types, composite-keys): a legacy and a target database of their own on
 * real PostgreSQL, the legacy table and the target made afresh for each generated case, generated text that is hard
 * to order alike, and the round trip every generated key set must survive (keysRoundTrip).
 */
const PG = 'postgres://postgres@127.0.0.1:5432';

/** runs per case; KEY_PROPERTY_RUNS=… for a longer search */
export const NUM_RUNS = Number(process.env.KEY_PROPERTY_RUNS ?? 8);

export const INT8 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** Text of any code unit, or of the given characters (ones that sort differently under linguistic collations, escape in COPY, fall below a blank …); never NUL. */
export function trickyText(chars: readonly string[], maxLength: number): fc.Arbitrary<string> {
  return fc.oneof(fc.string({ unit: 'binary', maxLength }), fc.string({ unit: fc.constantFrom(...chars), maxLength })).map((s) => s.replace(/\0/g, ''));
}

export const sorted = (a: string[]) => [...a].sort();

/** A legacy database with the table under test in a schema of its own, and a target database; both dropped at the end. */
export class KeyPropertyDatabases {
  readonly legacyUrl: string;
  readonly targetUrl: string;

  /** `legacyTable` is schema-qualified (legacy_kt.kt); `targetTable` is the mapping's target table. */
  constructor(
    idPrefix: string,
    readonly legacyTable: string,
    readonly targetTable: string,
    idSuffix = '',
  ) {
    const id = `${idPrefix}${randomBytes(4).toString('hex')}${idSuffix}`;
    this.legacyUrl = `${PG}/${id}_legacy`;
    this.targetUrl = `${PG}/${id}_target`;
  }

  async create(): Promise<void> {
    await ensureDatabase(this.legacyUrl);
    await ensureDatabase(this.targetUrl);
    await withClient(this.legacyUrl, (c) => c.query(`CREATE SCHEMA IF NOT EXISTS ${this.legacyTable.split('.')[0]}`));
  }

  async drop(): Promise<void> {
    await dropDatabase(this.legacyUrl);
    await dropDatabase(this.targetUrl);
  }

  /** The legacy table afresh: `columns` is its column list (with any primary key), `insert` fills it. */
  async freshLegacy(columns: string, insert: { sql: string; params: unknown[] }, analyze: boolean): Promise<void> {
    await withClient(this.legacyUrl, async (l) => {
      await l.query(`DROP TABLE IF EXISTS ${this.legacyTable}`);
      await l.query(`CREATE TABLE ${this.legacyTable} (${columns})`);
      await l.query(insert.sql, insert.params);
      if (analyze) await l.query(`ANALYZE ${this.legacyTable}`);
    });
  }

  /** The target table and the migration's own tables (quarantine, data quality, chunks) afresh, as the mapping makes them. */
  async freshTarget(mapping: Mapping): Promise<void> {
    await withClient(this.targetUrl, (t) => this.resetTarget(t, mapping));
  }

  async resetTarget(t: Client, mapping: Mapping): Promise<void> {
    await t.query(`DROP TABLE IF EXISTS ${this.targetTable}`);
    await t.query('DROP TABLE IF EXISTS migration_quarantine, migration_data_quality, migration_chunk');
    await ensureTargetSchema(t, mapping);
  }
}

/** One generated case of the round trip. */
export interface RoundTrip {
  mapping: Mapping;
  table: TableMapping;
  /** how many rows the legacy table holds */
  rows: number;
  rowsPerChunk: number;
  segmentRows: number;
  /** which chunks are copied a second time (a retry) */
  retry: (chunkId: string) => boolean;
  /** the keys a chunk's read yields, as text */
  keysOf: (source: PostgresSource, table: TableMapping, chunk: Chunk) => Promise<string[]>;
  /** the keys in the target and in quarantine, as the same text */
  landed: (target: Client) => Promise<string[]>;
}

/**
 * The property, on a fresh legacy table and target: every legacy key lands in exactly one planned chunk (the chunks'
 * reads partition the table); every chunk copied, then some copied again (a retry, whose cleanup DELETE runs on the
 * target), leaves every key exactly once in the target or in quarantine; the count reconciliation passes; and
 * verification segments (planned with another size) hold every row once and all pass.
 */
export async function keysRoundTrip(dbs: KeyPropertyDatabases, c: RoundTrip): Promise<void> {
  const { mapping, table } = c;
  // a new adapter per run: it remembers each table's key type
  const source = new PostgresSource(dbs.legacyUrl);
  try {
    const all = await c.keysOf(source, table, { id: 'all', keyFrom: null, keyTo: null });
    expect(all).toHaveLength(c.rows);

    const chunks = await source.planChunks(table, c.rowsPerChunk);
    const perChunk = await Promise.all(chunks.map((ch) => c.keysOf(source, table, ch)));
    expect(sorted(perChunk.flat())).toEqual(sorted(all));

    await withClient(dbs.targetUrl, async (target) => {
      for (const chunk of chunks) await copyChunk({ source, target, mapping, table, chunk, runId: 'p', readPoint: null, attempt: 1 });
      for (const chunk of chunks) if (c.retry(chunk.id)) await copyChunk({ source, target, mapping, table, chunk, runId: 'p', readPoint: null, attempt: 2 });
      expect(sorted(await c.landed(target))).toEqual(sorted(all));
      const counts = await countTable(source, null, target, table, mapping);
      expect(counts.problems).toEqual([]);
    });

    const segments = await verifyContentInProcess({ source, targetUrl: dbs.targetUrl, mapping, segmentRows: c.segmentRows, concurrency: 1 });
    expect(segments.filter((s) => !s.ok).map((s) => s.differences)).toEqual([]);
    expect(segments.reduce((n, s) => n + s.sourceRows + s.quarantinedRows, 0)).toBe(all.length);
  } finally {
    await source.close();
  }
}
