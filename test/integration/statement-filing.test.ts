import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, withClient, withPooledClient } from '../../lib/db';
import { fileStatements, normaliseStatement } from '../../lib/statement-audit';

/**
 * 语句审计 filing, on real PostgreSQL: many activities of one run file overlapping statements at once and the
 * calls add up exactly (one transaction per filing, retried on a concurrent insert); a filing of more
 * statements than one batch holds; a pooled runbook connection killed between filings costs the next one
 * nothing (the pool drops it).
 */
const url = `postgres://postgres@127.0.0.1:5432/sf${randomBytes(4).toString('hex')}_runbook`;

beforeAll(() => ensureDatabase(url));
afterAll(() => dropDatabase(url));

const calls = async (workflowId: string) =>
  withClient(url, async (c) => new Map((await c.query<{ statement: string; calls: string }>('SELECT statement, calls FROM target_statement_audit WHERE workflow_id = $1', [workflowId])).rows.map((r) => [r.statement, Number(r.calls)])));

it('concurrent filings of overlapping statements add up exactly, none lost or doubled', async () => {
  const shared = ['SELECT 1', 'DELETE FROM t WHERE k > $1', 'COPY t FROM STDIN'];
  await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      fileStatements(url, 'run-a', 'postgresql', new Map([...shared.map((s): [string, number] => [s, 2]), [`SELECT ${i} AS own`, 1]])),
    ),
  );
  const filed = await calls('run-a');
  for (const s of shared) expect(filed.get(s)).toBe(24);
  for (let i = 0; i < 12; i++) expect(filed.get(`SELECT ${i} AS own`)).toBe(1);
  expect(filed.size).toBe(15);
  // another run's statements are its own
  await fileStatements(url, 'run-b', 'postgresql', new Map([['SELECT 1', 1]]));
  expect((await calls('run-b')).get('SELECT 1')).toBe(1);
  expect((await calls('run-a')).get('SELECT 1')).toBe(24);
});

it('a filing of 2,500 distinct statements is kept whole, and filing it again adds to every one', async () => {
  const many = new Map(Array.from({ length: 2500 }, (_, i): [string, number] => [normaliseStatement(`SELECT ${i}   FROM  x`), 1]));
  await fileStatements(url, 'run-many', 'postgresql', many);
  await fileStatements(url, 'run-many', 'postgresql', many);
  const filed = await calls('run-many');
  expect(filed.size).toBe(2500);
  expect([...filed.values()].every((n) => n === 2)).toBe(true);
});

it('a pooled runbook connection killed between filings: the next filing works', async () => {
  await fileStatements(url, 'run-kill', 'postgresql', new Map([['SELECT 1', 1]]));
  const database = new URL(url).pathname.slice(1);
  const killed = await withClient('postgres://postgres@127.0.0.1:5432/postgres', async (c) =>
    (await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database])).rowCount,
  );
  expect(killed).toBeGreaterThan(0);
  await new Promise((r) => setTimeout(r, 200));
  await fileStatements(url, 'run-kill', 'postgresql', new Map([['SELECT 1', 1]]));
  expect((await calls('run-kill')).get('SELECT 1')).toBe(2);
  // a statement refused inside a transaction: the session goes back rolled back, usable
  const pid = await withPooledClient(url, async (c) => (await c.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0].p);
  await expect(
    withPooledClient(url, async (c) => {
      await c.query('BEGIN');
      await c.query('SELECT * FROM no_such_table');
    }),
  ).rejects.toThrow(/no_such_table/);
  const after = await withPooledClient(url, async (c) => (await c.query<{ p: number; tx: string }>("SELECT pg_backend_pid() AS p, now()::text = statement_timestamp()::text AS tx")).rows[0]);
  expect(after.p).toBe(pid); // the same session, its transaction ended (now() is this statement's)
  expect(String(after.tx)).toBe('true');
  // a connection lost while in use: that client is dropped, the next one is new and works
  await expect(withPooledClient(url, (c) => c.query('SELECT pg_terminate_backend(pg_backend_pid())'))).rejects.toThrow();
  expect((await withPooledClient(url, (c) => c.query<{ n: number }>('SELECT 1 AS n'))).rows[0].n).toBe(1);
});
