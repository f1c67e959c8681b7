import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../lib/config-file';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { loadMapping, loadMappingFrom } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { writeMapping } from '../support/mapping-file';

/**
 * 代码查询 A code table read by a query on the legacy database (not only a CSV or a legacy table's columns),
 * on real PostgreSQL: the query's rows (code, target) become the code map with the retired codes; it is
 * checked when the mapping is loaded from the source (worker start, mapping:check, the cutover's preflight),
 * every problem with its JSON path; it runs on the legacy side's read-only session, so a query that would
 * write is refused and changes nothing; a second statement is refused before anything runs.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const url = `${PG}/cq${randomBytes(4).toString('hex')}_h13_legacy`;

describe('code tables from a query on the legacy database', () => {
  let source: PostgresSource;
  beforeAll(async () => {
    await ensureDatabase(url);
    await withClient(url, async (c) => {
      await c.query('CREATE SCHEMA djk');
      await c.query('CREATE SEQUENCE djk.s');
      await c.query('CREATE TABLE djk.dm_qylx (dm char(4) PRIMARY KEY, xdm varchar(10), yxbz char(1), mc text)');
      await c.query(`INSERT INTO djk.dm_qylx VALUES ('1100', '1100', '1', '有限责任公司'), ('QY1 ', '1100', '1', '本地代码'), ('9500', '9500', '1', '个体工商户'), ('8888', '8800', '0', '已停用')`);
    });
    source = new PostgresSource(url);
  });
  afterAll(async () => {
    await source.close();
    await dropDatabase(url);
  });

  const withQuery = (query: string, extra: Record<string, unknown> = {}) =>
    writeMapping((m) => (m.codeTables.enttype = { title: '企业类型 (旧库查询)', legacy: { query }, ...extra }));

  it('reads the rows the query selects (a filter, a trim, a schema), with the retired codes', async () => {
    const file = withQuery("SELECT rtrim(dm) AS code, xdm AS target FROM djk.dm_qylx WHERE yxbz = '1'", { retired: [{ code: '9999', successor: '9500', retiredOn: '2015-01-01' }] });
    expect(loadMapping(file).codeTables.get('enttype')!.values.size).toBe(0); // read from the source, not at load
    const mapping = await loadMappingFrom(file, source);
    expect([...mapping.codeTables.get('enttype')!.values].sort()).toEqual([['1100', '1100'], ['9500', '9500'], ['9999', '9500'], ['QY1', '1100']]);
  });

  it('lists what is wrong with a query, with its JSON path, and changes nothing in the legacy database', async () => {
    const problems = async (file: string) => {
      const err = await loadMappingFrom(file, source).catch((e) => e);
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    };
    expect(await problems(withQuery('SELECT dm AS code, xdmm AS target FROM djk.dm_qylx'))).toContain('codeTables.enttype.legacy.query: cannot read its query: column "xdmm" does not exist');
    expect(await problems(withQuery('SELECT dm AS code, xdm AS target FROM djk.dm_qylx WHERE false'))).toContain('codeTables.enttype.legacy.query: its query gives no codes');
    expect(await problems(withQuery("SELECT dm AS code, xdm AS target FROM djk.dm_qylx UNION ALL SELECT '1100', '1200'"))).toContain('legacy code "1100" appears twice in its query');
    // a query that would write: refused as a subquery, or by the read-only session
    expect(await problems(withQuery('WITH gone AS (DELETE FROM djk.dm_qylx RETURNING dm, xdm) SELECT dm AS code, xdm AS target FROM gone'))).toMatch(/cannot read its query: WITH clause containing a data-modifying statement/);
    expect(await problems(withQuery("SELECT dm AS code, nextval('djk.s')::text AS target FROM djk.dm_qylx"))).toMatch(/cannot read its query: cannot execute nextval\(\) in a read-only transaction/);
    expect((await withClient(url, (c) => c.query('SELECT last_value::int AS n, is_called FROM djk.s'))).rows[0]).toEqual({ n: 1, is_called: false });
    expect((await withClient(url, (c) => c.query('SELECT count(*)::int AS n FROM djk.dm_qylx'))).rows[0].n).toBe(4);
  });

  it('refuses at load what is no single SELECT, and a query beside table columns', () => {
    expect(() => loadMapping(withQuery('SELECT dm AS code, xdm AS target FROM djk.dm_qylx; DROP TABLE djk.dm_qylx'))).toThrow('codeTables.enttype.legacy.query: expected one SELECT');
    expect(() => loadMapping(withQuery('DELETE FROM djk.dm_qylx'))).toThrow('codeTables.enttype.legacy.query: expected one SELECT');
    const both = writeMapping((m) => (m.codeTables.enttype = { title: 'x', legacy: { query: 'SELECT 1 AS code, 2 AS target', table: 'dm_qylx' } }));
    expect(() => loadMapping(both)).toThrow(ConfigError);
    expect(() => loadMapping(both)).toThrow('give either "query"');
  });
});
