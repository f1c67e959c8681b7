import fs from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { withClient } from '../../lib/db';
import { digestHistory } from '../../reports/run-history';
import { registerTarget } from '../../lib/target-guard';
import type { BackupManifest } from '../../activities/backup';
import { loadMapping } from '../../migration/mapping';
import type { CutoverState } from '../../workflows/cutover-messages';
import { keyReconciliation } from '../support/reconcile';
import { eventually, TestStack } from '../support/stack';
import { DedicatedTemporal } from '../support/temporal-server';

/**
 * 系统上线 survives what a cutover weekend can throw at the machinery: the worker killed (SIGKILL) in
 * the middle of the backup and again in the middle of the migration, and the Temporal server stopped
 * and started again while a run waits at a gate.
 */
describe('go-live cutover survives a killed worker during its steps', () => {
  const stack = new TestStack();
  let operator: string;
  let approver: string;

  beforeAll(async () => {
    await stack.start();
    await stack.seedLegacy(6000, 13);
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    await stack.startWorker();
  });
  afterAll(() => stack.stop());

  const state = async (id: string) => (await stack.http('GET', `/cutovers/${id}`, operator)).body as CutoverState;
  const approve = async (id: string, gate: string) => {
    await eventually(async () => (await state(id)).gates.find((g) => g.name === gate)?.status === 'open', `the ${gate} gate`, 180_000);
    expect((await stack.http('POST', `/cutovers/${id}/gates/${gate}/decision`, approver, { decision: 'approve', reason: 'ok' })).status).toBe(202);
  };

  it('killed while backing up and while migrating, it completes and the target reconciles with no duplicates', async () => {
    const runId = `${stack.id}-killed`;
    // A session of the test's holds a lock on one legacy table: the backup's export waits on it, so the
    // kill lands inside the backup for certain. (A lock, not a write: the legacy data stays untouched.)
    const locker = new PgClient({ connectionString: stack.settings.LEGACY_DATABASE_URL });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE e_person IN ACCESS EXCLUSIVE MODE');
    const started = await stack.http('POST', '/cutovers', operator, {
      mode: 'rehearsal',
      runId,
      // Short heartbeat window: a dead worker's backup and chunks are taken over within seconds.
      migration: { rowsPerChunk: 1500, concurrency: 1, heartbeatSeconds: 5 },
    });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    const backupDir = path.join(stack.backupDir, runId, 'legacy');
    await eventually(async () => fs.existsSync(path.join(backupDir, 'e_person.copy.partial')), 'the backup to reach the locked table');
    expect(fs.existsSync(path.join(backupDir, 'manifest.json'))).toBe(false);
    expect((await state(id)).steps.find((s) => s.key === 'backup')?.status).toBe('running');
    await stack.killWorker('SIGKILL');
    await locker.query('ROLLBACK');
    await locker.end();
    await stack.startWorker();

    await approve(id, 'wipe');
    // Killed again once the migration has committed a few chunks and is still going.
    await eventually(
      async () => Number((await withClient(stack.settings.TARGET_DATABASE_URL, (c) => c.query('SELECT count(*)::int AS n FROM migration_chunk').catch(() => ({ rows: [{ n: 0 }] })))).rows[0].n) >= 3,
      'three committed chunks',
      120_000,
    );
    const migrating = await state(id);
    expect(migrating.steps.find((s) => s.key === 'migrate')?.status).toBe('running');
    const chunksAtKill = Number((await withClient(stack.settings.TARGET_DATABASE_URL, (c) => c.query('SELECT count(*)::int AS n FROM migration_chunk'))).rows[0].n);
    await stack.killWorker('SIGKILL');
    await stack.startWorker();

    await approve(id, 'go-no-go');
    await approve(id, 'switch');
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');
    expect(result.tables.reduce((n, t) => n + t.chunks, 0)).toBeGreaterThan(chunksAtKill); // the kill fell inside the step

    // The first backup attempt died with its worker; the second redid it whole, and it matches the legacy data.
    const history = digestHistory(id, await stack.temporal.workflow.getHandle(id).fetchHistory());
    expect(history.failedAttempts).toEqual([expect.objectContaining({ activityType: 'backupLegacy', attempt: 1, final: false, message: expect.stringMatching(/heartbeat/i) })]);
    const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, 'manifest.json'), 'utf8')) as BackupManifest;
    const legacyCounts = await withClient(stack.settings.LEGACY_DATABASE_URL, async (c) =>
      Promise.all(manifest.files.map(async (f) => ({ table: f.table, rows: (await c.query(`SELECT count(*)::int AS n FROM ${f.table}`)).rows[0].n }))),
    );
    expect(manifest.files.map((f) => ({ table: f.table, rows: f.rows }))).toEqual(legacyCounts);
    expect(fs.readdirSync(backupDir).filter((f) => f.endsWith('.partial'))).toEqual([]);

    // Source = loaded + quarantined, key by key, for every table; the counts the verify step saw agree.
    const keys = await keyReconciliation(stack.settings.LEGACY_DATABASE_URL, stack.settings.TARGET_DATABASE_URL, loadMapping(stack.settings.MAPPING_FILE));
    expect(keys.target).toEqual(keys.source);
    expect(result.verification?.counts.every((c) => c.ok && c.source === c.loaded + c.quarantined)).toBe(true);
    expect(result.tables.every((t) => t.countsReconciled)).toBe(true);
  }, 600_000);
});

