import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { findTable, loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import type { Chunk } from '../../migration/source';

/**
 * The PostgreSQL legacy adapter keeps its sessions between chunks. What must hold: a session goes
 * back only after a COPY that ran to its end. One handed on mid-copy does not fail the next read, it
 * hangs it (the abandoned stream keeps the socket paused), hence the second test's short time limit.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const legacyUrl = `${PG}/pgs${randomBytes(4).toString('hex')}_legacy`;
const mapping = loadMapping(path.join(__dirname, '..', '..', 'config', 'mapping.json'));
const table = findTable(mapping, 'approval_process');

async function readAll(source: PostgresSource, chunk: Chunk): Promise<string[]> {
  const lines: string[] = [];
  for await (const batch of await source.readChunk(table, chunk)) lines.push(...(batch as string[]));
  return lines;
}

/** Sessions the adapter holds on the legacy database (this check's own excluded). */
const sessions = () =>
  withClient(legacyUrl, async (c) => Number((await c.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows[0].n));

/** The same once the pool has closed: a backend leaves pg_stat_activity a moment after its client hung up (seen under load). */
async function sessionsAfterClose(): Promise<number> {
  for (let i = 0; ; i++) {
    const n = await sessions();
    if (n === 0 || i === 20) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('PostgreSQL legacy adapter sessions', () => {
  let expected: string[] = [];

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    expected = await withClient(legacyUrl, async (c) => {
      await loadLegacyDataset(c, { entities: 3000, seed: 5 });
      await c.query('ANALYZE');
      const { rows } = await c.query<{ procid: string }>(`SELECT procid FROM a_process ORDER BY procid`);
      return rows.map((r) => r.procid);
    });
  });
  afterAll(() => dropDatabase(legacyUrl));

  it('reads chunk after chunk on one kept session, and every row once', async () => {
    const source = new PostgresSource(legacyUrl);
    try {
      const chunks = await source.planChunks(table, Math.ceil(expected.length / 5));
      expect(chunks.length).toBeGreaterThanOrEqual(3);
      const keys: string[] = [];
      for (const chunk of chunks) keys.push(...(await readAll(source, chunk)).map((l) => l.split('\t')[0]));
      expect(keys).toEqual(expected);
      expect(await sessions()).toBe(1);
    } finally {
      await source.close();
    }
    expect(await sessionsAfterClose()).toBe(0);
  });

  it('closes a session its reader left mid-copy instead of handing it to the next chunk', async () => {
    const source = new PostgresSource(legacyUrl);
    try {
      const whole: Chunk = { id: '00001', keyFrom: null, keyTo: null };
      for (let i = 0; i < 3; i++) {
        const stream = await source.readChunk(table, whole);
        for await (const batch of stream) {
          expect((batch as string[]).length).toBeGreaterThan(0);
          break; // stop after the first batch: the COPY is still running on that session
        }
      }
      const lines = await readAll(source, whole);
      expect(lines.map((l) => l.split('\t')[0])).toEqual(expected);
    } finally {
      await source.close();
    }
    expect(await sessionsAfterClose()).toBe(0);
  }, 15_000);
});
