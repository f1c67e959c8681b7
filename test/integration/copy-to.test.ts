import { Readable } from 'node:stream';
import { Client } from 'pg';
import { to as libraryCopyTo } from 'pg-copy-streams';
import { CopyAbandoned, copyTo } from '../../lib/copy-to';
import { inTransaction, withClient } from '../../lib/db';
import { eventually } from '../support/stack';

/**
 * lib/copy-to.ts against real PostgreSQL, its bytes compared with pg-copy-streams' own: rows long and
 * short, multi-byte text cut at every socket chunk boundary the server happens to make, a notice
 * between the rows, an error in the middle of the copy — and the connection usable afterwards; a reader
 * that stops before the end does not leave its connection waiting for rows nobody reads.
 */
const PG = 'postgres://postgres@127.0.0.1:5432/postgres';

async function bytesOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of stream) parts.push(Buffer.from(b as Buffer));
  return Buffer.concat(parts);
}

describe('COPY TO STDOUT reader', () => {
  const client = new Client(PG);
  beforeAll(() => client.connect());
  afterAll(() => client.end());

  // rows of 0 to ~3,000 bytes, with TABs, newlines, backslashes, NULLs and CJK text
  const rows = `SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE repeat('江门	\\' || E'\\n' || i, i % 200) END AS t, now()::date AS d
                FROM generate_series(1, 60000) i`;

  it('yields exactly the bytes pg-copy-streams yields, and the row count', async () => {
    const ours = copyTo(`COPY (${rows}) TO STDOUT`);
    const mine = await bytesOf(client.query(ours));
    const theirs = await bytesOf(client.query(libraryCopyTo(`COPY (${rows}) TO STDOUT`)));
    expect(mine.length).toBeGreaterThan(10_000_000);
    expect(mine.equals(theirs)).toBe(true);
    expect(ours.rowCount).toBe(60000);
    // the connection is pg's again
    expect((await client.query('SELECT 41 + 1 AS n')).rows[0].n).toBe(42);
  });

  it('an empty result is an empty stream', async () => {
    expect((await bytesOf(client.query(copyTo('COPY (SELECT 1 WHERE false) TO STDOUT'))))).toHaveLength(0);
    expect((await client.query('SELECT 1 AS n')).rows[0].n).toBe(1);
  });

  it('passes over a notice sent between rows', async () => {
    await client.query(`CREATE OR REPLACE FUNCTION pg_temp.noisy(i int) RETURNS int AS $$ BEGIN IF i = 500 THEN RAISE NOTICE 'half way'; END IF; RETURN i; END $$ LANGUAGE plpgsql`);
    const out = await bytesOf(client.query(copyTo('COPY (SELECT pg_temp.noisy(i) FROM generate_series(1, 1000) i) TO STDOUT')));
    expect(out.toString()).toBe(Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join(''));
  });

  it('an error in the middle of the copy fails the stream with the server message, and the connection still works', async () => {
    const failing = client.query(copyTo(`COPY (SELECT 100 / (50000 - i) FROM generate_series(1, 60000) i) TO STDOUT`));
    await expect(bytesOf(failing)).rejects.toThrow('division by zero');
    expect((await client.query('SELECT 7 AS n')).rows[0].n).toBe(7);
  });
});

describe('a reader that lets go of a COPY TO before its end', () => {
  // ~30 MB of rows: far more than the socket's buffers hold, so the server is still sending when the reader stops
  const big = `COPY (SELECT i, repeat('x', 500) FROM generate_series(1, 60000) i) TO STDOUT`;
  const stopped = new Error('the reader stopped: its destination failed');

  it('its own error reaches the caller at once, with nothing added; the ROLLBACK and end() after it do not wait for the rows', async () => {
    const started = Date.now();
    let chunks = 0;
    const failure = await withClient(PG, (client) =>
      inTransaction(client, async () => {
        for await (const _chunk of client.query(copyTo(big)) as AsyncIterable<Buffer>) {
          if (++chunks === 2) throw stopped;
        }
        return 'read to the end';
      }),
    ).then(
      (v) => v,
      (err: Error) => err,
    );
    expect(failure).toBe(stopped);
    expect(stopped.message).toBe('the reader stopped: its destination failed');
    expect(chunks).toBe(2);
    // before: the ROLLBACK queued behind the copy waited for good (the server blocked on a socket nobody read)
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);

  it('a break: the server ends the query (its backend goes away), and other connections carry on', async () => {
    const client = new Client(PG);
    const errors: Error[] = [];
    client.on('error', (err) => errors.push(err));
    await client.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    for await (const _chunk of client.query(copyTo(big)) as AsyncIterable<Buffer>) break;
    // the next query of that client fails at once, instead of waiting behind the copy
    await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable|terminated|closed/i);
    expect(errors[0]).toBeInstanceOf(CopyAbandoned);
    await client.end();
    await eventually(
      () => withClient(PG, async (c) => (await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0].n === 0),
      'the abandoned backend to end',
      10_000,
    );
  }, 30_000);
});
