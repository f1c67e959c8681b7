import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../lib/config-file';
import { withClient } from '../../lib/db';
import { settingsEnv } from '../../lib/child-process';
import { registerTarget } from '../../lib/target-guard';
import { resolveLegacyCodeTables } from '../../migration/code-tables';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { runPreflight } from '../../migration/preflight';
import type { CutoverState } from '../../workflows/cutover-messages';
import { BUNDLED_MAPPING, writeMapping as writeMappingIn } from '../support/mapping-file';
import { eventually, TestStack } from '../support/stack';

/**
 * 预检 Preflight against live catalogs (real PostgreSQL legacy and target, the real worker, API and
 * Temporal): a misspelt column, a missing table, an impossible type and a target table that disagrees
 * are all named at once, before anything runs; in a cutover the first step fails once, non-retryable,
 * and the operator reads the cause (API state, CLI, checklist) instead of "Activity task failed".
 */
const REAL = BUNDLED_MAPPING;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-preflight-'));
const writeMapping = (name: string, mutate: (m: any) => void) => writeMappingIn(mutate, { dir, name });

/** The slip the issue describes: entname written entnmae. */
const TYPO = writeMapping('typo.json', (m) => (m.tables[0].columns.find((c: any) => c.target === 'entname').source = 'entnmae'));

