import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ensureDatabase, withClient } from '../../lib/db';
import { ReportContext, runTableCycle } from '../../reporting/batch';
import { seedGeneratedRegistry } from '../../reporting/generated-spec';
import { reportStatus, statusHtml, statusMarkdown } from '../../reporting/monitor';
import { startReceiver, Receiver } from '../../reporting/receiver';
import { startReporting } from '../support/reporting-env';
import { loadReportSpec } from '../../reporting/spec';

/** The 53-table / 1,090-item specification runs end to end; a receiver rejection stops a table with its reasons. */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `rg${randomBytes(4).toString('hex')}`;
const registryUrl = `${PG}/${id}_registry`;
const provinceUrl = `${PG}/${id}_province`;
const spec = loadReportSpec(path.join(__dirname, '..', '..', 'config', 'reporting', 'generated-53.json'));
const ROWS = 40;

describe('the generated 53-table / 1,090-item specification runs', () => {
  let receiver: Receiver;
  let ctx: ReportContext;
  let env: Awaited<ReturnType<typeof startReporting>>;

  beforeAll(async () => {
    await ensureDatabase(registryUrl);
    await withClient(registryUrl, (c) => seedGeneratedRegistry(c, ROWS));
    env = await startReporting(spec, registryUrl, provinceUrl);
    ({ ctx, receiver } = env);
  }, 300_000);
  afterAll(() => env?.close());

  it('every table: rows with a national code delivered and verified, the others held with their reason', async () => {
    for (const t of spec.tables) {
      const r = await runTableCycle(ctx, t.name);
      expect({ t: t.name, state: r.state, rows: r.rows, rejected: r.rejected }).toEqual({ t: t.name, state: 'verified', rows: ROWS - ROWS / 10, rejected: ROWS / 10 });
    }
    expect(receiver.accepted).toHaveLength(53);
    const status = await reportStatus(ctx);
    const g01 = status.tables.find((t) => t.table === 'rpt_g01')!;
    expect(g01.rejected.count).toBe(ROWS / 10);
    expect(g01.rejected.reasons[0].reason).toBe('status: code "1001" has no national code in regstate (登记状态 registration state → national)');
    expect(g01.rowsWaiting).toBe(0);
    expect(statusMarkdown(status)).toContain('| rpt_g53 上报表 g53 generated reported table |');
    expect(statusHtml(status)).toContain('<svg');
  }, 300_000);

  it('a held row comes back in once corrected; a cancelled row travels as C; the next batch has sequence 2', async () => {
    await withClient(registryUrl, async (c) => {
      await c.query(`UPDATE src_g07 SET state = '1' WHERE id = 'g07-000010'`);
      await c.query(`UPDATE src_g07 SET state = '4' WHERE id = 'g07-000011'`);
      await c.query(`DELETE FROM src_g08 WHERE id = 'g08-000001'`);
    });
    const r7 = await runTableCycle(ctx, 'rpt_g07');
    const r8 = await runTableCycle(ctx, 'rpt_g08');
    expect([r7.state, r8.state]).toEqual(['verified', 'verified']);
    const b7 = receiver.accepted.find((b) => b.table === 'rpt_g07' && b.sequence === 2)!;
    expect(b7.keys).toEqual([
      { op: 'U', key: 'g07-000010' },
      { op: 'C', key: 'g07-000011' },
    ]);
    expect(receiver.accepted.find((b) => b.table === 'rpt_g08' && b.sequence === 2)!.keys).toEqual([{ op: 'D', key: 'g08-000001' }]);
    // rpt_g08 keeps tombstones (odd tables): the row stays, marked deleted.
    const tomb = await withClient(provinceUrl, (c) => c.query(`SELECT _report_op FROM rpt_g08 WHERE rec_id = 'g08-000001'`));
    expect(tomb.rows).toEqual([{ _report_op: 'D' }]);
    const held = await withClient(provinceUrl, (c) => c.query(`SELECT key FROM report_rejected WHERE table_name = 'rpt_g07' ORDER BY key`));
    expect(held.rows.map((r) => r.key)).not.toContain('g07-000010');
  }, 120_000);

  it('a receiver rejection (a gap in the sequence) stops the table with the receiver\'s reason, and the monitor alerts', async () => {
    const other = await startReceiver(path.join(env.dir, 'other'));
    try {
      await withClient(registryUrl, (c) => c.query(`UPDATE src_g09 SET c5 = c5 || 'x' WHERE id = 'g09-000002'`));
      const r = await runTableCycle({ ...ctx, receiverUrl: other.url }, 'rpt_g09');
      expect(r.state).toBe('rejected');
      const b = await withClient(provinceUrl, (c) => c.query(`SELECT reasons FROM report_batch WHERE batch_id = $1`, [r.batchId]));
      expect(b.rows[0].reasons).toEqual(['rpt_g09: sequence 2 leaves a gap (expected 1)']);
      // It stays rejected: the next cycle does not prepare past it.
      expect(await runTableCycle(ctx, 'rpt_g09')).toMatchObject({ batchId: r.batchId, state: 'rejected' });
      const status = await reportStatus(ctx);
      expect(status.alerts).toContain(`rpt_g09: batch ${r.batchId} 被拒收 rejected: rpt_g09: sequence 2 leaves a gap (expected 1)`);
    } finally {
      await other.close();
    }
  }, 120_000);
});