describe('go-live cutover survives a Temporal server restart while it waits at a gate', () => {
  const temporal = new DedicatedTemporal();
  let stack: TestStack;
  let operator: string;
  let approver: string;

  beforeAll(async () => {
    await temporal.start();
    stack = new TestStack({ TEMPORAL_ADDRESS: temporal.address });
    await stack.start();
    await stack.seedLegacy(200, 17);
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack?.stop();
    await temporal.dispose();
  });

  const state = async (id: string) => (await stack.http('GET', `/cutovers/${id}`, operator)).body as CutoverState;

  it('after the restart the gate is approved through the API and the run completes', async () => {
    const id = await stack.startCutoverAtGate(operator, `${stack.id}-restart`);
    expect((await state(id)).status).toBe('waiting_approval');

    await temporal.stop();
    // Really down: the API cannot reach the run.
    expect((await stack.http('GET', `/cutovers/${id}`, operator)).status).toBeGreaterThanOrEqual(500);
    await temporal.start();

    // The API's client and the worker reconnect by themselves; the run is where it was.
    const waiting = await eventually(async () => {
      const s = await state(id);
      return s.gates?.find((g) => g.name === 'go-no-go')?.status === 'open' ? s : undefined;
    }, 'the run to answer again after the restart', 120_000);
    expect(waiting.status).toBe('waiting_approval');
    const decided = await eventually(async () => {
      const r = await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'approve', reason: '重启后批准 approved after the restart' });
      return r.status === 202 ? r : undefined;
    }, 'the go/no-go decision to be accepted');
    expect(decided.status).toBe(202);
    await eventually(async () => (await state(id)).gates.find((g) => g.name === 'switch')?.status === 'open', 'the switch gate', 120_000);
    expect((await stack.http('POST', `/cutovers/${id}/gates/switch/decision`, approver, { decision: 'approve', reason: 'ok' })).status).toBe(202);

    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');
    expect(result.gates.find((g) => g.name === 'go-no-go')).toMatchObject({ status: 'approved', decidedBy: 'li.approver', reason: '重启后批准 approved after the restart' });
    expect(result.rollbackProof?.equal).toBe(true);
    // No business interface on this stack: the step says it did not run rather than pass.
    expect(result.steps.find((s) => s.key === 'business-tests')).toMatchObject({ status: 'skipped', operatorNote: expect.stringContaining('BUSINESS_API_URL is not configured') });
  }, 400_000);
});
