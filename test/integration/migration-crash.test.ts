import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { withClient } from '../../lib/db';
import { registerTarget } from '../../lib/target-guard';
import { loadMapping } from '../../migration/mapping';
import type { CutoverState } from '../../workflows/cutover-messages';
import { keyReconciliation } from '../support/reconcile';
import { eventually, TestStack } from '../support/stack';

/**
 * The worker is killed (SIGKILL) while a table is being copied. After a restart the run completes with
 * every legacy row loaded or quarantined exactly once, and at most the one chunk in flight redone.
 */
describe('migration survives a worker crash mid-table', () => {
  const stack = new TestStack();
  let operator: string;
  let approver: string;

  beforeAll(async () => {
    await stack.start();
    await withClient(stack.settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities: 12000, seed: 11, anomalyRate: 0.02 }));
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    await stack.startWorker();
  });
  afterAll(() => stack.stop());

  const gateOpen = (id: string, gate: string, timeoutMs?: number) =>
    eventually(async () => (await stack.http('GET', `/cutovers/${id}`, approver)).body.gates?.find((g: { name: string }) => g.name === gate)?.status === 'open', `the ${gate} gate`, timeoutMs);
  const target = <T>(sql: string) => withClient(stack.settings.TARGET_DATABASE_URL, async (c) => (await c.query(sql)).rows as T[]);

  it('loses and duplicates nothing, and redoes at most the chunk in flight', async () => {
    const started = await stack.http('POST', '/cutovers', operator, {
      mode: 'rehearsal',
      runId: `${stack.id}-crash`,
      // One lane, small chunks, a short heartbeat window: the crash lands inside a table and is noticed fast.
      migration: { rowsPerChunk: 3000, concurrency: 1, heartbeatSeconds: 5 },
    });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    await gateOpen(id, 'wipe');
    await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'approve' });

    const before = await eventually(async () => {
      const rows = await target<{ table_name: string; n: number }>(
        `SELECT table_name, count(*)::int AS n FROM migration_chunk GROUP BY 1`,
      ).catch(() => []);
      const person = rows.find((r) => r.table_name === 'entity_person');
      return person && person.n >= 2 ? person.n : undefined;
    }, 'two committed chunks of entity_person', 120_000);
    await stack.killWorker('SIGKILL');
    await stack.startWorker();

    await gateOpen(id, 'go-no-go', 180_000);
    await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'approve' });
    await gateOpen(id, 'switch');
    await stack.http('POST', `/cutovers/${id}/gates/switch/decision`, approver, { decision: 'approve' });
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');

    const person = result.tables.find((t) => t.table === 'entity_person')!;
    expect(before).toBeLessThan(person.chunks); // the kill really fell inside the table

    // Every source key is in the target or in quarantine, exactly once, for every table.
    const keys = await keyReconciliation(stack.settings.LEGACY_DATABASE_URL, stack.settings.TARGET_DATABASE_URL, loadMapping(stack.settings.MAPPING_FILE));
    expect(keys.target).toEqual(keys.source);

    const redone = await target<{ table_name: string; chunk_id: string }>(`SELECT table_name, chunk_id FROM migration_chunk WHERE attempt > 1`);
    expect(redone.length).toBeLessThanOrEqual(1);
  });
});
