import type { Readable } from 'node:stream';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { quoteIdent } from '../lib/db';
import { CopyTextParser } from './copy-text';
import type { TableMapping } from './mapping';
import type { Chunk, SourceAdapter } from './source';

/**
 * The legacy side when it is PostgreSQL (tests, the demo, and a PostgreSQL staging copy of Oracle).
 * Reads with COPY TO STDOUT in text format: the server renders every type in its canonical text,
 * which COPY FROM on the target takes back unchanged.
 */
export function literal(value: string): string {
  return "'" + value.replace(/'/g, "''") + "'";
}

export function chunkCopySql(table: TableMapping, chunk: Chunk): string {
  const key = quoteIdent(table.source.key);
  const bounds: string[] = [];
  if (chunk.keyFrom !== null) bounds.push(`${key} > ${literal(chunk.keyFrom)}`);
  if (chunk.keyTo !== null) bounds.push(`${key} <= ${literal(chunk.keyTo)}`);
  const cols = table.columns.map((c) => quoteIdent(c.source)).join(', ');
  const where = bounds.length ? ` WHERE ${bounds.join(' AND ')}` : '';
  // COPY takes no bind parameters; bounds are inlined as escaped literals.
  return `COPY (SELECT ${cols} FROM ${quoteIdent(table.source.table)}${where} ORDER BY ${key}) TO STDOUT`;
}

export class PostgresSource implements SourceAdapter {
  readonly kind = 'postgres' as const;
  private readonly clients = new Set<Client>();

  constructor(private readonly connectionString: string) {}

  /**
   * None: a PostgreSQL snapshot cannot outlive the session that exported it, and chunks run in many
   * sessions. The cutover stops the legacy application first, so the data does not move meanwhile.
   */
  async readPoint(): Promise<string | null> {
    return null;
  }

  async planChunks(table: TableMapping, rowsPerChunk: number): Promise<Chunk[]> {
    const key = quoteIdent(table.source.key);
    const client = await this.connect();
    try {
      // Every rowsPerChunk-th key closes a chunk; the last chunk runs to the end of the table.
      const { rows } = await client.query<{ k: string }>(
        `SELECT k FROM (SELECT ${key}::text AS k, row_number() OVER (ORDER BY ${key}) AS rn FROM ${quoteIdent(table.source.table)}) s
         WHERE rn % $1 = 0 ORDER BY rn`,
        [rowsPerChunk],
      );
      const chunks: Chunk[] = [];
      let from: string | null = null;
      for (const { k } of rows) {
        chunks.push({ id: String(chunks.length + 1).padStart(5, '0'), keyFrom: from, keyTo: k });
        from = k;
      }
      chunks.push({ id: String(chunks.length + 1).padStart(5, '0'), keyFrom: from, keyTo: null });
      return chunks;
    } finally {
      await this.release(client);
    }
  }

  async readChunk(table: TableMapping, chunk: Chunk): Promise<Readable> {
    const client = await this.connect();
    // Legacy data is only ever queried: the session itself refuses writes.
    await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    const parser = new CopyTextParser();
    const copy = client.query(copyTo(chunkCopySql(table, chunk)));
    copy.on('error', (err) => parser.destroy(err));
    parser.once('close', () => void this.release(client));
    return copy.pipe(parser);
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients].map((c) => this.release(c)));
  }

  private async connect(): Promise<Client> {
    const client = new Client({ connectionString: this.connectionString });
    await client.connect();
    this.clients.add(client);
    return client;
  }

  private async release(client: Client): Promise<void> {
    if (!this.clients.delete(client)) return;
    await client.end().catch(() => undefined);
  }
}
