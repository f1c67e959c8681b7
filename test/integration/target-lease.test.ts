import fs from 'node:fs';
import { withClient } from '../../lib/db';
import { databaseIdentity, registerTarget } from '../../lib/target-guard';
import { targetKey } from '../../lib/target-lease';
import type { CutoverState } from '../../workflows/cutover-messages';
import type { FallbackState } from '../../workflows/fallback-messages';
import { eventually, TestStack } from '../support/stack';

/**
 * 目标库租约 One cutover (or fallback) per target database at a time, against the real Temporal server,
 * worker, API and PostgreSQL: a second start gets 409 naming the holder; a start around the API is
 * refused by the workflow and recorded; the lease is released when a run completes, is rejected (its
 * fallback acting under its lease) or is cancelled; a terminated holder is recovered by the next start;
 * two cutovers on different targets run at once.
 */
describe('one run per target database (目标库租约)', () => {
  const stack = new TestStack();
  // A second deployment (own worker, task queue, legacy and target) sharing the runbook database.
  let other: TestStack;
  let operator: string;
  let viewer: string;
  let key: string;

  beforeAll(async () => {
    await stack.start();
    await stack.seedLegacy(150);
    operator = await stack.token('olivia.ops', 'operator');
    viewer = await stack.token('wang.viewer', 'viewer');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup', stack.settings.TARGET_DIALECT);
    key = targetKey(await withClient(stack.settings.TARGET_DATABASE_URL, (c) => databaseIdentity(c)));
    await stack.startWorker();
  });
  afterAll(async () => {
    await other?.stop().catch(() => undefined);
    await stack.stop();
  });

  const get = async (id: string, s = stack, token = viewer) => (await s.http('GET', `/cutovers/${id}`, token)).body as CutoverState & { execution: string };
  const leases = () => withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) => (await c.query('SELECT target_key, holder_workflow_id, holder_kind FROM target_lease ORDER BY target_key')).rows);
  const events = (workflowId: string) =>
    withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) => (await c.query('SELECT event, target_key, detail FROM target_lease_event WHERE workflow_id = $1 ORDER BY id', [workflowId])).rows);
  const start = async (runId: string, s = stack, token = operator) => {
    const r = await s.http('POST', '/cutovers', token, { mode: 'rehearsal', runId });
    expect([runId, r.status]).toEqual([runId, 201]);
    const id = r.body.workflowId as string;
    await eventually(async () => (await get(id, s)).status === 'waiting_approval', `${id} at its wipe gate`);
    return id;
  };
  const ended = async (id: string) => (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;

  let holder = '';

  it('a second cutover, or a fallback by hand, on the held target gets 409 naming the holder, and starts nothing', async () => {
    holder = await start(`${stack.id}-holder`);
    expect((await get(holder)).targetLease).toMatchObject({ targetKey: key, how: 'taken' });
    expect(await leases()).toEqual([{ target_key: key, holder_workflow_id: holder, holder_kind: 'cutover' }]);

    const second = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-second` });
    expect(second.status).toBe(409);
    expect(second.body.title).toBe('Target held 目标库已被占用');
    expect(second.body.detail).toContain(`cutover ${holder}`);
    expect(second.body.detail).toContain('started by olivia.ops');
    // The holder's own run id again (a double click) is the run that exists, not a second run.
    const again = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-holder` });
    expect([again.status, again.body.title]).toEqual([409, 'Run exists']);
    const byHand = await stack.http('POST', '/fallbacks', operator, { runId: `${stack.id}-holder`, reason: '手动回退 by hand' });
    expect(byHand.status).toBe(409);
    expect(byHand.body.detail).toContain(`cutover ${holder}`);
    // Nothing was started for either.
    await expect(stack.temporal.workflow.getHandle(`cutover-${stack.id}-second`).describe()).rejects.toMatchObject({ name: 'WorkflowNotFoundError' });
    await expect(stack.temporal.workflow.getHandle(`fallback-${stack.id}-holder`).describe()).rejects.toMatchObject({ name: 'WorkflowNotFoundError' });
    const refusedStarts = (await stack.auditRows()).filter((r) => r.status_code === 409 && /^start (cutover|fallback)$/.test(r.action));
    expect(refusedStarts.map((r) => r.action)).toEqual(['start cutover', 'start cutover', 'start fallback']);
  });

  it('a start around the API (signed, but past the check) on the held target is refused by the workflow and recorded', async () => {
    const workflowId = `cutover-${stack.id}-around`;
    const handle = await stack.temporal.workflow.start('cutover', {
      workflowId,
      taskQueue: stack.settings.TASK_QUEUE,
      args: [{ runId: `${stack.id}-around`, mode: 'rehearsal', requestedBy: 'olivia.ops', start: stack.signStart(workflowId, 'olivia.ops') }],
    });
    const result = (await handle.result()) as CutoverState;
    expect(result.status).toBe('failed');
    expect(result.failure).toContain('目标库已被占用');
    expect(result.failure).toContain(holder);
    expect(result.steps.filter((s) => s.status !== 'cancelled').map((s) => s.key)).toEqual(['evidence']);
    expect(result.backup).toBeUndefined();
    expect((await stack.auditRows()).filter((r) => r.run_id === workflowId)).toEqual([
      expect.objectContaining({ action: 'start refused by the run: target held by another run', status_code: 409, outcome: 'refused' }),
    ]);
    expect((await events(workflowId)).map((e) => [e.event, e.detail.holder.workflowId])).toEqual([['refused', holder]]);
    // The holder is untouched.
    expect(await leases()).toEqual([{ target_key: key, holder_workflow_id: holder, holder_kind: 'cutover' }]);
    expect((await get(holder)).execution).toBe('RUNNING');
  });

  it('a terminated holder (its code never releases) does not block the target: the next start recovers the lease, and says from whom', async () => {
    await stack.temporal.workflow.getHandle(holder).terminate('operator killed it 强制终止');
    expect(await leases()).toEqual([{ target_key: key, holder_workflow_id: holder, holder_kind: 'cutover' }]);
    const next = await start(`${stack.id}-next`);
    expect((await get(next)).targetLease).toMatchObject({ targetKey: key, how: 'recovered', recoveredFrom: { workflowId: holder, execution: 'TERMINATED' } });
    expect((await events(next)).map((e) => [e.event, e.detail.from?.workflowId, e.detail.execution])).toEqual([['recovered', holder, 'TERMINATED']]);

    // Cancelled: released at its end.
    expect((await stack.http('POST', `/cutovers/${next}/cancel`, operator, { reason: '释放 release it' })).status).toBe(202);
    await eventually(async () => (await get(next)).execution === 'CANCELLED', `${next} cancelled`);
    expect(await leases()).toEqual([]);
    expect((await get(next)).targetLease?.released).toMatch(/released/);
    expect((await events(next)).map((e) => e.event)).toEqual(['recovered', 'released']);
  });

  it('a rejected run falls back under its own lease (the child shares it), then releases it; a fallback by hand afterwards takes and releases its own', async () => {
    const id = await start(`${stack.id}-rejected`);
    await stack.approveGate(id, 'wipe', viewer);
    await eventually(async () => (await get(id)).phase === 'go-no-go', `${id} at go/no-go`);
    const rejecter = await stack.token('li.approver', 'approver');
    expect((await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, rejecter, { decision: 'reject', reason: '抽样不一致 sample mismatch' })).status).toBe(202);
    const result = await ended(id);
    expect(result.status).toBe('rejected');
    expect(result.fallback).toMatchObject({ workflowId: `fallback-${stack.id}-rejected`, status: 'completed' });
    const child = (await stack.temporal.workflow.getHandle(`fallback-${stack.id}-rejected`).result()) as FallbackState;
    expect(child.targetLease).toMatchObject({ targetKey: key, how: 'shared with parent' });
    expect((await events(`fallback-${stack.id}-rejected`)).map((e) => e.event)).toEqual(['shared']);
    expect(result.targetLease?.released).toMatch(/released/);
    expect(await leases()).toEqual([]);

    const byHand = await stack.http('POST', '/fallbacks', operator, { runId: `${stack.id}-rejected`, reason: '再次回退 again by hand', cutoverId: id });
    expect(byHand.status).toBe(201);
    const fb = (await stack.temporal.workflow.getHandle(byHand.body.workflowId).result()) as FallbackState;
    expect(fb.status).toBe('completed');
    expect(fb.targetLease).toMatchObject({ targetKey: key, how: 'taken', released: expect.stringMatching(/released/) });
    expect(await leases()).toEqual([]);
  });

  it('a completed run releases the lease', async () => {
    const id = await start(`${stack.id}-done`);
    await stack.approveGate(id, 'wipe', viewer);
    await stack.approveGate(id, 'go-no-go', viewer);
    await stack.approveGate(id, 'switch', viewer);
    const result = await ended(id);
    expect(result.status).toBe('completed');
    expect(result.targetLease).toMatchObject({ targetKey: key, how: 'taken', released: expect.stringMatching(/released/) });
    expect(await leases()).toEqual([]);
    // The evidence pack names the target the run held.
    expect(fs.readFileSync(result.evidence!.markdown, 'utf8')).toContain(`- 目标库租约 Target lease: ${key} (taken;`);
    expect((await events(id)).map((e) => [e.event, e.detail?.outcome])).toEqual([
      ['taken', undefined],
      ['released', 'completed'],
    ]);
  });

  it('two cutovers on different targets run at once, each holding its own target', async () => {
    other = new TestStack({ RUNBOOK_DATABASE_URL: stack.settings.RUNBOOK_DATABASE_URL });
    await other.start();
    await other.seedLegacy(120);
    const otherOperator = await other.token('zhou.ops', 'operator');
    const otherViewer = await other.token('zhou.viewer', 'viewer');
    await registerTarget(other.settings.TARGET_DATABASE_URL, other.settings.LEGACY_DATABASE_URL, 'test-setup', other.settings.TARGET_DIALECT);
    await other.startWorker();
    const otherKey = targetKey(await withClient(other.settings.TARGET_DATABASE_URL, (c) => databaseIdentity(c)));
    expect(otherKey).not.toBe(key);

    const [mine, theirs] = await Promise.all([start(`${stack.id}-one`), start(`${other.id}-two`, other, otherOperator)]);
    expect(await leases()).toEqual(
      [
        { target_key: key, holder_workflow_id: mine, holder_kind: 'cutover' },
        { target_key: otherKey, holder_workflow_id: theirs, holder_kind: 'cutover' },
      ].sort((a, b) => a.target_key.localeCompare(b.target_key)),
    );
    // Both migrate side by side, each into its own target, to their go/no-go gates.
    await Promise.all([stack.approveGate(mine, 'wipe', viewer), other.approveGate(theirs, 'wipe', otherViewer)]);
    await Promise.all([
      eventually(async () => (await get(mine)).phase === 'go-no-go', `${mine} at go/no-go`),
      eventually(async () => (await get(theirs, other, otherViewer)).phase === 'go-no-go', `${theirs} at go/no-go`),
    ]);
    expect((await get(mine)).tables.find((t) => t.table === 'market_entity')?.rowsRead).toBe(150);
    expect((await get(theirs, other, otherViewer)).tables.find((t) => t.table === 'market_entity')?.rowsRead).toBe(120);
  });
});
