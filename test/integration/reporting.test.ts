import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { loadMapping } from '../../migration/mapping';
import { deliverBatch, ensureReportSchema, prepareBatch, ReportContext, runTableCycle, verifyBatch } from '../../reporting/batch';
import { reportStatus } from '../../reporting/monitor';
import type { Receiver } from '../../reporting/receiver';
import { loadReportSpec } from '../../reporting/spec';
import { migrateInto, startReporting } from '../support/reporting-env';

/**
 * 数据汇聚及上报 on real PostgreSQL and the real reference receiver: the registry is a target the
 * migration engine built from generated legacy data (not shaped for reporting); the province is a second
 * database; the national platform is the receiver over HTTP.
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `rp${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const registryUrl = `${PG}/${id}_registry`;
const provinceUrl = `${PG}/${id}_province`;
const root = path.join(__dirname, '..', '..');
const mapping = loadMapping(path.join(root, 'config', 'mapping.json'));
const spec = loadReportSpec(path.join(root, 'config', 'reporting', 'registry.json'));

describe('数据汇聚及上报 reporting: registry → provincial DB → national batches', () => {
  let receiver: Receiver;
  let ctx: ReportContext;
  let env: Awaited<ReturnType<typeof startReporting>>;
  const cycleAll = async () => {
    const out = [];
    for (const t of spec.tables) out.push(await runTableCycle(ctx, t.name));
    return out;
  };
  const receivedKeys = (table: string) => receiver.accepted.filter((b) => b.table === table).flatMap((b) => b.keys.map((k) => `${b.sequence}:${k.op}:${k.key}`));

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(registryUrl);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 400, seed: 19, anomalyRate: 0.02 }));
    await migrateInto(legacyUrl, registryUrl, mapping);
    env = await startReporting(spec, registryUrl, provinceUrl);
    ({ ctx, receiver } = env);
  }, 300_000);
  afterAll(async () => {
    await env?.close();
    await dropDatabase(legacyUrl);
  });

  it('a full first cycle: every registry row reaches the province and the receiver, verified three ways', async () => {
    const results = await cycleAll();
    for (const r of results) expect({ table: r.table, state: r.state, ok: r.verification?.ok }).toEqual({ table: r.table, state: 'verified', ok: true });
    for (const t of spec.tables) {
      const registry = await withClient(registryUrl, (c) => c.query<{ n: string }>(`SELECT count(*) AS n FROM ${t.source.table}`));
      const province = await withClient(provinceUrl, (c) => c.query<{ n: string }>(`SELECT count(*) AS n FROM ${t.name}`));
      const rejected = await withClient(provinceUrl, (c) => c.query<{ n: string }>(`SELECT count(*) AS n FROM report_rejected WHERE table_name = $1`, [t.name]));
      // Nothing lost: every registry row is at the province or held with its reason.
      expect(Number(province.rows[0].n) + Number(rejected.rows[0].n)).toBe(Number(registry.rows[0].n));
      const delivered = receiver.accepted.filter((b) => b.table === t.name);
      expect(delivered.map((b) => b.sequence)).toEqual([1]);
      expect(delivered[0].rows).toBe(Number(province.rows[0].n));
    }
    const v = results[0].verification!;
    expect(v.sha256.batch).toBe(v.sha256.province);
    expect(v.sha256.batch).toBe(v.sha256.source);
  }, 300_000);

  it('a second cycle with no change delivers nothing and moves the watermark', async () => {
    const before = receiver.accepted.length;
    const results = await cycleAll();
    expect(results.map((r) => r.state)).toEqual(spec.tables.map(() => 'empty'));
    expect(receiver.accepted.length).toBe(before);
  }, 120_000);

  it('an entity changed, another cancelled (注销), a person deleted: each arrives in the next cycle as the spec says', async () => {
    const picks = await withClient(registryUrl, async (c) => {
      const e = await c.query<{ pripid: string }>(`SELECT pripid FROM market_entity WHERE regstate = '1' AND enttype IS NOT NULL ORDER BY pripid LIMIT 2`);
      const p = await c.query<{ personid: string }>(`SELECT personid FROM entity_person ORDER BY personid LIMIT 1`);
      await c.query(`UPDATE market_entity SET entname = entname || '（变更）' WHERE pripid = $1`, [e.rows[0].pripid]);
      await c.query(`UPDATE market_entity SET regstate = '4' WHERE pripid = $1`, [e.rows[1].pripid]);
      await c.query(`DELETE FROM entity_person WHERE personid = $1`, [p.rows[0].personid]);
      const d = await c.query(`DELETE FROM market_entity WHERE pripid = (SELECT max(pripid) FROM market_entity WHERE regstate = '1') RETURNING pripid`);
      expect(d.rowCount).toBe(1);
      return { changed: e.rows[0].pripid, cancelled: e.rows[1].pripid, person: p.rows[0].personid };
    });
    const gone = receiver.accepted.length;
    const results = await cycleAll();
    const entity = results.find((r) => r.table === 'rpt_market_entity')!;
    expect(entity.state).toBe('verified');
    const batch = receiver.accepted.slice(gone).find((b) => b.table === 'rpt_market_entity')!;
    expect(batch.sequence).toBe(2);
    const ops = new Map(batch.keys.map((k) => [k.key, k.op]));
    expect(ops.get(picks.changed)).toBe('U');
    expect(ops.get(picks.cancelled)).toBe('C');
    // Only the changed rows travel: two updates and the one deleted entity (a tombstone at the province).
    expect([...ops.values()].sort()).toEqual(['C', 'D', 'U']);
    const person = receiver.accepted.slice(gone).find((b) => b.table === 'rpt_entity_person')!;
    expect(person.keys).toEqual([{ op: 'D', key: picks.person }]);
    await withClient(provinceUrl, async (c) => {
      const e = await c.query(`SELECT entname, regstate, _report_op FROM rpt_market_entity WHERE pripid = ANY($1)`, [[picks.changed, picks.cancelled]]);
      expect(e.rows.map((r) => r._report_op).sort()).toEqual(['C', 'U']);
      expect(e.rows.some((r) => String(r.entname).endsWith('（变更）'))).toBe(true);
      const tomb = await c.query(`SELECT count(*)::int AS n FROM rpt_market_entity WHERE _report_op = 'D'`);
      expect(tomb.rows[0].n).toBe(1);
      // entity_person deletes at the province (spec: deletes.province = "delete").
      const p = await c.query(`SELECT count(*)::int AS n FROM rpt_entity_person WHERE personid = $1`, [picks.person]);
      expect(p.rows[0].n).toBe(0);
    });
  }, 120_000);

  it('a crash after the province commit and a receiver that fails twice then recovers: no gap, no duplicate', async () => {
    const keys = await withClient(registryUrl, async (c) => {
      const r = await c.query<{ nameid: string }>(`UPDATE name_reservation SET entname = entname || '号' WHERE nameid IN (SELECT nameid FROM name_reservation WHERE entname IS NOT NULL ORDER BY nameid LIMIT 5) RETURNING nameid`);
      return r.rows.map((x) => x.nameid).sort();
    });
    const table = 'rpt_name_reservation';
    // The worker dies right after step 1 committed: the batch is in the ledger, not delivered.
    const p = await prepareBatch(ctx, table);
    expect(p.rows).toBe(5);
    // A second preparer (the retried activity) finds the open batch instead of making another.
    const again = await prepareBatch(ctx, table);
    expect(again.open).toEqual({ batchId: p.batchId, state: 'applied' });
    receiver.failNext(2);
    await expect(deliverBatch(ctx, p.batchId!)).rejects.toThrow(/HTTP 503/);
    await expect(deliverBatch(ctx, p.batchId!)).rejects.toThrow(/HTTP 503/);
    const r = await runTableCycle(ctx, table);
    expect(r).toMatchObject({ batchId: p.batchId, state: 'verified' });
    // A re-delivery of an acknowledged batch (a lost ack) is recognised by the receiver, not applied twice.
    await withClient(provinceUrl, (c) => c.query(`UPDATE report_batch SET state = 'applied' WHERE batch_id = $1`, [p.batchId]));
    expect((await deliverBatch(ctx, p.batchId!)).ack).toMatchObject({ duplicate: true });
    await verifyBatch(ctx, p.batchId!);
    const got = receiver.accepted.filter((b) => b.table === table);
    expect(got.map((b) => b.sequence)).toEqual([1, 2]);
    expect(got[1].keys.map((k) => k.key).sort()).toEqual(keys);
    // Each key once per batch, each batch once: (sequence, key) pairs are unique.
    const all = receivedKeys(table).map((k) => k.split(':').filter((_, i) => i !== 1).join(':'));
    expect(new Set(all).size).toBe(all.length);
    expect(receiver.answers[503]).toBe(2);
  }, 120_000);

  it('a late commit with an old change time is not missed', async () => {
    const { Client } = await import('pg');
    const late = new Client({ connectionString: registryUrl });
    await late.connect();
    try {
      await late.query('BEGIN');
      const r = await late.query<{ appid: string }>(`UPDATE approval_application SET handler = 'late-handler' WHERE appid = (SELECT min(appid) FROM approval_application) RETURNING appid`);
      // A cycle runs while that transaction is open: it cannot see it, and must not pass it.
      const during = await runTableCycle(ctx, 'rpt_approval_application');
      expect(during.state).toBe('empty');
      await late.query('COMMIT');
      const after = await runTableCycle(ctx, 'rpt_approval_application');
      expect(after.state).toBe('verified');
      const b = receiver.accepted.filter((x) => x.table === 'rpt_approval_application').pop()!;
      expect(b.keys).toEqual([{ op: 'U', key: r.rows[0].appid }]);
    } finally {
      await late.end();
    }
  }, 120_000);

  it('a province that differs from the batch holds the batch with the differing key; the table does not advance past it', async () => {
    const key = await withClient(registryUrl, async (c) => {
      const r = await c.query<{ altid: string }>(`UPDATE entity_change SET altaf = 'after-x' WHERE altid = (SELECT min(altid) FROM entity_change) RETURNING altid`);
      return r.rows[0].altid;
    });
    const p = await prepareBatch(ctx, 'rpt_entity_change');
    await deliverBatch(ctx, p.batchId!);
    await withClient(provinceUrl, (c) => c.query(`UPDATE rpt_entity_change SET altaf = 'tampered' WHERE altid = $1`, [key]));
    const v = await verifyBatch(ctx, p.batchId!);
    expect(v.state).toBe('held');
    expect(v.differingKeys).toEqual([expect.objectContaining({ key, where: expect.stringMatching(/^province .*tampered/) })]);
    const wm = await withClient(provinceUrl, (c) => c.query(`SELECT last_batch FROM report_watermark WHERE table_name = 'rpt_entity_change'`));
    expect(wm.rows[0].last_batch).not.toBe(p.batchId);
    // The next cycle stays on the held batch.
    expect(await runTableCycle(ctx, 'rpt_entity_change')).toMatchObject({ batchId: p.batchId, state: 'held' });
    const status = await reportStatus(ctx);
    const row = status.tables.find((t) => t.table === 'rpt_entity_change')!;
    expect(row.held).toEqual([expect.objectContaining({ batchId: p.batchId })]);
    expect(status.alerts.some((a) => a.includes('rpt_entity_change') && a.includes('held'))).toBe(true);
  }, 120_000);

  it('补报 a backfill of a date range re-sends those rows as a batch of its own without moving the watermark; the change log is pruned below the watermarks', async () => {
    const table = 'rpt_name_reservation';
    const before = await withClient(provinceUrl, (c) => c.query(`SELECT xid FROM report_watermark WHERE table_name = $1`, [table]));
    const inRange = await withClient(registryUrl, (c) => c.query<{ nameid: string }>(`SELECT nameid FROM name_reservation WHERE apprdate >= '2015-01-01' AND apprdate < '2020-01-01'`));
    expect(inRange.rowCount).toBeGreaterThan(0);
    const p = await prepareBatch(ctx, table, { item: 'apprdate', from: '2015-01-01', to: '2020-01-01' });
    const r = await runTableCycle(ctx, table);
    expect(r).toMatchObject({ batchId: p.batchId, state: 'verified' });
    const b = receiver.accepted.find((x) => x.batchId === p.batchId)!;
    const rejected = await withClient(provinceUrl, (c) => c.query<{ key: string }>(`SELECT key FROM report_rejected WHERE table_name = $1`, [table]));
    expect(b.keys.length + rejected.rows.filter((x) => inRange.rows.some((k) => k.nameid === x.key)).length).toBe(inRange.rowCount);
    const after = await withClient(provinceUrl, (c) => c.query(`SELECT xid FROM report_watermark WHERE table_name = $1`, [table]));
    expect(after.rows).toEqual(before.rows);
    // Every watermark of name_reservation is above the crash test's changes: their log entries are gone.
    const left = await withClient(registryUrl, (c) => c.query<{ n: number }>(`SELECT count(*)::int AS n FROM report_change_log WHERE table_name = 'name_reservation' AND xid < $1::xid8`, [after.rows[0].xid]));
    expect(left.rows[0].n).toBe(0);
  }, 120_000);

  it('a registry row changed behind the change log after the batch was made: the streams differ, the batch is held with the key', async () => {
    // A backfill batch of every group: rows the change log never saw (a key whose logged change is newer than
    // the batch's snapshot xmin — cluster-wide, so any open transaction on the server lowers it — would be
    // left to the next window instead, by design).
    const table = 'rpt_enterprise_group';
    const key = await withClient(registryUrl, async (c) => {
      const r = await c.query<{ groupid: string }>(`SELECT max(groupid) AS groupid FROM enterprise_group WHERE groupid NOT IN (SELECT key FROM report_change_log WHERE table_name = 'enterprise_group')`);
      return r.rows[0].groupid;
    });
    const p = await prepareBatch(ctx, table, { item: 'estdate', from: '1000-01-01', to: '3000-01-01' });
    expect(p.rows).toBeGreaterThanOrEqual(1);
    await deliverBatch(ctx, p.batchId!);
    // A write the capture triggers do not see (replica role): the registry now disagrees with the batch and the log says nothing.
    await withClient(registryUrl, async (c) => {
      await c.query('SET session_replication_role = replica');
      await c.query(`UPDATE enterprise_group SET groupname = 'altered-behind' WHERE groupid = $1`, [key]);
    });
    const v = await verifyBatch(ctx, p.batchId!);
    expect(v.state).toBe('held');
    expect(v.differingKeys).toEqual([expect.objectContaining({ key, where: expect.stringMatching(/^registry .*altered-behind.* ≠ batch/) })]);
  }, 120_000);
  it('a row re-read without a change in its content is not news: counted as skipped, not delivered again; a changed one travels', async () => {
    const table = 'rpt_market_entity';
    const before = receiver.accepted.length;
    const [same, changed, gone] = await withClient(provinceUrl, async (c) => (await c.query<{ pripid: string }>(`SELECT pripid FROM rpt_market_entity WHERE _report_op = 'U' ORDER BY pripid DESC LIMIT 2`)).rows.map((r) => r.pripid)
      .concat((await c.query<{ pripid: string }>(`SELECT pripid FROM rpt_market_entity WHERE _report_op = 'D' LIMIT 1`)).rows.map((r) => r.pripid)));
    expect(gone).toBeDefined(); // the tombstone the changes test left
    await withClient(registryUrl, async (c) => {
      await c.query(`UPDATE market_entity SET entname = entname WHERE pripid = $1`, [same]);
      await c.query(`UPDATE market_entity SET entname = entname || '（再变更）' WHERE pripid = $1`, [changed]);
      // a deletion logged again for a row the province already holds as deleted
      await c.query(`INSERT INTO report_change_log (table_name, key, op) VALUES ('market_entity', $1, 'D')`, [gone]);
    });
    const p = await prepareBatch(ctx, table);
    expect({ rows: p.rows, skipped: p.skipped }).toEqual({ rows: 1, skipped: 2 });
    expect(await runTableCycle(ctx, table)).toMatchObject({ batchId: p.batchId, state: 'verified' });
    const sent = receiver.accepted.slice(before);
    expect(sent.map((b) => b.keys.map((k) => `${k.op}:${k.key}`))).toEqual([[`U:${changed}`]]);
  }, 120_000);
  it("an older province's per-row hash column is dropped once; a later preflight takes no lock a reader would wait for", async () => {
    const columns = () => withClient(provinceUrl, async (c) => (await c.query<{ n: string }>(`SELECT attname AS n FROM pg_attribute WHERE attrelid = 'rpt_name_reservation'::regclass AND NOT attisdropped AND attnum > 0`)).rows.map((r) => r.n));
    await withClient(provinceUrl, (c) => c.query(`ALTER TABLE rpt_name_reservation ADD COLUMN _report_sha text`));
    await ensureReportSchema(ctx);
    expect(await columns()).not.toContain('_report_sha');
    // a reader of the province table, its transaction open: the preflight must not queue behind it
    const outcome = await withClient(provinceUrl, async (reader) => {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM rpt_name_reservation');
      let timer: NodeJS.Timeout | undefined;
      const raced = await Promise.race([ensureReportSchema(ctx).then(() => 'done'), new Promise<string>((r) => (timer = setTimeout(() => r('waited for the reader'), 5_000)))]);
      clearTimeout(timer);
      await reader.query('COMMIT');
      return raced;
    });
    expect(outcome).toBe('done');
  }, 60_000);
});
