import fs from 'node:fs';
import { loadLegacyDataset, GeneratedStats } from '../../datagen/legacy-generator';
import { withClient } from '../../lib/db';
import { signDecision } from '../../lib/decision-signing';
import { sha256File } from '../../activities/backup';
import { decideGateSignal, CutoverState } from '../../workflows/cutover-messages';
import { eventually, TestStack } from '../support/stack';

/**
 * One rehearsal cutover through the real API, the real worker process, the real Temporal server
 * and real PostgreSQL databases — with the worker killed while the run waits at its gate.
 */
describe('cutover end to end (API → Temporal → worker → PostgreSQL)', () => {
  const stack = new TestStack();
  let stats: GeneratedStats;
  let operator: string;
  let approver: string;

  beforeAll(async () => {
    await stack.start();
    stats = await withClient(stack.settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities: 3000, seed: 7, anomalyRate: 0.02 }));
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await stack.startWorker();
  });

  afterAll(() => stack.stop());

  it('migrates, survives a worker kill at the gate, and completes once approved', async () => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-e2e` });
    expect(started.status).toBe(201);
    expect(started.body.workflowId).toBe(`cutover-${stack.id}-e2e`);
    const id = started.body.workflowId as string;

    const atGate = await eventually(async () => {
      const r = await stack.http('GET', `/cutovers/${id}`, approver);
      return r.body.status === 'waiting_approval' ? (r.body as CutoverState) : undefined;
    }, 'the run to reach its go/no-go gate');
    expect(atGate.gates[0]).toMatchObject({ name: 'go-no-go', status: 'open' });

    // The worker dies while the run waits for people; the run must not notice beyond a pause.
    await stack.killWorker('SIGKILL');
    await stack.startWorker();

    // Signals that bypass the API do not open the gate: unsigned, forged, or signed for the initiator.
    const handle = stack.temporal.workflow.getHandle(id);
    const claims = { workflowId: id, gate: 'go-no-go', decision: 'approve' as const, role: 'approver', issuedAt: new Date().toISOString() };
    await handle.signal(decideGateSignal, { ...claims, actor: 'li.approver', signature: '' });
    await handle.signal(decideGateSignal, { ...signDecision({ ...claims, actor: 'li.approver' }, 'a-key-that-is-not-the-workers-key-000'), actor: 'li.approver' });
    await handle.signal(decideGateSignal, signDecision({ ...claims, actor: 'olivia.ops' }, stack.settings.APPROVAL_SIGNING_KEY));
    const refused = await eventually(async () => {
      const r = await stack.http('GET', `/cutovers/${id}`, approver);
      return r.body.decisions.length === 3 ? (r.body as CutoverState) : undefined;
    }, 'three refused decisions');
    expect(refused.gates[0].status).toBe('open');
    // The checks run concurrently, so the decisions are recorded in any order.
    expect(refused.decisions.map((d) => [d.accepted, d.refusal]).sort()).toEqual([
      [false, 'four-eyes rule: olivia.ops started this run and cannot decide its go/no-go gate'],
      [false, 'the decision is not signed (it did not come through the API)'],
      [false, 'the decision signature is invalid (forged or altered)'],
    ]);

    const decided = await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'approve', reason: '记录数一致 counts reconcile' });
    expect(decided.status).toBe(202);

    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');
    expect(result.steps.map((s) => s.status)).toEqual(['done', 'done', 'done', 'done', 'done']);
    expect(result.gates[0]).toMatchObject({ status: 'approved', decidedBy: 'li.approver', reason: '记录数一致 counts reconcile' });
    expect(result.decisions).toHaveLength(4);
    expect(result.decisions[3]).toMatchObject({ actor: 'li.approver', role: 'approver', accepted: true });

    // Every legacy row is either loaded or quarantined, with the planted anomalies in quarantine.
    const anomalies = stats.anomalies.unmappedEnttype + stats.anomalies.missingName;
    expect(anomalies).toBeGreaterThan(0);
    const [table] = result.tables;
    expect(table).toMatchObject({ table: 'market_entity', rowsRead: 3000, rowsLoaded: 3000 - anomalies, rowsQuarantined: anomalies, countsReconciled: true });
    expect(table.quarantinedByRule).toEqual({
      'unmapped_code:enttype': stats.anomalies.unmappedEnttype,
      'required:entname': stats.anomalies.missingName,
    });

    await withClient(stack.settings.TARGET_DATABASE_URL, async (db) => {
      const loaded = await db.query('SELECT count(*)::int AS n FROM market_entity');
      expect(loaded.rows[0].n).toBe(3000 - anomalies);
      // Code values mapped: no legacy local codes or retired divisions survive in the target.
      const local = await db.query(
        `SELECT count(*)::int AS n FROM market_entity
         WHERE enttype IN ('9999', 'QY01') OR regstate IN ('1001', '3001', '迁出') OR domdistrict = '440782'`,
      );
      expect(local.rows[0].n).toBe(0);
      const mapped = await db.query(`SELECT count(*)::int AS n FROM market_entity WHERE enttype = '9500' AND domdistrict = '440705'`);
      expect(mapped.rows[0].n).toBeGreaterThan(0);
      const q = await db.query('SELECT rule, source_key, raw_row FROM migration_quarantine ORDER BY source_key');
      expect(q.rows).toHaveLength(anomalies);
      for (const row of q.rows) {
        expect(row.source_key).toMatch(/^JM\d{10}$/);
        expect(row.raw_row.pripid).toBe(row.source_key);
      }
    });
    // Legacy side untouched.
    await withClient(stack.settings.LEGACY_DATABASE_URL, async (db) => {
      const legacy = await db.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE enttype = '9999')::int AS local FROM e_baseinfo`);
      expect(legacy.rows[0].n).toBe(3000);
      expect(legacy.rows[0].local).toBeGreaterThan(0);
    });

    // The backup: a read-only file per table, matching its manifest.
    const manifest = JSON.parse(fs.readFileSync(`${result.backup!.dir}/manifest.json`, 'utf8'));
    expect(manifest.files).toHaveLength(1);
    expect(manifest.files[0].rows).toBe(3000);
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
    const own = await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, admin, { decision: 'approve' });
    expect(own.status).toBe(403);
    expect(own.body.detail).toBe('zhang.admin started this run and cannot decide its gates');
    const state = (await stack.http('GET', `/cutovers/${id}`, admin)).body as CutoverState;
    expect(state.gates[0].status).toBe('open');
    expect(state.decisions).toHaveLength(0);
  });

  it('ends as rejected when the approver says no-go', async () => {
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-reject` });
    const id = started.body.workflowId as string;
    await eventually(async () => (await stack.http('GET', `/cutovers/${id}`, approver)).body.status === 'waiting_approval', 'the gate');
    const decided = await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'reject', reason: '抽样不一致 sample mismatch' });
    expect(decided.status).toBe(202);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('rejected');
    expect(result.steps[4]).toMatchObject({ status: 'rejected', detail: expect.stringContaining('li.approver') });
  });
});