describe('preflight 预检 against the live legacy and target catalogs', () => {
  const stack = new TestStack({ MAPPING_FILE: TYPO });
  let source: PostgresSource;

  beforeAll(async () => {
    await stack.start();
    await stack.seedLegacy(300);
    source = new PostgresSource(stack.settings.LEGACY_DATABASE_URL);
  });
  afterAll(async () => {
    await source.close();
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const preflight = (file: string) =>
    withClient(stack.settings.TARGET_DATABASE_URL, (target) => runPreflight({ mapping: loadMapping(file), source, target }));

  it('passes the bundled mapping, and warns with counts of the legacy codes no code table knows', async () => {
    const report = await preflight(REAL);
    expect(report.errors).toEqual([]);
    expect(report.checked).toEqual({ tables: 8, columns: 54, codeColumns: 5 });
    // The generator plants local codes nobody mapped: the rows would be loaded flagged, and the operator knows beforehand.
    const unknown = await withClient(stack.settings.LEGACY_DATABASE_URL, (c) =>
      c.query<{ n: number }>(`SELECT count(*)::int AS n FROM e_baseinfo WHERE enttype NOT IN ('1100','1110','1130','1150','1200','1220','4531','4533','4540','5100','7200','9100','9500','9999','QY01')`),
    );
    expect(unknown.rows[0].n).toBeGreaterThan(0);
    const enttype = report.warnings.find((w) => w.where === 'tables[0] (market_entity).columns[5].codeTable');
    expect(enttype?.problem).toContain(`${unknown.rows[0].n} legacy rows hold`);
    expect(enttype?.problem).toContain('unmapped_code:enttype');
    // 异常数据处理策略: enttype is required, so under the default policy the rows load with the code "unknown", flagged
    expect(enttype?.problem).toContain('they will be loaded flagged as unmapped_code:enttype (enttype "unknown", a data-quality issue each)');
  });

  it('lists every problem at once: misspelt column and table, an impossible type, a target table that disagrees', async () => {
    const file = writeMapping('many.json', (m) => {
      m.tables[0].columns.find((c: any) => c.target === 'entname').source = 'entnmae';
      m.tables[0].columns.find((c: any) => c.target === 'estdate').type = 'integer';
      m.tables[3].source.table = 'e_persn';
      // text compared with a number: the target would refuse the CREATE TABLE of the migrate step
      m.tables[4].target.checks = ['altitem >= 5'];
    });
    await withClient(stack.settings.TARGET_DATABASE_URL, (c) => c.query('CREATE TABLE approval_material (matid text PRIMARY KEY, appid text NOT NULL, matname text, pages text, scanned_by text NOT NULL)'));
    try {
      const report = await preflight(file);
      expect(report.errors.map((e) => `${e.where}: ${e.problem}`)).toEqual([
        'tables[0] (market_entity).columns[4].source: column "entnmae" does not exist in legacy table e_baseinfo 旧库表中不存在该列 — did you mean "entname"? 是否应为 "entname"',
        'tables[0] (market_entity).columns[9].type: legacy e_baseinfo.estdate is date, which cannot become integer (target market_entity.estdate) 类型不兼容',
        'tables[3] (entity_person).source.table: legacy table "e_persn" does not exist 旧库中不存在该表 — did you mean "e_person"? 是否应为 "e_person"',
        'tables[4] (entity_change).target: the target refuses the table\'s definition 目标库不接受表定义: operator does not exist: text >= integer',
        'tables[6] (approval_material).columns[3].type: target approval_material.pages is text, the mapping says integer 目标列类型不一致',
        'tables[6] (approval_material).columns: target approval_material.scanned_by is NOT NULL without a default, and no column of the mapping fills it: every row would be refused 目标必填列未映射',
      ]);
    } finally {
      await withClient(stack.settings.TARGET_DATABASE_URL, (c) => c.query('DROP TABLE approval_material'));
    }
  });

  it('npm run mapping:check prints the problems and exits 1; a good mapping exits 0; a mapping that does not load exits 2', async () => {
    const run = (file: string) =>
      new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', path.join(__dirname, '..', '..', 'scripts', 'mapping-check.ts'), '--mapping', file],
          { env: settingsEnv(stack.settings, {}), timeout: 60000 },
          (err, stdout) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout }),
        ),
      );
    const bad = await run(TYPO);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('预检不通过 preflight found 1 problem:');
    expect(bad.stdout).toContain('column "entnmae" does not exist in legacy table e_baseinfo');
    expect(bad.stdout).toContain('did you mean "entname"');
    const good = await run(REAL);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('预检通过 preflight passed (8 tables, 54 columns, 5 code columns)');
    const unloadable = await run(writeMapping('requried.json', (m) => (m.tables[0].columns[4].requried = true)));
    expect(unloadable.code).toBe(2);
    expect(unloadable.stdout).toContain('tables[0].columns[4].requried: unknown property — did you mean "required"?');
  });

  it('reads a code table kept in the legacy database, with its retired codes; a misspelt column there is a ConfigError', async () => {
    await withClient(stack.settings.LEGACY_DATABASE_URL, async (c) => {
      await c.query('CREATE TABLE t_code_enttype (code varchar(10) PRIMARY KEY, new_code varchar(10) NOT NULL, name varchar(100))');
      await c.query(`INSERT INTO t_code_enttype VALUES ('1100', '1100', '有限责任公司'), ('9500', '9500', '个体工商户'), ('9999', '9500', '个体工商户(旧)')`);
    });
    const file = writeMapping('legacy-codes.json', (m) => {
      m.codeTables.enttype = { title: '企业类型 (旧库代码表)', legacy: { table: 't_code_enttype', code: 'code', target: 'new_code', label: 'name' }, retired: [{ code: 'QY01', successor: '1100', retiredOn: '2014-03-01' }] };
    });
    const mapping = loadMapping(file);
    expect(mapping.codeTables.get('enttype')!.values.size).toBe(0); // read when the worker starts, not at load
    await resolveLegacyCodeTables(file, mapping.codeTables, source.readCodeTable.bind(source));
    expect([...mapping.codeTables.get('enttype')!.values].sort()).toEqual([['1100', '1100'], ['9500', '9500'], ['9999', '9500'], ['QY01', '1100']]);

    const misspelt = loadMapping(writeMapping('legacy-codes-bad.json', (m) => {
      m.codeTables.enttype = { title: 'x', legacy: { table: 't_code_enttype', code: 'code', target: 'newcode' }, retired: [{ code: 'QY01', successor: '1200', retiredOn: '2014-03-01' }] };
    }));
    const err = await resolveLegacyCodeTables('m.json', misspelt.codeTables, source.readCodeTable.bind(source)).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('codeTables.enttype.legacy: cannot read t_code_enttype: column "newcode" does not exist');
  });

  it('stops a cutover at its first step, once, with the cause where the operator looks (API, checklist)', async () => {
    const operator = await stack.token('olivia.ops', 'operator');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    await stack.startWorker();
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-pf` });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    const t0 = Date.now();
    const parked = await eventually(async () => {
      const r = await stack.http('GET', `/cutovers/${id}`, operator);
      return r.body.status === 'waiting_operator' ? (r.body as CutoverState) : undefined;
    }, 'the run to wait for the operator', 60000);
    // Non-retryable: no quarter of an hour of retries before the operator hears of it.
    expect(Date.now() - t0).toBeLessThan(30000);
    expect(parked.pendingFailure).toMatchObject({ step: 'preflight', choices: ['retry', 'fallback'] });
    expect(parked.pendingFailure!.error).toMatch(/^配置错误 configuration error: 预检不通过 preflight found 1 problem:\n {2}- tables\[0\] \(market_entity\)\.columns\[4\]\.source: column "entnmae" does not exist in legacy table e_baseinfo/);
    expect(parked.pendingFailure!.error).toContain('did you mean "entname"');
    expect(parked.pendingFailure!.error).not.toContain('Activity task failed');
    expect(parked.preflight?.errors).toHaveLength(1);
    // Nothing ran after it: no backup, no wipe.
    expect(parked.steps.filter((s) => s.status !== 'pending').map((s) => [s.key, s.status])).toEqual([['preflight', 'failed']]);
    const summary = await stack.http('GET', `/cutovers/${id}/reports/summary.md`, operator);
    expect(summary.body).toContain('✗ 预检 Preflight');
    expect(summary.body).toContain('column "entnmae" does not exist');

    const cli = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(__dirname, '..', '..', 'cli', 'main.ts'), 'status', id],
        { env: { PATH: process.env.PATH, HOME: dir, JMRB_API_URL: stack.baseUrl, JMRB_TOKEN: operator }, timeout: 60000 },
        (err, stdout) => resolve({ code: err ? 1 : 0, stdout }),
      ),
    );
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('✗ 预检 Preflight');
    expect(cli.stdout).toContain('column "entnmae" does not exist in legacy table e_baseinfo');
    expect(cli.stdout).toContain(`等待操作员 waiting for the operator: step preflight failed; choose retry | fallback`);

    const history = await stack.temporal.workflow.getHandle(id).fetchHistory();
    // The preflight ran once (the start's signature check and the target lease, 目标库租约, are activities before it).
    const scheduled = new Map(history.events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name]));
    const activities = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => [scheduled.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId)), e.activityTaskStartedEventAttributes!.attempt]);
    expect(activities.filter(([name]) => name === 'preflightMapping')).toEqual([['preflightMapping', 1]]);
    expect(activities.every(([, attempt]) => attempt === 1)).toBe(true);
  });
});
