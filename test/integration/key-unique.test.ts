import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';

/**
 * 键唯一 A mapping's key must be unique in the legacy table, or the target's primary key refuses the repeats
 * (every repeat quarantined, the table not reconciling during the weekend). The PostgreSQL legacy's preflight
 * finds it before: a unique index or primary key on exactly the key proves it without reading the table; any
 * other table (no index, a unique index over more columns, a partial one) is counted. Real PostgreSQL.
 */
const legacyUrl = `postgres://postgres@127.0.0.1:5432/ku${randomBytes(4).toString('hex')}_legacy`;

function table(name: string, source: string, key: string): TableMapping {
  return {
    name,
    title: name,
    category: 'entity',
    source: { table: source, key },
    target: { table: name, checks: [] },
    columns: [{ target: key, type: 'text', source: key, required: true }],
  };
}

beforeAll(async () => {
  await ensureDatabase(legacyUrl);
  await withClient(legacyUrl, (c) =>
    c.query(`
      CREATE SCHEMA registry;
      CREATE TABLE registry.with_pk (id bigint PRIMARY KEY);
      INSERT INTO registry.with_pk SELECT g FROM generate_series(1, 50) g;
      CREATE TABLE no_index_unique (code text);
      INSERT INTO no_index_unique SELECT 'c' || g FROM generate_series(1, 50) g;
      CREATE TABLE no_index_repeats (code char(4));
      INSERT INTO no_index_repeats VALUES ('a'), ('a'), ('b'), ('c'), ('c'), ('c'), (NULL), (NULL);
      CREATE TABLE wider_unique (a text, b text, UNIQUE (a, b));
      INSERT INTO wider_unique VALUES ('x', '1'), ('x', '2');
      CREATE TABLE partial_unique (a text);
      CREATE UNIQUE INDEX ON partial_unique (a) WHERE a <> 'z';
      INSERT INTO partial_unique VALUES ('z'), ('z'), ('y');
      CREATE TABLE unique_include (a text, b text);
      CREATE UNIQUE INDEX ON unique_include (a) INCLUDE (b);
      INSERT INTO unique_include VALUES ('p', '1'), ('q', '1');
    `),
  );
});
afterAll(async () => {
  await dropDatabase(legacyUrl);
});

describe('the PostgreSQL legacy preflight: keys that repeat 键不唯一', () => {
  it('lists every table whose key repeats, with the count and the action, and only those', async () => {
    const mapping: Mapping = {
      codeTables: new Map(),
      tables: [
        table('t_pk', 'registry.with_pk', 'id'),
        table('t_unique_data', 'no_index_unique', 'code'),
        table('t_repeats', 'no_index_repeats', 'code'),
        table('t_wider', 'wider_unique', 'a'),
        table('t_partial', 'partial_unique', 'a'),
        table('t_include', 'unique_include', 'a'),
        table('t_missing', 'registry.nowhere', 'id'),
      ],
    };
    const source = new PostgresSource(legacyUrl);
    try {
      const all = await source.preflight(mapping);
      // the catalog check (migration/preflight.ts) names the missing table once, and the key uniqueness check skips it
      expect(all.filter((p) => p.severity !== 'warning' && !p.problem.startsWith('键不唯一')).map((p) => p.where)).toEqual(['tables[6] (t_missing).source.table']);
      expect(all.find((p) => p.where === 'tables[6] (t_missing).source.table')?.problem).toMatch(/legacy table "registry\.nowhere" does not exist/);
      const problems = all.filter((p) => p.problem.startsWith('键不唯一'));
      expect(problems.map((p) => p.where)).toEqual(['tables[2].source.key', 'tables[3].source.key', 'tables[4].source.key']);
      // 'a' and 'c' repeat; NULL keys are quarantined by the required rule, not counted here
      expect(problems[0].problem).toMatch(/^键不唯一 key no_index_repeats\.code is not unique: 2 key values are held by more than one row/);
      expect(problems[0].action).toMatch(/declare a column that is unique in no_index_repeats as source\.key/);
      // a table no column makes unique: a composite key, or a key column added on a staging copy
      expect(problems[0].action).toMatch(/or the list of columns that is \(复合主键 a composite key\).*map it 无键表 keyless \("source": \{ "table": "no_index_repeats", "keyless": true \}/);
      expect(problems[1].problem).toMatch(/: 1 key values/);
      expect(problems[2].problem).toMatch(/: 1 key values/);
    } finally {
      await source.close();
    }
  });

  it('复合主键 a composite key: unique together (by a unique index in any column order, or by the data) passes; one that repeats is counted', async () => {
    const composite = (name: string, source: string, keys: string[]): TableMapping => ({
      name,
      title: name,
      category: 'entity',
      source: { table: source, key: keys[0], keys },
      target: { table: name, checks: [] },
      columns: keys.map((k) => ({ target: k, type: 'text' as const, source: k, required: true })),
    });
    const source = new PostgresSource(legacyUrl);
    const locker = new Client({ connectionString: legacyUrl });
    await locker.connect();
    try {
      await withClient(legacyUrl, (c) =>
        c.query(`
          CREATE TABLE ck_index (a text, b int); CREATE UNIQUE INDEX ON ck_index (b, a); INSERT INTO ck_index VALUES ('x', 1), ('x', 2);
          CREATE TABLE ck_data (a text, b int); INSERT INTO ck_data VALUES ('x', 1), ('x', 2), ('y', 1);
          CREATE TABLE ck_repeats (a text, b int); INSERT INTO ck_repeats VALUES ('x', 1), ('x', 1), ('x', 2), ('y', NULL), ('y', NULL);
        `),
      );
      // the unique index (b, a) proves (a, b) without reading the table, even locked
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE ck_index IN ACCESS EXCLUSIVE MODE');
      const done = source.preflight({ codeTables: new Map(), tables: [composite('c_index', 'ck_index', ['a', 'b'])] });
      const timeout = new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 3000).unref());
      // (the index leads with b, not with the key's first column: the chunks sort, said as a warning)
      expect(await Promise.race([done, timeout])).toEqual([expect.objectContaining({ severity: 'warning', problem: expect.stringMatching(/^legacy key ck_index\.a leads no index/) })]);
      await locker.query('ROLLBACK');
      const problems = await source.preflight({ codeTables: new Map(), tables: [composite('c_data', 'ck_data', ['a', 'b']), composite('c_repeats', 'ck_repeats', ['a', 'b'])] });
      expect(problems.filter((p) => p.severity !== 'warning').map((p) => [p.where, p.problem.replace(/: 1 key values.*/, '')])).toEqual([['tables[1].source.key', '键不唯一 key ck_repeats.(a, b) is not unique']]);
    } finally {
      await locker.end();
      await source.close();
    }
  });

  it('a primary key proves uniqueness from the catalog: the table is not read (a session holding it locked does not hold the preflight up)', async () => {
    const source = new PostgresSource(legacyUrl);
    const locker = new Client({ connectionString: legacyUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE registry.with_pk IN ACCESS EXCLUSIVE MODE');
      const done = source.preflight({ codeTables: new Map(), tables: [table('t_pk', 'registry.with_pk', 'id')] });
      const timeout = new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 3000).unref());
      expect(await Promise.race([done, timeout])).toEqual([]);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
      await source.close();
    }
  });
});
