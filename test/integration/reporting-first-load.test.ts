import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { loadMapping } from '../../migration/mapping';
import { deliverBatch, prepareBatch, ReportContext, verifyBatch } from '../../reporting/batch';
import type { Receiver } from '../../reporting/receiver';
import { loadReportSpec } from '../../reporting/spec';
import { migrateInto, startReporting } from '../support/reporting-env';
import { eventually } from '../support/stack';

/**
 * A first load (no watermark, an empty province table) takes a path of its own: rows streamed as bytes to
 * the province and the file, the province lines' digest made as they are sent, and the registry's counts in
 * the snapshot kept; its verification reads the province back and tells from the counts and the row
 * versions' xmin that the registry has not changed, without reading it again. It must still see a province
 * that differs from the batch and a registry changed, deleted from or merely rewritten behind the change
 * log, and name the key (or, rewritten with the same values, pass by the general path).
 */
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `rf${randomBytes(4).toString('hex')}`;
const legacyUrl = `${PG}/${id}_legacy`;
const registryUrl = `${PG}/${id}_registry`;
const root = path.join(__dirname, '..', '..');
const mapping = loadMapping(path.join(root, 'config', 'mapping.json'));
const spec = loadReportSpec(path.join(root, 'config', 'reporting', 'registry.json'));
const table = 'rpt_market_entity';

