import path from 'node:path';
import type { Client } from 'pg';
import { withClient } from '../../lib/db';
import { registerTarget } from '../../lib/target-guard';
import type { CutoverState } from '../../workflows/cutover-messages';
import { eventually, TestStack } from './stack';

/**
 * 彩排 on another legacy registry (registry2, registry3, …): what those tests share. A stack on the registry's
 * fixture folder (its mapping.json and memory-db.json), the registry's generated data in the legacy database, an
 * operator and an approver, a registered target and a worker; then a rehearsal started through the API, each gate
 * (wipe, go/no-go, switch) approved as it opens, and the run's result.
 */
export class RegistryRehearsal<Stats> {
  readonly stack: TestStack;
  /** what the generator wrote (rows per table, the anomalies it planted) */
  stats!: Stats;
  operator!: string;
  approver!: string;

  /** `load` fills the legacy database (a datagen generator); `env` adds settings (LEGACY_SCHEMA, …). */
  constructor(
    fixture: string,
    private readonly load: (legacy: Client) => Promise<Stats>,
    env: Record<string, string> = {},
  ) {
    this.stack = new TestStack({ MAPPING_FILE: path.join(fixture, 'mapping.json'), ...env, MEMORY_DB_FILE: path.join(fixture, 'memory-db.json') });
  }

  async start(): Promise<void> {
    const { stack } = this;
    await stack.start();
    this.stats = await withClient(stack.settings.LEGACY_DATABASE_URL, this.load);
    this.operator = await stack.token('olivia.ops', 'operator');
    this.approver = await stack.token('li.approver', 'approver');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    await stack.startWorker();
  }

  stop(): Promise<void> {
    return this.stack.stop();
  }

  /** Waits until the gate is open (failing at once if the run ends first), then approves it through the API. */
  async approveWhenOpen(id: string, gate: string): Promise<void> {
    const { stack, approver } = this;
    await eventually(async () => {
      const r = await stack.http('GET', `/cutovers/${id}`, approver);
      if (r.body.status === 'failed' || r.body.status === 'completed') throw new Error(`run ended ${r.body.status} before gate ${gate}: ${JSON.stringify(r.body.steps?.filter((s: { status: string }) => s.status === 'failed'))}`);
      return r.body.gates?.find((g: { name: string }) => g.name === gate)?.status === 'open';
    }, `gate ${gate} to open`, 240_000);
    const decided = await stack.http('POST', `/cutovers/${id}/gates/${gate}/decision`, approver, { decision: 'approve', reason: `${gate} ok` });
    expect(decided.status).toBe(202);
  }

  /**
   * A rehearsal of the whole registry (chunks of 1000 rows, two lanes; verification in segments of `segmentRows`
   * rows, no sampling or business tests), every gate approved; it must complete. Returns its result.
   */
  async rehearse(runId: string, segmentRows: number): Promise<CutoverState> {
    const { stack } = this;
    const started = await stack.http('POST', '/cutovers', this.operator, {
      mode: 'rehearsal',
      runId,
      migration: { rowsPerChunk: 1000, concurrency: 2 },
      verification: { segmentRows, sample: { perType: 0 }, businessTests: { entities: 0 } },
    });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    await this.approveWhenOpen(id, 'wipe');
    await this.approveWhenOpen(id, 'go-no-go');
    await this.approveWhenOpen(id, 'switch');
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');
    return result;
  }
}
