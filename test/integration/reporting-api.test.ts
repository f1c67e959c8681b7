import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { loadMapping } from '../../migration/mapping';
import { startReceiver, Receiver } from '../../reporting/receiver';
import { scheduleId } from '../../reporting/schedule';
import type { ReportingProgress } from '../../workflows/reporting-messages';
import { planStateQuery } from '../../workflows/plan-messages';
import { chinaDay } from '../../workflows/plan-progress';
import { migrateInto } from '../support/reporting-env';
import { eventually, TestStack } from '../support/stack';

/**
 * The reporting run kind on the real stack: the API starts a cycle, the real worker process runs it on
 * Temporal against real PostgreSQL and the reference receiver; the Schedules are put in place, paused,
 * resumed and triggered through the API.
 */
const mapping = loadMapping(path.join(__dirname, '..', '..', 'config', 'mapping.json'));

describe('数据汇聚及上报 reporting through the API and Temporal', () => {
  let stack: TestStack;
  let receiver: Receiver;
  let operator: string;
  let viewer: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-report-api-'));

  beforeAll(async () => {
    receiver = await startReceiver(path.join(dir, 'received'));
    const probe = new TestStack();
    // A plan of one item, the 数据汇聚联调 joint test, completed by a reporting run (the shipped plan's aggregation-verification).
    const planFile = path.join(dir, 'plan.json');
    const joint = { id: 'aggregation-verification', title: { zh: '数据汇聚联调及结果验证', en: 'Aggregation joint test' }, ownerRole: 'approver', dependsOn: [], dueOffsetDays: 60, deliverable: '汇聚验证', completion: { kind: 'automated', run: 'reporting-joint-test' } };
    fs.writeFileSync(
      planFile,
      JSON.stringify({
        name: { zh: '联调计划', en: 'Joint test plan' },
        remindBeforeDays: 3,
        retryAutomatedAfterHours: 24,
        reportEveryDays: 7,
        packages: [{ id: 'reporting', title: { zh: '数据汇聚及上报', en: 'Reporting' }, items: [joint] }],
        milestones: [{ id: 'joint', title: { zh: '联调', en: 'Joint test' }, dueOffsetDays: 60, deliverable: '联调报告', items: ['aggregation-verification'] }],
      }),
    );
    stack = new TestStack({
      PLAN_FILE: planFile,
      REPORT_PROVINCE_DATABASE_URL: probe.settings.TARGET_DATABASE_URL.replace(/_target$/, '_province'),
      REPORT_OUTBOX_DIR: path.join(dir, 'outbox'),
      REPORT_RECEIVER_URL: receiver.url,
    });
    await stack.start();
    await ensureDatabase(stack.settings.REPORT_PROVINCE_DATABASE_URL);
    await stack.seedLegacy(150);
    await migrateInto(stack.settings.LEGACY_DATABASE_URL, stack.settings.TARGET_DATABASE_URL, mapping);
    operator = await stack.token('olivia.ops', 'operator');
    viewer = await stack.token('wang.viewer', 'viewer');
    await stack.startWorker();
  }, 300_000);
  afterAll(async () => {
    for (const st of ['entities', 'registry']) await stack?.temporal.schedule.getHandle(scheduleId(stack.settings.TASK_QUEUE, st)).delete().catch(() => undefined);
    await stack?.stop();
    await dropDatabase(stack.settings.REPORT_PROVINCE_DATABASE_URL);
    await receiver?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a cycle started through the API: every table verified, progress per table, the status report', async () => {
    const started = await stack.http('POST', '/reportings', operator, { runId: 'first' });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    expect(id).toBe('reporting-first');
    const done = await eventually(async () => {
      const r = await stack.http('GET', `/reportings/${id}`, viewer);
      return r.body.phase === 'finished' ? (r.body as ReportingProgress) : undefined;
    }, 'the reporting cycle to finish', 180_000);
    expect(done.verdict).toBe('passed');
    expect(done.tables.map((t) => t.state)).toEqual(done.tables.map(() => 'verified'));
    expect(done.tables.every((t) => t.watermark)).toBe(true);
    expect(receiver.accepted.map((b) => b.sequence)).toEqual(done.tables.map(() => 1));
    const md = await stack.http('GET', `/reportings/${id}/reports/status.md`, viewer);
    expect(md.status).toBe(200);
    expect(md.body).toContain('# 数据汇聚及上报监测 Reporting monitor');
    // A viewer may not start one.
    expect((await stack.http('POST', '/reportings', viewer, {})).status).toBe(403);
  }, 240_000);

  it('the Schedules: put in place from config, paused, resumed, triggered', async () => {
    const put = await stack.http('PUT', '/reporting/schedules', operator);
    expect(put.status).toBe(200);
    expect(put.body.schedules).toEqual([scheduleId(stack.settings.TASK_QUEUE, 'entities'), scheduleId(stack.settings.TASK_QUEUE, 'registry')]);
    expect((await stack.http('POST', '/reporting/schedules/entities/pause', operator, { reason: '省中心维护 province maintenance' })).status).toBe(202);
    let list = await stack.http('GET', '/reporting/schedules', viewer);
    expect(list.body.schedules.find((s: { stage: string }) => s.stage === 'entities')).toMatchObject({ paused: true, everyMinutes: 5, overlap: 'skip' });
    expect((await stack.http('POST', '/reporting/schedules/entities/resume', operator, {})).status).toBe(202);
    expect((await stack.http('POST', '/reporting/schedules/nosuch/trigger', operator, {})).status).toBe(404);
    await withClient(stack.settings.TARGET_DATABASE_URL, (c) => c.query(`UPDATE market_entity SET entname = entname || '·' WHERE pripid = (SELECT min(pripid) FROM market_entity)`));
    expect((await stack.http('POST', '/reporting/schedules/entities/trigger', operator, {})).status).toBe(202);
    await eventually(async () => receiver.accepted.some((b) => b.table === 'rpt_market_entity' && b.sequence === 2), 'the triggered cycle to deliver sequence 2', 120_000);
    list = await stack.http('GET', '/reporting/schedules', viewer);
    expect(list.body.schedules.find((s: { stage: string }) => s.stage === 'entities').recentRuns.length).toBeGreaterThan(0);
  }, 240_000);

  it('a worker killed mid-batch while the receiver fails, then both recover: no gap, no duplicate', async () => {
    const changed = await withClient(stack.settings.TARGET_DATABASE_URL, async (c) =>
      (await c.query<{ personid: string }>(`UPDATE entity_person SET name = name || '乙' WHERE personid IN (SELECT personid FROM entity_person WHERE name IS NOT NULL ORDER BY personid LIMIT 3) RETURNING personid`)).rows.map((r) => r.personid).sort(),
    );
    receiver.failNext(1_000_000);
    const started = await stack.http('POST', '/reportings', operator, { runId: 'killed', tables: ['rpt_entity_person'] });
    expect(started.status).toBe(201);
    // The batch is in the province and the ledger, the national upload keeps failing: the worker dies now.
    await eventually(
      () => withClient(stack.settings.REPORT_PROVINCE_DATABASE_URL, async (c) => (await c.query(`SELECT 1 FROM report_batch WHERE table_name = 'rpt_entity_person' AND sequence = 2 AND state = 'applied'`)).rowCount === 1),
      'the batch to be applied at the province',
      60_000,
    );
    await eventually(async () => (receiver.answers[503] ?? 0) > 0, 'a failed upload', 30_000);
    await stack.killWorker('SIGKILL');
    receiver.failNext(0);
    await stack.startWorker();
    const done = await eventually(async () => {
      const r = await stack.http('GET', '/reportings/reporting-killed', viewer);
      return r.body.phase === 'finished' ? (r.body as ReportingProgress) : undefined;
    }, 'the cycle to finish on the new worker', 120_000);
    expect(done.verdict).toBe('passed');
    const batches = receiver.accepted.filter((b) => b.table === 'rpt_entity_person');
    expect(batches.map((b) => b.sequence)).toEqual([1, 2]);
    expect(batches[1].keys.map((k) => k.key).sort()).toEqual(changed);
    expect(new Set(receiver.accepted.map((b) => b.batchId)).size).toBe(receiver.accepted.length);
    const ledger = await withClient(stack.settings.REPORT_PROVINCE_DATABASE_URL, (c) => c.query(`SELECT sequence::int, state FROM report_batch WHERE table_name = 'rpt_entity_person' ORDER BY sequence`));
    expect(ledger.rows).toEqual([
      { sequence: 1, state: 'verified' },
      { sequence: 2, state: 'verified' },
    ]);
  }, 300_000);

  it('项目计划 the plan\'s joint-test item (数据汇聚联调) completes from a reporting run it starts: a full cycle against the receiver', async () => {
    const changed = await withClient(stack.settings.TARGET_DATABASE_URL, async (c) =>
      (await c.query<{ pripid: string }>(`UPDATE market_entity SET entname = entname || '联' WHERE pripid = (SELECT max(pripid) FROM market_entity) RETURNING pripid`)).rows[0].pripid,
    );
    const approver = await stack.token('li.approver', 'approver');
    const planId = `${stack.id}-joint`;
    const started = await stack.http('POST', '/plans', operator, { t0: chinaDay(new Date().toISOString()), planId });
    expect(started.status).toBe(201);
    const childId = `reporting-${planId}-aggregation-verification-1`;
    const done = await eventually(async () => {
      const p = await stack.temporal.workflow.getHandle(`plan-${planId}`).query(planStateQuery);
      const item = p.items.find((i) => i.id === 'aggregation-verification')!;
      return item.status === 'done' || item.status === 'failed' ? item : undefined;
    }, 'the joint-test item to complete from its reporting run', 180_000);
    expect(done).toMatchObject({ status: 'done', doneBy: `automated ${childId}` });
    expect(done.runs[0]).toMatchObject({ ok: true, ref: childId, problems: [] });
    expect(done.runs[0].summary).toMatch(/^汇聚上报联调 reporting joint test passed: 8\/8 tables verified, \d+ rows$/);
    // The child is a reporting run like any other, readable through the API; its batch reached the receiver.
    const run = await stack.http('GET', `/reportings/${childId}`, approver);
    expect(run.body).toMatchObject({ phase: 'finished', verdict: 'passed' });
    expect(receiver.accepted.some((b) => b.table === 'rpt_market_entity' && b.keys.some((k) => k.key === changed))).toBe(true);
    // Its one item done, the plan itself completes.
    await eventually(async () => (await stack.temporal.workflow.getHandle(`plan-${planId}`).describe()).status.name === 'COMPLETED', 'the plan to complete');
  }, 300_000);
});