describe('汇聚 a first load into an empty province', () => {
  let receiver: Receiver;
  let ctx: ReportContext;
  let env: Awaited<ReturnType<typeof startReporting>>;
  let round = 0;
  /** a province of its own for each case: every case is a first load */
  const freshProvince = async () => {
    round++;
    const provinceUrl = `${PG}/${id}_province${round}`;
    await dropDatabase(provinceUrl);
    const e = await startReporting(spec, registryUrl, provinceUrl);
    return e;
  };

  /** a first batch prepared and delivered into a province of its own; the province's lowest or highest key */
  const delivered = async (which: 'min' | 'max') => {
    env = await freshProvince();
    ({ ctx, receiver } = env);
    const p = await prepareBatch(ctx, table);
    await deliverBatch(ctx, p.batchId!);
    const key = await withClient(ctx.provinceUrl, async (c) => (await c.query<{ k: string }>(`SELECT ${which}(pripid) AS k FROM ${table}`)).rows[0].k);
    return { p, key };
  };
  /** a write to the registry the capture triggers do not see (replica role) */
  const behind = <T>(sql: string, params: unknown[]) =>
    withClient(registryUrl, async (c) => {
      await c.query('SET session_replication_role = replica');
      return (await c.query(sql, params)).rows as T[];
    });

  beforeAll(async () => {
    await ensureDatabase(legacyUrl);
    await ensureDatabase(registryUrl);
    await withClient(legacyUrl, (c) => loadLegacyDataset(c, { entities: 300, seed: 23, anomalyRate: 0.03 }));
    await migrateInto(legacyUrl, registryUrl, mapping);
  }, 300_000);
  afterEach(async () => {
    await receiver?.close();
    await dropDatabase(ctx.provinceUrl);
    fs.rmSync(env.dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await dropDatabase(registryUrl);
    await dropDatabase(legacyUrl);
  });

  it('delivers the file as written, holds the rows it rejects, and is verified three ways with equal digests', async () => {
    env = await freshProvince();
    ({ ctx, receiver } = env);
    const p = await prepareBatch(ctx, table);
    expect(p.rejected).toBeGreaterThan(0);
    expect(await deliverBatch(ctx, p.batchId!)).toMatchObject({ state: 'delivered' });
    const v = await verifyBatch(ctx, p.batchId!);
    expect(v).toMatchObject({ state: 'verified', ok: true, differingKeys: [] });
    expect(v.sha256.batch).toBe(v.sha256.province);
    expect(v.sha256.batch).toBe(v.sha256.source);
    expect(v.counts).toEqual({ batch: p.rows, province: p.rows, source: p.rows, sourceMovedOn: 0 });
    const outbox = fs.readFileSync(path.join(ctx.outboxDir, table, '00000001.jsonl'));
    const received = fs.readFileSync(path.join(env.dir, 'received', table, '00000001.jsonl'));
    expect(received.equals(outbox)).toBe(true);
    expect(receiver.accepted[0]).toMatchObject({ batchId: p.batchId, rows: p.rows, sha256: createHash('sha256').update(outbox).digest('hex') });
    const counts = await withClient(ctx.provinceUrl, async (c) => ({
      province: Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n),
      held: Number((await c.query(`SELECT count(*) AS n FROM report_rejected WHERE table_name = $1`, [table])).rows[0].n),
    }));
    const registry = Number((await withClient(registryUrl, (c) => c.query('SELECT count(*) AS n FROM market_entity'))).rows[0].n);
    expect(counts).toEqual({ province: p.rows, held: p.rejected });
    expect(counts.province + counts.held).toBe(registry);
    // the province lines were digested as they were sent, the registry counted in the snapshot; the
    // verification's province digest is that one (the quick path: no file parsed, no registry re-read)
    const ledger = await withClient(ctx.provinceUrl, (c) => c.query(`SELECT canonical_sha256, source_counts FROM report_batch WHERE batch_id = $1`, [p.batchId]));
    expect(ledger.rows[0].source_counts).toEqual({ market_entity: registry });
    expect(v.sha256.province).toBe(ledger.rows[0].canonical_sha256);
    expect(v.via).toBe('snapshot');
  }, 120_000);

  it('a delivered file changed in the outbox after delivery: held, with the file named and the key', async () => {
    env = await freshProvince();
    ({ ctx, receiver } = env);
    const p = await prepareBatch(ctx, table);
    await deliverBatch(ctx, p.batchId!);
    const file = path.join(ctx.outboxDir, table, '00000001.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"dom":"'));
    const row = JSON.parse(lines[at]) as { key: string; data: Record<string, string | null> };
    row.data.dom = 'tampered-file';
    lines[at] = JSON.stringify(row);
    fs.writeFileSync(file, lines.join('\n'));
    const v = await verifyBatch(ctx, p.batchId!);
    expect(v.state).toBe('held');
    expect(v.differingKeys).toEqual(
      expect.arrayContaining([
        { key: '*', where: 'the batch file does not match its manifest SHA-256' },
        expect.objectContaining({ key: row.key, where: expect.stringMatching(/^province .* ≠ batch .*tampered-file/) }),
      ]),
    );
  }, 120_000);

  it('a province row that differs from the first batch: held, with the key', async () => {
    env = await freshProvince();
    ({ ctx, receiver } = env);
    const p = await prepareBatch(ctx, table);
    await deliverBatch(ctx, p.batchId!);
    const key = await withClient(ctx.provinceUrl, async (c) => (await c.query<{ k: string }>(`UPDATE ${table} SET dom = 'tampered' WHERE pripid = (SELECT max(pripid) FROM ${table}) RETURNING pripid AS k`)).rows[0].k);
    const v = await verifyBatch(ctx, p.batchId!);
    expect(v.state).toBe('held');
    expect(v.differingKeys).toEqual([expect.objectContaining({ key, where: expect.stringMatching(/^province .*tampered/) })]);
  }, 120_000);

  it('a registry row changed behind the change log after the first batch: held, with the key', async () => {
    const { p, key } = await delivered('min');
    await behind(`UPDATE market_entity SET dom = 'altered-behind' WHERE pripid = $1`, [key]);
    try {
      const v = await verifyBatch(ctx, p.batchId!);
      expect(v.state).toBe('held');
      expect(v.differingKeys).toEqual([expect.objectContaining({ key, where: expect.stringMatching(/^registry .*altered-behind.* ≠ batch/) })]);
    } finally {
      await behind(`UPDATE market_entity SET dom = 'restored' WHERE pripid = $1`, [key]);
    }
  }, 120_000);

  it('a registry row deleted behind the change log after the first batch: held, with the key', async () => {
    const { p, key } = await delivered('max');
    const [saved] = await behind<Record<string, unknown>>(`DELETE FROM market_entity WHERE pripid = $1 RETURNING *`, [key]);
    try {
      const v = await verifyBatch(ctx, p.batchId!);
      expect(v.state).toBe('held');
      expect(v.differingKeys).toEqual([expect.objectContaining({ key, where: expect.stringMatching(/^registry deleted ≠ batch/) })]);
    } finally {
      const cols = Object.keys(saved);
      await behind(`INSERT INTO market_entity (${cols.map((n) => `"${n}"`).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(saved));
    }
  }, 120_000);

  it('a registry row rewritten with the same values behind the change log: the quick check says changed, the general path verifies it', async () => {
    const { p, key } = await delivered('min');
    await behind(`UPDATE market_entity SET dom = dom WHERE pripid = $1`, [key]);
    const v = await verifyBatch(ctx, p.batchId!);
    expect(v).toMatchObject({ state: 'verified', ok: true, differingKeys: [] });
    expect(v.via).toBe('streams');
    expect(v.sha256.batch).toBe(v.sha256.source);
  }, 120_000);

  it('the province session ended under a first load (in its thread): the attempt fails with the cause, nothing is half-loaded, the next one loads it whole', async () => {
    env = await freshProvince();
    ({ ctx, receiver } = env);
    // The registry table locked: the load's extraction waits, with its province COPY open.
    const locker = new Client({ connectionString: registryUrl });
    locker.on('error', () => undefined);
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE market_entity IN ACCESS EXCLUSIVE MODE');
    const attempt = prepareBatch(ctx, table);
    attempt.catch(() => undefined);
    const provinceDb = decodeURIComponent(new URL(ctx.provinceUrl).pathname.slice(1));
    let ended = 0;
    try {
      await eventually(async () => {
        const r = await withClient(`${PG}/postgres`, (c) =>
          c.query<{ n: number }>(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'COPY %FROM STDIN%'`, [provinceDb]),
        );
        ended = r.rows[0].n;
        return ended > 0;
      }, 'the load to open its province COPY');
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    // the cause: the ended connection (or, had the COPY closed cleanly, that it ended before every row was sent)
    const failure = await attempt.then(
      () => 'no failure',
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/terminat|connection|ended before every row was sent/i);
    const left = await withClient(ctx.provinceUrl, async (c) => ({
      rows: Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n),
      batches: Number((await c.query(`SELECT count(*) AS n FROM report_batch`)).rows[0].n),
      key: (await c.query(`SELECT conname FROM pg_constraint WHERE conrelid = '${table}'::regclass AND contype = 'p'`)).rows.length,
      batchDefault: (await c.query(`SELECT column_default FROM information_schema.columns WHERE table_name = $1 AND column_name = '_report_batch'`, [table])).rows[0].column_default,
    }));
    expect(left).toEqual({ rows: 0, batches: 0, key: 1, batchDefault: null });
    const p = await prepareBatch(ctx, table);
    await deliverBatch(ctx, p.batchId!);
    expect(await verifyBatch(ctx, p.batchId!)).toMatchObject({ state: 'verified', ok: true });
  }, 120_000);
});
