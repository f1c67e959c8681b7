import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DatasetStats, loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { ChunkResult, copyChunk } from '../../migration/chunk-copy';
import { dataQualityCsv, dataQualityReport, dataQualityRows, renderDataQuality } from '../../migration/data-quality';
import { loadMapping, Mapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { reloadHeld } from '../../migration/remediate';
import { countTable } from '../../verification/counts';
import { BUNDLED_MAPPING, writeMapping } from '../support/mapping-file';

/**
 * 异常数据处理策略 on real PostgreSQL, every table of the generated registry copied chunk by chunk in the
 * mapping's order: with the default policies every legacy entity reaches the target (count and keys), each
 * planted anomaly is a data-quality issue with its raw value, and the quarantine holds only real orphans
 * and the children waiting for them (waiting_for:<parent>:<key>). A mapping that says `quarantine` for a
 * rule holds those entities back, and their children wait for them.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `ap${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const targetUrl = `${PG}/${id}_target`;
const strictUrl = `${PG}/${id}_strict`;
const codesUrl = `${PG}/${id}_codes`;

async function migrateAll(source: PostgresSource, mapping: Mapping, url: string) {
  await withClient(url, (c) => ensureTargetSchema(c, mapping));
  const results: ChunkResult[] = [];
  for (const table of mapping.tables) {
    const chunks = await source.planChunks(table, 700);
    await withClient(url, async (target) => {
      for (const chunk of chunks) results.push(await copyChunk({ source, target, mapping, table, chunk, runId: 'r1', readPoint: null, attempt: 1 }));
    });
  }
  return results;
}

const sum = (rs: { table: string; flaggedByRule: Record<string, number>; quarantinedByRule: Record<string, number> }[], table: string, field: 'flaggedByRule' | 'quarantinedByRule') => {
  const out: Record<string, number> = {};
  for (const r of rs.filter((x) => x.table === table)) for (const [k, v] of Object.entries(r[field])) out[k] = (out[k] ?? 0) + v;
  return out;
};

describe('anomaly policy per rule (异常数据处理策略)', () => {
  const source = new PostgresSource(legacyUrl);
  let stats: DatasetStats;

  beforeAll(async () => {
    for (const u of [legacyUrl, targetUrl, strictUrl, codesUrl]) await ensureDatabase(u);
    // a higher anomaly rate than the default, so every planted rule occurs
    stats = await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 1500, seed: 7, anomalyRate: 0.05 }));
  });
  afterAll(async () => {
    await source.close();
    for (const u of [legacyUrl, targetUrl, strictUrl, codesUrl]) await dropDatabase(u);
  });

  it('loads every legacy entity, records each anomaly with its raw value, and quarantines only real orphans and their waiting children', async () => {
    const mapping = loadMapping(BUNDLED_MAPPING);
    const results = await migrateAll(source, mapping, targetUrl);
    const legacyKeys = await withClient(legacyUrl, async (c) => (await c.query<{ k: string }>('SELECT pripid AS k FROM e_baseinfo ORDER BY 1')).rows.map((r) => r.k));
    const state = await withClient(targetUrl, async (c) => ({
      keys: (await c.query<{ k: string }>('SELECT pripid AS k FROM market_entity ORDER BY 1')).rows.map((r) => r.k),
      issues: (await c.query<{ rule: string; column_name: string; raw_value: string | null; source_key: string }>('SELECT rule, column_name, raw_value, source_key FROM migration_data_quality WHERE table_name = $1', ['market_entity'])).rows,
      quarantine: (await c.query<{ table_name: string; rule: string; source_key: string; raw_row: Record<string, string> }>('SELECT table_name, rule, source_key, raw_row FROM migration_quarantine')).rows,
      loadedFlagged: (await c.query<{ pripid: string; entname: string; enttype: string; regcap: string | null; apprdate: string | null }>(
        `SELECT e.pripid, e.entname, e.enttype, e.regcap::text AS regcap, e.apprdate::text AS apprdate FROM market_entity e JOIN migration_data_quality q ON q.source_key = e.pripid AND q.table_name = 'market_entity'`,
      )).rows,
    }));
    // every entity, by count and by key
    expect(state.keys.length).toBe(legacyKeys.length);
    expect(state.keys).toEqual(legacyKeys);
    expect(state.quarantine.filter((q) => q.table_name === 'market_entity')).toEqual([]);

    // each planted anomaly is a data-quality issue with the legacy value as it was
    const planted = stats.e_baseinfo.expectedFlagged;
    for (const rule of ['unmapped_code:enttype', 'required:entname', 'invalid_capital:regcap', 'invalid_date:apprdate', 'check:regcap']) expect(planted[rule]).toBeGreaterThan(0);
    expect(sum(results, 'market_entity', 'flaggedByRule')).toEqual(planted);
    const byRule = (rule: string) => state.issues.filter((i) => i.rule === rule);
    expect(byRule('unmapped_code:enttype').every((i) => i.raw_value === 'X9' && i.column_name === 'enttype')).toBe(true);
    expect(byRule('invalid_capital:regcap').every((i) => i.raw_value === '约十万左右')).toBe(true);
    expect(byRule('invalid_date:apprdate').every((i) => i.raw_value === '1899-12-31')).toBe(true);
    expect(byRule('check:regcap').every((i) => i.raw_value === '-5')).toBe(true);
    // the legacy's empty name as it was ('' in a PostgreSQL legacy; Oracle would give NULL)
    expect(byRule('required:entname').every((i) => i.raw_value === '' || i.raw_value === null)).toBe(true);
    // and loaded as the policy says: NULL for an optional field, a placeholder for a required one
    const loaded = new Map(state.loadedFlagged.map((r) => [r.pripid, r]));
    for (const i of byRule('unmapped_code:enttype')) expect(loaded.get(i.source_key)!.enttype).toBe('unknown');
    for (const i of byRule('required:entname')) expect(loaded.get(i.source_key)!.entname).toBe('（待整改）');
    for (const i of [...byRule('invalid_capital:regcap'), ...byRule('check:regcap')]) expect(loaded.get(i.source_key)!.regcap).toBeNull();
    for (const i of byRule('invalid_date:apprdate')) expect(loaded.get(i.source_key)!.apprdate).toBeNull();

    // the quarantine as the generator planted it, table by table
    const byLegacy: Record<string, keyof DatasetStats> = {
      market_entity: 'e_baseinfo', name_reservation: 'e_name_reservation', enterprise_group: 'e_group', entity_person: 'e_person',
      entity_change: 'e_alter', approval_application: 'a_application', approval_material: 'a_material', approval_process: 'a_process',
    };
    for (const [t, legacy] of Object.entries(byLegacy)) expect({ t, q: sum(results, t, 'quarantinedByRule') }).toEqual({ t, q: stats[legacy].expectedQuarantine });
    // waiting children name their parent's key, and that parent is held; real orphans name no held parent
    const heldApps = new Set(state.quarantine.filter((q) => q.table_name === 'approval_application').map((q) => q.source_key));
    expect(heldApps.size).toBeGreaterThan(0);
    const waiting = state.quarantine.filter((q) => q.rule.startsWith('waiting_for:'));
    expect(waiting.length).toBeGreaterThan(0);
    for (const w of waiting) {
      const [, parent, key] = w.rule.split(':');
      expect(parent).toBe('approval_application');
      expect(heldApps.has(key)).toBe(true);
      expect(w.raw_row.appid).toBe(key);
    }
    expect(state.quarantine.filter((q) => q.table_name === 'approval_application').every((q) => q.rule === 'orphan:market_entity')).toBe(true);
    const report = await withClient(targetUrl, (c) => dataQualityReport(c, mapping));
    expect(report.entitiesMissing).toBe(0);
    // the sheet: every held row and issue, CSV with a BOM, a value Excel would take for a formula kept as text
    const sheetRows = await withClient(targetUrl, (c) => dataQualityRows(c));
    expect(sheetRows.filter((r) => r.kind === 'quarantined').length).toBe(state.quarantine.length);
    expect(sheetRows.filter((r) => r.kind === 'flagged' && r.table === 'market_entity').length).toBe(state.issues.length);
    const csv = dataQualityCsv(sheetRows);
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    expect(csv.split('\r\n').length).toBe(sheetRows.length + 2);
    expect(csv).toContain(`"'-5"`);
    expect(csv).not.toMatch(/,"-5"/);
    expect(report.flagged.filter((g) => g.table === 'market_entity').reduce((n, g) => n + g.rows, 0)).toBe(state.issues.length);
    // per district, as loaded (division codes after the code table, the retired 440782 as 440705)
    expect(report.flagged.filter((g) => g.table === 'market_entity').every((g) => /^4407\d\d$/.test(g.district ?? '') && g.district !== '440782')).toBe(true);
  });

  it('a mapping that says quarantine for a rule holds those entities back, and their children wait for them by key', async () => {
    const mapping = loadMapping(writeMapping((m) => (m.anomalyPolicies = { invalid_capital: 'quarantine' })));
    await migrateAll(source, mapping, strictUrl);
    const state = await withClient(strictUrl, async (c) => ({
      held: (await c.query<{ source_key: string; rule: string }>(`SELECT source_key, rule FROM migration_quarantine WHERE table_name = 'market_entity'`)).rows,
      waiting: (await c.query<{ table_name: string; rule: string; source_key: string }>(`SELECT table_name, rule, source_key FROM migration_quarantine WHERE rule LIKE 'waiting_for:market_entity:%'`)).rows,
      flaggedCapital: (await c.query(`SELECT 1 FROM migration_data_quality WHERE rule = 'invalid_capital:regcap'`)).rowCount,
    }));
    expect(state.held.length).toBe(stats.e_baseinfo.expectedFlagged['invalid_capital:regcap']);
    expect(state.held.every((h) => h.rule === 'invalid_capital:regcap')).toBe(true);
    expect(state.flaggedCapital).toBe(0);
    const held = new Set(state.held.map((h) => h.source_key));
    expect(state.waiting.length).toBeGreaterThan(0);
    for (const w of state.waiting) expect(held.has(w.rule.split(':')[2])).toBe(true);
    // 问题数据清单: the held entities are the entities missing if it went live now; children waiting are counted per parent table
    const report = await withClient(strictUrl, (c) => dataQualityReport(c, mapping));
    expect(report.entitiesMissing).toBe(state.held.length);
    const waitingGroups = report.quarantined.filter((g) => g.rule === 'waiting_for:market_entity');
    expect(waitingGroups.reduce((n, g) => n + g.rows, 0)).toBe(state.waiting.length);
    expect(report.quarantined.filter((g) => g.table === 'market_entity').every((g) => g.district !== null && g.examples.length > 0)).toBe(true);
    expect(renderDataQuality(report)).toContain(`now: ${state.held.length}**`);
    // a child of a held entity is never counted as a real orphan
    const orphans = await withClient(strictUrl, async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM migration_quarantine WHERE rule = 'orphan:market_entity' AND table_name <> 'approval_application'`)).rows[0].n);
    expect(orphans).toBe(0);
  });

  it('整改重载: a corrected held entity loads from its held raw row and its waiting children (and theirs) follow it in; a correction that still breaks the rule stays held with the field and the reason; a repeat doubles nothing', async () => {
    const mapping = loadMapping(writeMapping((m) => (m.anomalyPolicies = { invalid_capital: 'quarantine' })));
    const held = await withClient(strictUrl, async (c) => (await c.query<{ k: string }>(`SELECT source_key AS k FROM migration_quarantine WHERE table_name = 'market_entity' ORDER BY 1`)).rows.map((r) => r.k));
    expect(held.length).toBeGreaterThanOrEqual(2);
    const [fixed, stillWrong] = held;
    const waitingBefore = await withClient(strictUrl, async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM migration_quarantine WHERE rule = $1`, [`waiting_for:market_entity:${fixed}`])).rows[0].n);
    expect(waitingBefore).toBeGreaterThan(0);
    const reload = () =>
      withClient(strictUrl, (target) =>
        reloadHeld({ target, mapping, table: 'market_entity', keys: [fixed, stillWrong], runId: 'remediation-1', corrections: new Map([[fixed, { regcap: '10万' }], [stillWrong, { regcap: '大约几万' }]]) }),
      );
    const first = await reload();
    expect(first.stillHeld).toEqual([{ table: 'market_entity', key: stillWrong, rule: 'invalid_capital:regcap', detail: expect.stringContaining('大约几万') }]);
    expect(first.loaded[0]).toMatchObject({ table: 'market_entity', key: fixed });
    expect(first.loaded.filter((l) => l.followed === 'market_entity').length).toBe(waitingBefore);
    const after = await withClient(strictUrl, async (c) => ({
      regcap: (await c.query(`SELECT regcap::text AS r FROM market_entity WHERE pripid = $1`, [fixed])).rows[0]?.r,
      heldForFixed: (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM migration_quarantine WHERE source_key = $1 OR rule LIKE $2`, [fixed, `waiting_for:%`])).rows[0].n,
      children: (await c.query<{ n: number }>(`SELECT (SELECT count(*) FROM entity_person WHERE pripid = $1) + (SELECT count(*) FROM entity_change WHERE pripid = $1) + (SELECT count(*) FROM approval_application WHERE pripid = $1) AS n`, [fixed])).rows[0].n,
    }));
    expect(after.regcap).toBe('10');
    expect(Number(after.children)).toBeGreaterThan(0);
    // grandchildren too: the applications' materials and process steps that waited for them
    const grand = first.loaded.filter((l) => l.followed === 'approval_application');
    const apps = first.loaded.filter((l) => l.table === 'approval_application').length;
    if (apps > 0) expect(grand.length).toBeGreaterThan(0);
    // 对账 source = loaded + quarantined for every table, nothing loaded twice
    for (const table of mapping.tables) {
      const check = await withClient(strictUrl, (t) => countTable(source, null, t, table, mapping));
      expect({ table: table.name, problems: check.problems }).toEqual({ table: table.name, problems: [] });
    }
    // the waiting children of the one still wrong still wait for it
    const stillWaiting = await withClient(strictUrl, async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM migration_quarantine WHERE rule = $1`, [`waiting_for:market_entity:${stillWrong}`])).rows[0].n);
    expect(stillWaiting).toBeGreaterThan(0);
    // a repeat (a retried activity) finds nothing more to load for the fixed key
    const second = await reload();
    expect(second.loaded).toEqual([]);
    expect(second.stillHeld.map((h) => h.key)).toEqual([stillWrong]);
  });

  it('整改 by a new code mapping: entities held for an unmapped type load once the code table has it, with their waiting children', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-codes-'));
    const strictCodes = loadMapping(writeMapping((m) => (m.anomalyPolicies = { unmapped_code: 'quarantine' }), { dir, name: 'strict.json' }));
    await migrateAll(source, strictCodes, codesUrl);
    const held = await withClient(codesUrl, async (c) => (await c.query<{ k: string }>(`SELECT source_key AS k FROM migration_quarantine WHERE table_name = 'market_entity' AND rule = 'unmapped_code:enttype' ORDER BY 1`)).rows.map((r) => r.k));
    expect(held.length).toBe(stats.e_baseinfo.expectedFlagged['unmapped_code:enttype']);
    // 基础代码对照表 gains the local code X9 (a new entry, as a correction would add it)
    fs.appendFileSync(path.join(dir, 'code-tables', 'enttype.csv'), 'X9,1130,本地代码 X9 整改补充\n');
    const corrected = loadMapping(writeMapping((m) => (m.anomalyPolicies = { unmapped_code: 'quarantine' }), { dir, name: 'corrected.json' }));
    const out = await withClient(codesUrl, (target) => reloadHeld({ target, mapping: corrected, table: 'market_entity', keys: held, runId: 'remediation-codes' }));
    expect(out.stillHeld).toEqual([]);
    expect(out.loaded.filter((l) => l.table === 'market_entity').map((l) => l.key).sort()).toEqual(held);
    const after = await withClient(codesUrl, async (c) => ({
      types: (await c.query<{ t: string }>(`SELECT DISTINCT enttype AS t FROM market_entity WHERE pripid = ANY($1::text[])`, [held])).rows.map((r) => r.t),
      waiting: (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM migration_quarantine WHERE rule LIKE 'waiting_for:market_entity:%' OR table_name = 'market_entity'`)).rows[0].n,
    }));
    expect(after).toEqual({ types: ['1130'], waiting: 0 });
    for (const table of corrected.tables) {
      const check = await withClient(codesUrl, (t) => countTable(source, null, t, table, corrected));
      expect({ table: table.name, problems: check.problems }).toEqual({ table: table.name, problems: [] });
    }
  });

  it('refuses a mapping that would load a key or a parent link flagged, with the JSON path', () => {
    const file = writeMapping((m) => {
      m.tables[0].columns[0].onAnomaly = { policy: 'load_flagged' };
      m.tables.find((t: { name: string }) => t.name === 'entity_person').columns.find((c: { target: string }) => c.target === 'pripid').onAnomaly = { policy: 'load_flagged' };
    });
    expect(() => loadMapping(file)).toThrow(/tables\[0\] \(market_entity\)\.columns\.pripid\.onAnomaly: the key column cannot be loaded flagged[\s\S]*entity_person\)\.columns\.pripid\.onAnomaly: the parent link column/);
    expect(() => loadMapping(writeMapping((m) => (m.anomalyPolicies = { invalid_capitol: 'quarantine' })))).toThrow(/anomalyPolicies/);
  });
});
