import path from 'node:path';
import fs from 'node:fs';
import { DatasetStats, LegacyTable, loadLegacyDataset } from '../../datagen/legacy-generator';
import { loadMapping } from '../../migration/mapping';
import { withClient } from '../../lib/db';
import { signDecision } from '../../lib/decision-signing';
import { sha256File } from '../../activities/backup';
import { registerTarget } from '../../lib/target-guard';
import { decideGateSignal, CutoverState } from '../../workflows/cutover-messages';
import { eventually, TestStack } from '../support/stack';

/**
 * One rehearsal cutover through the real API, the real worker process, the real Temporal server
 * and real PostgreSQL databases — with the worker killed while the run waits at its gate.
 */
describe('cutover end to end (API → Temporal → worker → PostgreSQL)', () => {
  const stack = new TestStack();
  let stats: DatasetStats;
  let operator: string;
  let approver: string;

  beforeAll(async () => {
    await stack.start();
    stats = await withClient(stack.settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities: 1500, seed: 7, anomalyRate: 0.03 }));
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    await stack.startWorker();
  });

  /** Waits until the gate is open, then approves it through the API. */
  async function approveWhenOpen(id: string, gate: string, token: string): Promise<void> {
    await eventually(async () => {
      const r = await stack.http('GET', `/cutovers/${id}`, token);
      return r.body.gates?.find((g: { name: string }) => g.name === gate)?.status === 'open';
    }, `gate ${gate} to open`);
    const decided = await stack.http('POST', `/cutovers/${id}/gates/${gate}/decision`, token, { decision: 'approve', reason: `${gate} ok` });
    expect(decided.status).toBe(202);
  }

  afterAll(() => stack.stop());

  it('migrates, survives a worker kill at the gate, and completes once approved', async () => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-e2e` });
    expect(started.status).toBe(201);
    expect(started.body.workflowId).toBe(`cutover-${stack.id}-e2e`);
    const id = started.body.workflowId as string;

    await approveWhenOpen(id, 'wipe', approver);
    const atGate = await eventually(async () => {
      const r = await stack.http('GET', `/cutovers/${id}`, approver);
      return r.body.status === 'waiting_approval' && r.body.phase === 'go-no-go' ? (r.body as CutoverState) : undefined;
    }, 'the run to reach its go/no-go gate');
    expect(atGate.gates[1]).toMatchObject({ name: 'go-no-go', status: 'open' });

    // The worker dies while the run waits for people; the run must not notice beyond a pause.
    await stack.killWorker('SIGKILL');
    await stack.startWorker();

    // Signals that bypass the API do not open the gate: unsigned, forged, or signed for the initiator.
    const handle = stack.temporal.workflow.getHandle(id);
    const claims = { workflowId: id, gate: 'go-no-go', decision: 'approve' as const, role: 'approver', issuedAt: new Date().toISOString() };
    await handle.signal(decideGateSignal, { ...claims, actor: 'li.approver', signature: '' });
    await handle.signal(decideGateSignal, { ...signDecision({ ...claims, actor: 'li.approver' }, 'a-key-that-is-not-the-workers-key-000'), actor: 'li.approver' });
    await handle.signal(decideGateSignal, await stack.signAsApi({ ...claims, actor: 'olivia.ops' }));
    const refused = await eventually(async () => {
      const r = await stack.http('GET', `/cutovers/${id}`, approver);
      return r.body.decisions.length === 4 ? (r.body as CutoverState) : undefined;
    }, 'three refused decisions');
    expect(refused.gates[1].status).toBe('open');
    // The checks run concurrently, so the decisions are recorded in any order.
    expect(refused.decisions.slice(1).map((d) => [d.accepted, d.refusal]).sort()).toEqual([
      [false, 'four-eyes rule: olivia.ops started this run and cannot decide its go/no-go gate'],
      [false, 'the decision is not signed (it did not come through the API)'],
      [false, expect.stringMatching(/^the decision signature is invalid \(forged or altered\): key [0-9a-f]{12} is not \(or no longer\) accepted$/)],
    ]);

    const decided = await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'approve', reason: '记录数一致 counts reconcile' });
    expect(decided.status).toBe(202);

    // No connected system has a switch driver in the default registry: the switch gate still asks.
    await approveWhenOpen(id, 'switch', approver);

    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');
    // No business interface on this stack: the business-test step says it did not run; every other step is done.
    expect(result.steps.filter((s) => s.status !== 'done').map((s) => [s.key, s.status, s.operatorNote])).toEqual([
      ['business-tests', 'skipped', '未执行 not run: BUSINESS_API_URL is not configured on the worker 未配置业务接口'],
    ]);
    expect(result.gates[1]).toMatchObject({ status: 'approved', decidedBy: 'li.approver', reason: '记录数一致 counts reconcile' });
    // the go/no-go approvers saw how many businesses would be missing (none) and how many rows were loaded flagged
    expect(result.gates[1].note).toMatch(/^主体缺失 entities missing if it went live now: 0; 问题数据 rows loaded flagged: [1-9]\d* /);
    expect(result.decisions).toHaveLength(6);
    expect(result.decisions[4]).toMatchObject({ gate: 'go-no-go', actor: 'li.approver', role: 'approver', accepted: true });
    expect(result.rollbackProof?.equal).toBe(true);

    // Every legacy row is either loaded or quarantined; under the default policies (异常数据处理策略) each planted
    // entity anomaly is loaded flagged under its own rule, and only approvals naming no entity (and their children, waiting for them) are held.
    const mapping = loadMapping(stack.settings.MAPPING_FILE);
    expect(result.tables.map((t) => t.table)).toEqual(mapping.tables.map((t) => t.name));
    for (const t of result.tables) {
      const legacy = stats[mapping.tables.find((m) => m.name === t.table)!.source.table as LegacyTable];
      expect({ table: t.table, read: t.rowsRead, quarantined: t.quarantinedByRule, flagged: t.flaggedByRule }).toEqual({ table: t.table, read: legacy.rows, quarantined: legacy.expectedQuarantine, flagged: legacy.expectedFlagged });
      expect(t.rowsLoaded + t.rowsQuarantined).toBe(t.rowsRead);
      expect(t.countsReconciled).toBe(true);
    }
    const entity = result.tables[0];
    expect(entity.rowsLoaded).toBe(entity.rowsRead); // every business entity is in the new system
    expect(Object.keys(entity.flaggedByRule!).sort()).toEqual(
      ['check:regcap', 'invalid_capital:regcap', 'invalid_date:apprdate', 'required:entname', 'unmapped_code:enttype'],
    );
    expect(result.tables.every((t) => t.carefulChunks === 0)).toBe(true); // the mapping caught everything before the target
    expect(result.tables.find((t) => t.table === 'approval_application')!.quarantinedByRule['orphan:market_entity']).toBeGreaterThan(0);

    await withClient(stack.settings.TARGET_DATABASE_URL, async (db) => {
      // Code values mapped and legacy text cleansed: no local codes, retired divisions, or half-width brackets survive.
      const local = await db.query(
        `SELECT count(*)::int AS n FROM market_entity
         WHERE enttype IN ('9999', 'QY01') OR regstate IN ('1001', '3001', '迁出') OR domdistrict = '440782' OR entname LIKE '%(%'`,
      );
      expect(local.rows[0].n).toBe(0);
      const mapped = await db.query(
        `SELECT count(*) FILTER (WHERE enttype = '9500' AND domdistrict = '440705')::int AS individual_xinhui,
                count(*) FILTER (WHERE opto IS NULL)::int AS open_ended,
                count(*) FILTER (WHERE NOT uniscid_valid)::int AS flagged_codes
         FROM market_entity`,
      );
      expect(mapped.rows[0].individual_xinhui).toBeGreaterThan(0);
      expect(mapped.rows[0].open_ended).toBeGreaterThan(0); // 9999-09-09 "no end" became NULL
      expect(mapped.rows[0].flagged_codes).toBeGreaterThan(0); // kept and flagged, never dropped
      const apptypes = await db.query('SELECT DISTINCT apptype FROM approval_application ORDER BY 1');
      expect(apptypes.rows.map((r) => r.apptype)).toEqual(['01', '02', '03']);
      const q = await db.query('SELECT table_name, rule, source_key, detail, raw_row FROM migration_quarantine');
      expect(q.rows).toHaveLength(result.tables.reduce((n, t) => n + t.rowsQuarantined, 0));
      for (const row of q.rows) {
        expect(row.source_key).toBeTruthy();
        expect(row.detail).toBeTruthy();
        expect(Object.values(row.raw_row)).toContain(row.source_key);
      }
      // 问题数据: the negative capital loaded flagged (regcap NULL), its issue holding the legacy value and the CHECK it broke
      const issues = await db.query(`SELECT q.source_key, q.raw_value, q.detail, e.regcap FROM migration_data_quality q JOIN market_entity e ON e.pripid = q.source_key WHERE q.rule = 'check:regcap'`);
      expect(issues.rows.length).toBe(result.tables[0].flaggedByRule!['check:regcap']);
      for (const i of issues.rows) expect(i).toMatchObject({ raw_value: '-5', detail: 'regcap=-5 violates the target\'s CHECK (regcap >= 0)', regcap: null });
      const dq = await db.query('SELECT count(*)::int AS n FROM migration_data_quality');
      expect(dq.rows[0].n).toBe(result.tables.reduce((n, t) => n + Object.values(t.flaggedByRule ?? {}).reduce((a, b) => a + b, 0), 0));
      // No orphan survived in the target.
      const orphans = await db.query(
        `SELECT count(*)::int AS n FROM approval_material m WHERE NOT EXISTS (SELECT 1 FROM approval_application a WHERE a.appid = m.appid)`,
      );
      expect(orphans.rows[0].n).toBe(0);
    });
    // 问题数据清单 in the evidence pack: no entity missing, the flagged rows per rule and district with examples
    const evidence = fs.readFileSync(result.evidence!.markdown, 'utf8');
    expect(evidence).toContain('主体缺失 Entities missing from the new system if it went live now: 0**');
    expect(evidence).toMatch(/\| market_entity \| invalid_capital:regcap \| 4407\d\d \| \d+ \| JM\d+ regcap=约十万左右/);
    const evidenceJson = JSON.parse(fs.readFileSync(result.evidence!.json, 'utf8'));
    expect(evidenceJson.dataQuality.entitiesMissing).toBe(0);
    // the sheet for business staff: CSV with a UTF-8 BOM (Excel), one line per held row and per issue, raw values kept
    const sheet = fs.readFileSync(path.join(path.dirname(result.evidence!.markdown), 'data-quality.csv'), 'utf8');
    expect(sheet.startsWith('\ufeff"kind 类型","table 表","rule 规则"')).toBe(true);
    expect(sheet).toContain('"约十万左右"');
    expect(sheet.split('\r\n').filter((l) => l.startsWith('"quarantined"')).length).toBe(result.tables.reduce((n, t) => n + t.rowsQuarantined, 0));
    expect(JSON.parse(fs.readFileSync(path.join(path.dirname(result.evidence!.markdown), 'data-quality.json'), 'utf8')).length).toBe(sheet.split('\r\n').length - 2);
    expect(evidenceJson.dataQuality.flagged.reduce((n: number, g: { rows: number }) => n + g.rows, 0)).toBe(
      result.tables.reduce((n, t) => n + Object.values(t.flaggedByRule ?? {}).reduce((a, b) => a + b, 0), 0),
    );
    // Legacy side untouched.
    await withClient(stack.settings.LEGACY_DATABASE_URL, async (db) => {
      const legacy = await db.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE enttype = '9999')::int AS local FROM e_baseinfo`);
      expect(legacy.rows[0].n).toBe(1500);
      expect(legacy.rows[0].local).toBeGreaterThan(0);
    });

    // The backup: a read-only file per table, matching its manifest.
    const manifest = JSON.parse(fs.readFileSync(`${result.backup!.dir}/manifest.json`, 'utf8'));
    expect(manifest.files).toHaveLength(mapping.tables.length);
    expect(manifest.files[0].rows).toBe(1500);
    expect(await sha256File(manifest.files[0].file)).toBe(manifest.files[0].sha256);
    expect(fs.statSync(manifest.files[0].file).mode & 0o222).toBe(0);

    // The UI can filter runs by the search attributes the workflow keeps up to date.
    const desc = await stack.temporal.workflow.getHandle(id).describe();
    expect(desc.searchAttributes.RunbookStatus).toEqual(['completed']);
    expect(desc.searchAttributes.RunbookPhase).toEqual(['finished']);

    const after = await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'reject' });
    expect(after.status).toBe(409);
  });

  it('refuses, at the API, an admin approving the run they started (four-eyes)', async () => {
    const admin = await stack.token('zhang.admin', 'admin');
    const started = await stack.http('POST', '/cutovers', admin, { mode: 'rehearsal', runId: `${stack.id}-four-eyes` });
    const id = started.body.workflowId as string;
    await eventually(async () => (await stack.http('GET', `/cutovers/${id}`, admin)).body.status === 'waiting_approval', 'the gate');
    const own = await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, admin, { decision: 'approve' });
    expect(own.status).toBe(403);
    expect(own.body.detail).toBe('zhang.admin started this run and cannot decide its gates');
    const state = (await stack.http('GET', `/cutovers/${id}`, admin)).body as CutoverState;
    expect(state.gates[0]).toMatchObject({ name: 'wipe', status: 'open' });
    expect(state.decisions).toHaveLength(0);
    // 目标库租约 The run holds the stack's target: it is cancelled, which releases it, before the next run starts.
    expect((await stack.http('POST', `/cutovers/${id}/cancel`, operator, { reason: '下一个测试 next test' })).status).toBe(202);
    const cancelled = await eventually(async () => {
      const r = (await stack.http('GET', `/cutovers/${id}`, admin)).body;
      return r.execution === 'CANCELLED' ? (r as CutoverState) : undefined;
    }, 'the four-eyes run cancelled');
    expect(cancelled).toMatchObject({ status: 'cancelled', targetLease: { released: expect.stringMatching(/released/) } });
  });

  it('ends as rejected when the approver says no-go', async () => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-reject` });
    const id = started.body.workflowId as string;
    await approveWhenOpen(id, 'wipe', approver);
    await eventually(async () => (await stack.http('GET', `/cutovers/${id}`, approver)).body.phase === 'go-no-go', 'the go/no-go gate');
    const decided = await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'reject', reason: '抽样不一致 sample mismatch' });
    expect(decided.status).toBe(202);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('rejected');
    expect(result.steps.find((s) => s.key === 'go-no-go')).toMatchObject({ status: 'rejected', detail: expect.stringContaining('li.approver') });
    // The rejection started the fallback, which ran its six steps to the end.
    expect(result.fallback).toMatchObject({ workflowId: `fallback-${stack.id}-reject`, status: 'completed' });
  });
});
