import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { withClient } from '../../lib/db';
import type { RehearsalComparison } from '../../reports/rehearsal-comparison';
import type { HistoryDigest } from '../../reports/run-history';
import { registerTarget } from '../../lib/target-guard';
import { loadMapping } from '../../migration/mapping';
import { ensureTargetSchema } from '../../migration/target-schema';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { buildReferenceApp } from '../../reference-app/app';
import type { BusinessTestResult } from '../../verification/business-tests';
import type { CutoverState } from '../../workflows/cutover-messages';
import type { FallbackState } from '../../workflows/fallback-messages';
import { GoLiveEnv, startGoLiveEnv } from '../support/golive-env';
import { closedPort } from '../support/loopback';
import { eventually, TestStack } from '../support/stack';

/**
 * 系统上线 and 回退 on the real stack: Temporal, the worker process, PostgreSQL, a real nginx in front
 * of real legacy/new servers, a connected system's own configuration API, and the reference business
 * system for the business tests (变更, 注销). The tests run in order
 * and share the environment, as one cutover weekend would: a refused wipe, a go-live, then two failed
 * cutovers that fall back.
 */
describe('go-live cutover and fallback (Temporal + PostgreSQL + nginx)', () => {
  let env: GoLiveEnv;
  let stack: TestStack;
  let refApp: FastifyInstance;
  let operator: string;
  let approver: string;
  let approver2: string;

  beforeAll(async () => {
    env = await startGoLiveEnv();
    const refPort = await closedPort();
    stack = new TestStack({ CONNECTED_SYSTEMS_FILE: env.systemsFile, SERVICES_FILE: env.servicesFile, BUSINESS_API_URL: `http://127.0.0.1:${refPort}` });
    await stack.start();
    refApp = await buildReferenceApp({ targetUrl: stack.settings.TARGET_DATABASE_URL });
    await refApp.listen({ host: '127.0.0.1', port: refPort });
    await withClient(stack.settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities: 300, seed: 11, anomalyRate: 0.02 }));
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    approver2 = await stack.token('wang.approver', 'approver');
    await stack.startWorker();
  });

  afterAll(async () => {
    await refApp?.close();
    await stack?.stop();
    await env?.stop();
  });

  const get = async (id: string) => (await stack.http('GET', `/cutovers/${id}`, operator)).body as CutoverState;
  const gateOpen = (id: string, gate: string) =>
    eventually(async () => ((await get(id)).gates.find((g) => g.name === gate)?.status === 'open' ? true : undefined), `gate ${gate} to open`);
  async function decide(id: string, gate: string, token: string, decision: 'approve' | 'reject', reason: string) {
    const r = await stack.http('POST', `/cutovers/${id}/gates/${gate}/decision`, token, { decision, reason });
    expect(r.status).toBe(202);
  }
  const legacyRow = (sql: string) => withClient(stack.settings.LEGACY_DATABASE_URL, async (c) => (await c.query(sql)).rows[0]);

  it('refuses to wipe a database not registered as the target, then falls back on the operator’s choice', async () => {
    // The legacy database can never be registered as the target.
    await expect(registerTarget(stack.settings.LEGACY_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'someone')).rejects.toThrow(/is the legacy database/);
    // Test data left in the (unregistered) target must survive the refused wipe.
    const mapping = loadMapping(stack.settings.MAPPING_FILE);
    await withClient(stack.settings.TARGET_DATABASE_URL, async (c) => {
      await ensureTargetSchema(c, mapping);
      await c.query(`INSERT INTO market_entity (pripid, entname, enttype, regstate, regcap) VALUES ('TEST-0001', '测试企业 test entity', '1100', '1', 1)`);
    });

    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-unregistered` });
    const id = started.body.workflowId as string;
    await gateOpen(id, 'wipe');
    await decide(id, 'wipe', approver, 'approve', '测试数据可清除 test data may go');
    const waiting = await eventually(async () => {
      const s = await get(id);
      return s.pendingFailure?.step === 'wipe' ? s : undefined;
    }, 'the refused wipe to wait for the operator');
    expect(waiting.status).toBe('waiting_operator');
    expect(waiting.pendingFailure!.error).toMatch(/^wipe test data 清除测试数据 refused: database "t\w+_target" \(system \d+\) is not registered as the cutover target/);
    expect(waiting.pendingFailure!.choices).toEqual(['retry', 'continue', 'fallback']);
    const skip = await stack.http('POST', `/cutovers/${id}/steps/wipe/action`, operator, { action: 'skip', reason: 'no' });
    expect(skip.status).toBe(422);

    const chosen = await stack.http('POST', `/cutovers/${id}/steps/wipe/action`, operator, { action: 'fallback', reason: '目标库未登记 target not registered' });
    expect(chosen.status).toBe(202);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('fell_back');
    expect(result.failure).toContain('olivia.ops chose the fallback');
    expect(result.fallback).toMatchObject({ status: 'completed' });
    expect(result.operatorActions).toEqual([expect.objectContaining({ decision: 'fallback', actor: 'olivia.ops', accepted: true })]);
    const kept = await withClient(stack.settings.TARGET_DATABASE_URL, async (c) => (await c.query(`SELECT count(*)::int AS n FROM market_entity`)).rows[0].n);
    expect(kept).toBe(1);

    // 失败原因分析 from the cutover's own event history: the failed attempt with its error, and both decisions.
    const fb = (await stack.http('GET', `/fallbacks/${result.fallback!.workflowId}`, operator)).body as FallbackState;
    const markdown = fs.readFileSync(fb.report!.markdown, 'utf8');
    const jsonText = fs.readFileSync(fb.report!.json, 'utf8');
    const history = (JSON.parse(jsonText).histories as HistoryDigest[]).find((h) => h.workflowId === id)!;
    expect(history).toMatchObject({ workflowType: 'cutover', outcome: { status: 'running' } });
    expect(history.failedAttempts).toEqual([
      expect.objectContaining({ activityType: 'wipeTargetTestData', attempt: 1, final: true, retryState: 'NON_RETRYABLE_FAILURE', message: waiting.pendingFailure!.error }),
    ]);
    expect(history.signals).toEqual([
      { at: expect.any(String), name: 'decideGate', gate: 'wipe', decision: 'approve', actor: 'li.approver', role: 'approver', reason: '测试数据可清除 test data may go' },
      { at: expect.any(String), name: 'operatorAction', gate: 'step:wipe', decision: 'fallback', actor: 'olivia.ops', role: 'operator', reason: '目标库未登记 target not registered' },
    ]);
    expect(history.timers.length).toBeGreaterThan(0); // the wipe gate's escalation timer
    expect(markdown).toContain('## 运行历史 From the runs’ Temporal event histories');
    expect(markdown).toMatch(/\| wipeTargetTestData \| Step 7\/20 · 清除测试数据 [^|]+ \| 1 \| wipe test data 清除测试数据 refused: database "t\w+_target" \(system \d+\) is not registered[^|]* \| yes \(NON_RETRYABLE_FAILURE\) \|/);
    expect(markdown).toContain('| operatorAction | step:wipe | fallback | olivia.ops | operator | 目标库未登记 target not registered |');
    // The signals carried the API's signatures; none reaches the report.
    const signatures = (await stack.temporal.workflow.getHandle(id).fetchHistory()).events!
      .filter((e) => e.workflowExecutionSignaledEventAttributes)
      .map((e) => JSON.parse(Buffer.from(e.workflowExecutionSignaledEventAttributes!.input!.payloads![0].data!).toString('utf8')).signature as string);
    expect(signatures).toHaveLength(2);
    for (const sig of signatures) {
      expect(sig.length).toBeGreaterThan(20);
      expect(markdown).not.toContain(sig);
      expect(jsonText).not.toContain(sig);
    }
  });

  it('goes live: every gate approved through the API, rollback proven, traffic moved to the new side', async () => {
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'zhang.dba');
    expect(await env.throughProxy('gsxt')).toBe('legacy');
    expect(env.fresh.running()).toBe(false); // the previous run's fallback stopped the new system
    env.fresh.setRunning(true); // ops bring it up again for the next attempt
    env.fresh.actions.length = 0;
    // 内存数据库: keys the new application cached before the weekend (stale once the migration runs), and a key it does not own.
    const stale = [`${stack.memoryDbPrefix}entity:STALE-1`, `${stack.memoryDbPrefix}code:enttype`, `${stack.memoryDbPrefix}session:42`];
    await stack.redis(async (r) => {
      for (const k of stale) await r.set(k, 'stale');
      await r.set(`${stack.id}:other-app:k`, 'not ours');
    });
    const windowEnd = new Date(Date.now() + 48 * 3600_000).toISOString();
    const started = await stack.http('POST', '/cutovers', operator, {
      mode: 'rehearsal',
      runId: `${stack.id}-golive`,
      gates: { wipe: { escalateAfterMinutes: 0.02 }, 'go-no-go': { approvals: 2 } },
      plannedMinutes: { backup: 30, migrate: 600, verify: 60, switch: 30 },
      maintenanceWindow: { start: new Date().toISOString(), end: windowEnd },
    });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;

    // Left undecided, the wipe gate escalates (notification) — and still waits for a person.
    const escalated = await eventually(async () => {
      const s = await get(id);
      return (s.gates.find((g) => g.name === 'wipe')?.escalations ?? 0) >= 1 ? s : undefined;
    }, 'the wipe gate to escalate');
    expect(escalated.gates[0].status).toBe('open');
    await decide(id, 'wipe', approver, 'approve', '清除测试数据 wipe approved');

    await gateOpen(id, 'go-no-go');
    await decide(id, 'go-no-go', approver, 'approve', '抽样一致 samples match');
    await eventually(async () => ((await get(id)).decisions.length === 2 ? true : undefined), 'the first go/no-go approval');
    expect((await get(id)).gates[1]).toMatchObject({ status: 'open', approvedBy: [expect.objectContaining({ actor: 'li.approver' })] });
    // The same approver again: the API answers as the first time and sends nothing (idempotent), so
    // one person can never make up a two-person gate.
    const again = await stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, approver, { decision: 'approve', reason: 'twice' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await get(id)).gates[1]).toMatchObject({ status: 'open', approvedBy: [expect.objectContaining({ actor: 'li.approver' })] });
    await decide(id, 'go-no-go', approver2, 'approve', '同意上线 go');

    await gateOpen(id, 'switch');
    // Nothing switched before the gate: the proxy still sends to the legacy side, which the run's first
    // step shut down for the weekend (关停) and which stays down.
    expect(env.legacy.running()).toBe(false);
    expect(await env.throughProxy('gsxt')).toBe('HTTP 503');
    await decide(id, 'switch', approver2, 'approve', '正式地址已测试 official addresses tested');

    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');
    expect(result.steps.map((s) => `${s.key}:${s.status}`)).toEqual(result.steps.map((s) => `${s.key}:done`));
    expect(result.wiped).toEqual(expect.arrayContaining([{ table: 'market_entity', rows: 1 }]));
    expect(result.rollbackProof?.equal).toBe(true);
    // The cache: stale keys gone, the other prefix untouched, the warm-up equal to the target's active entities.
    const active = await withClient(stack.settings.TARGET_DATABASE_URL, async (c) => (await c.query(`SELECT pripid, entname FROM market_entity WHERE regstate = '1' ORDER BY pripid`)).rows);
    expect(active.length).toBeGreaterThan(0);
    await stack.redis(async (r) => {
      for (const k of stale) expect(await r.exists(k)).toBe(0);
      expect(await r.get(`${stack.id}:other-app:k`)).toBe('not ours');
      const warmed: string[] = [];
      for await (const keys of r.scanIterator({ MATCH: `${stack.memoryDbPrefix}entity:*`, COUNT: 1000 })) warmed.push(...keys);
      expect(warmed.sort()).toEqual(active.map((a) => `${stack.memoryDbPrefix}entity:${a.pripid}`).sort());
      expect(await r.hGet(`${stack.memoryDbPrefix}entity:${active[0].pripid}`, 'entname')).toBe(active[0].entname);
    });
    expect(result.memoryDb?.flushes.map((f) => f.after)).toEqual(['migration', 'rollback']);
    expect(result.memoryDb?.flushes[0].result).toEqual({ deleted: { [stack.memoryDbPrefix]: 3 }, total: 3 });
    expect(result.memoryDb?.warm).toMatchObject({ total: active.length + (await withClient(stack.settings.TARGET_DATABASE_URL, async (c) => (await c.query(`SELECT count(*)::int AS n FROM name_reservation`)).rows[0].n)) });
    expect(result.memoryDb?.check).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+/), maxmemoryPolicy: expect.any(String) });
    // The new application was stopped for the snapshot and for the rollback, and started after each.
    expect(env.fresh.actions).toEqual(['stop', 'start', 'stop', 'start']);
    expect(env.fresh.running()).toBe(true);
    expect(result.steps.find((s) => s.key === 'snapshot')?.detail).toMatch(/new application new-app stopped before, started after/);
    // 查询库: the backup restored read-only and proven equal to the manifest.
    expect(result.legacyArchive?.tables.length).toBe(result.backup?.files);
    expect(result.legacyArchive?.tables.every((t) => t.ok)).toBe(true);
    expect(result.legacyArchive?.readOnlyProof).toMatch(/read-only transaction/);
    expect(result.legacyShutdown).toMatchObject({ stopped: [expect.objectContaining({ name: 'legacy-app', action: 'stop' })], sessions: [] });
    expect(result.addressChecks?.every((a) => a.ok)).toBe(true);
    expect(result.switched?.map((s) => [s.id, s.driver, s.to, s.changed])).toEqual([
      ['gsxt', 'nginx', 'new', true],
      ['samr-report', 'nginx', 'new', true],
      ['gdamr-datacenter', 'http-config', 'new', true],
    ]);
    expect(result.projection).toMatchObject({ windowEnd, fitsWindow: true, plannedRemainingMinutes: 0 });
    expect(result.steps.find((s) => s.key === 'migrate')).toMatchObject({ plannedMinutes: 600, actualMs: expect.any(Number) });

    // Traffic really moved: through the proxy and in the connected system's own configuration.
    expect(await env.throughProxy('gsxt')).toBe('new');
    expect(await env.throughProxy('samr-report')).toBe('new');
    expect(env.configApi.baseUrl()).toBe(`http://127.0.0.1:${env.fresh.port}/interface/gdamr-datacenter`);
    const switches = await withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) =>
      (await c.query(`SELECT system_id, actor, from_side, to_side FROM endpoint_switch WHERE run_id = $1 ORDER BY id`, [`${stack.id}-golive`])).rows,
    );
    expect(switches).toEqual([
      { system_id: 'gsxt', actor: 'wang.approver', from_side: 'legacy', to_side: 'new' },
      { system_id: 'samr-report', actor: 'wang.approver', from_side: 'legacy', to_side: 'new' },
      { system_id: 'gdamr-datacenter', actor: 'wang.approver', from_side: 'legacy', to_side: 'new' },
    ]);

    // 业务测试 on the snapshot, through the reference business system: a change and a cancellation per
    // entity, each read back from the target — then rolled back with the snapshot, proven by the checksums.
    const business = result.businessTests as BusinessTestResult;
    // 按照主体类型随机定量抽取: the entities tested are the verification's stratified sample, across entity types.
    const sample = result.verification!.sampleForBusinessTests!;
    expect(sample.length).toBeGreaterThan(2);
    expect(business.cases.map((c) => c.pripid).every((p) => sample.includes(p))).toBe(true);
    expect(business).toMatchObject({ ok: true, rolledBack: false, baseUrl: stack.settings.BUSINESS_API_URL });
    expect(business.cases.map((c) => [c.operation, c.httpStatus, c.persisted, c.ok])).toEqual([
      ['change', 201, true, true],
      ['cancellation', 201, true, true],
      ['change', 201, true, true],
      ['cancellation', 201, true, true],
    ]);
    expect(result.steps.find((s) => s.key === 'business-tests')!.detail).toContain('注销 cancellation on');
    expect(result.rollbackProof!.after).toEqual(result.rollbackProof!.before);
    const tested = [...new Set(business.cases.map((c) => c.pripid))];
    await withClient(stack.settings.TARGET_DATABASE_URL, async (c) => {
      const r = await c.query(
        `SELECT (SELECT count(*)::int FROM market_entity) AS n,
                (SELECT count(*)::int FROM market_entity WHERE pripid = ANY($1::text[]) AND regstate = '1') AS active,
                (SELECT count(*)::int FROM entity_change WHERE altid LIKE 'VT-%') AS changes,
                (SELECT count(*)::int FROM approval_application WHERE appid LIKE 'VT-%') AS cancellations`,
        [tested],
      );
      expect(r.rows[0]).toEqual({ n: result.tables[0].rowsLoaded, active: 2, changes: 0, cancellations: 0 });
    });

    const evidence = fs.readFileSync(result.evidence!.markdown, 'utf8');
    expect(evidence).toContain('# 割接证据包 Cutover evidence pack');
    expect(evidence).toContain('| go-no-go | approve | wang.approver | approver | 同意上线 go | yes |');
    const json = JSON.parse(fs.readFileSync(result.evidence!.json, 'utf8'));
    expect(json.rollbackProof.equal).toBe(true);
    expect(json.businessTests.cases).toHaveLength(4);
    expect(evidence).toContain('## 业务测试 Business tests (变更 change, 注销 cancellation) on the snapshot');
    expect(json.decisions.filter((d: { accepted: boolean }) => d.accepted)).toHaveLength(4);
    // 语句审计 on the default dialect: clean for PostgreSQL, and it names what openGauss would refuse.
    expect(json.statementAudit.verdict).toMatchObject({ dialect: 'postgresql', clean: true });
    const onOpenGauss = json.statementAudit.others.find((o: { dialect: string }) => o.dialect === 'opengauss');
    expect(onOpenGauss.clean).toBe(false);
    expect(onOpenGauss.lacking.map((f: { construct: string }) => f.construct)).toEqual(['on-conflict', 'pg-control-system', 'create-database-template']);
    expect(evidence).toContain('### 其他方言 Would meet on: opengauss — 3 lacking');
  });

  it('a rejected go/no-go falls back through all six steps: new stopped, legacy started, traffic back on legacy, report written', async () => {
    env.legacy.setRunning(false); // the legacy application is shut down for the weekend
    expect(await env.throughProxy('gsxt')).toBe('new');
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'live', runId: `${stack.id}-rejected` });
    const id = started.body.workflowId as string;
    await gateOpen(id, 'wipe');
    await decide(id, 'wipe', approver, 'approve', 'ok');
    await gateOpen(id, 'go-no-go');
    await decide(id, 'go-no-go', approver2, 'reject', '业务人员测试不通过 business staff reject');

    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('rejected');
    expect(result.fallback).toMatchObject({ workflowId: `fallback-${stack.id}-rejected`, status: 'completed' });
    const fb = (await stack.http('GET', `/fallbacks/fallback-${stack.id}-rejected`, operator)).body as FallbackState;
    expect(fb.steps.map((s) => `${s.key}:${s.status}`)).toEqual(['stop-new:done', 'legacy-data:done', 'start-legacy:done', 'endpoints:done', 'smoke:done', 'report:done']);
    expect(fb.legacyModified).toBeUndefined();
    expect(fb.switchedBack?.map((s) => [s.id, s.from, s.to, s.changed])).toEqual([
      ['gsxt', 'new', 'legacy', true],
      ['samr-report', 'new', 'legacy', true],
      ['gdamr-datacenter', 'new', 'legacy', true],
    ]);
    expect(fb.smoke?.every((s) => s.ok)).toBe(true);

    expect(env.fresh.running()).toBe(false);
    expect(env.legacy.running()).toBe(true);
    expect(await env.throughProxy('gsxt')).toBe('legacy');
    expect(await env.throughProxy('samr-report')).toBe('legacy');
    expect(env.configApi.baseUrl()).toBe(`http://127.0.0.1:${env.legacy.port}/interface/gdamr-datacenter`);

    const report = fs.readFileSync(fb.report!.markdown, 'utf8');
    expect(report).toContain('# 割接失败原因分析 Failure analysis');
    expect(report).toContain('业务人员测试不通过 business staff reject');
    expect(report).toMatch(/\| 上线决策 Go\/no-go approval \| rejected \| \S+ \| rejected by wang.approver/);
    expect(JSON.parse(fs.readFileSync(fb.report!.json, 'utf8'))).toMatchObject({ kind: 'failure-analysis', legacyModified: [] });
    expect(fs.existsSync(result.evidence!.markdown)).toBe(true);
    env.fresh.setRunning(true);
  });

  it('legacy data modified during a failed cutover is restored from the backup and proven', async () => {
    const before = await legacyRow(`SELECT entname, (SELECT count(*)::int FROM e_person) AS persons FROM e_baseinfo ORDER BY pripid LIMIT 1`);
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'live', runId: `${stack.id}-tampered` });
    const id = started.body.workflowId as string;
    await gateOpen(id, 'wipe');
    await decide(id, 'wipe', approver, 'approve', 'ok');
    await gateOpen(id, 'go-no-go');
    // Something wrote to the legacy database during the weekend.
    await withClient(stack.settings.LEGACY_DATABASE_URL, async (c) => {
      await c.query(`UPDATE e_baseinfo SET entname = '被篡改 tampered' WHERE pripid = (SELECT min(pripid) FROM e_baseinfo)`);
      await c.query(`DELETE FROM e_person WHERE ctid = (SELECT min(ctid) FROM e_person)`);
    });
    await decide(id, 'go-no-go', approver, 'reject', '迁移失败 migration failed');

    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.fallback?.status).toBe('completed');
    const fb = (await stack.http('GET', `/fallbacks/fallback-${stack.id}-tampered`, operator)).body as FallbackState;
    expect(fb.legacyModified).toEqual(['e_baseinfo', 'e_person']);
    expect(fb.legacyProof?.every((p) => p.ok)).toBe(true);
    expect(fb.steps[1].detail).toBe(`restored e_baseinfo, e_person from the backup; all ${fb.legacyProof!.length} tables now match it`);
    expect(await legacyRow(`SELECT entname, (SELECT count(*)::int FROM e_person) AS persons FROM e_baseinfo ORDER BY pripid LIMIT 1`)).toEqual(before);
    const report = JSON.parse(fs.readFileSync(fb.report!.json, 'utf8'));
    expect(report.legacyModified).toEqual(['e_baseinfo', 'e_person']);
  });

  it('a fallback step that fails waits for a person: a signal around the API is refused, a retry through the API finishes it', async () => {
    // Started by hand for the tampered run (its backup exists); the legacy application will not start.
    env.legacy.setRunning(false);
    env.legacy.refuseStart(true);
    const started = await stack.http('POST', '/fallbacks', operator, { runId: `${stack.id}-tampered`, reason: '演练 drill' });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    const fbState = async () => (await stack.http('GET', `/fallbacks/${id}`, operator)).body as FallbackState;
    const waiting = await eventually(async () => {
      const s = await fbState();
      return s.status === 'waiting_operator' ? s : undefined;
    }, 'the failed step to wait for a person');
    expect(waiting.pendingFailure).toMatchObject({ step: 'start-legacy', error: expect.stringContaining('start legacy-app') });
    expect(waiting.steps.map((s) => s.status)).toEqual(['done', 'done', 'failed', 'pending', 'pending', 'pending']);

    // Straight to Temporal, unsigned: recorded and refused, the step stays failed.
    await stack.temporal.workflow.getHandle(id).signal('fallbackAction', {
      workflowId: id, gate: 'fallback:start-legacy', decision: 'retry', actor: 'mallory', role: 'admin', issuedAt: new Date().toISOString(), signature: '',
    });
    const refused = await eventually(async () => {
      const s = await fbState();
      return s.decisions.length === 1 ? s : undefined;
    }, 'the unsigned signal to be refused');
    expect(refused.decisions[0]).toMatchObject({ actor: 'mallory', accepted: false, refusal: 'the decision is not signed (it did not come through the API)' });
    expect(refused.status).toBe('waiting_operator');

    env.legacy.refuseStart(false); // the person fixed the service
    const retry = await stack.http('POST', `/fallbacks/${id}/steps/start-legacy/action`, operator, { action: 'retry', reason: '服务已修复 service fixed' });
    expect(retry.status).toBe(202);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as FallbackState;
    expect(result.status).toBe('completed');
    expect(result.steps.every((s) => s.status === 'done')).toBe(true);
    expect(result.decisions[1]).toMatchObject({ decision: 'retry', actor: 'olivia.ops', accepted: true });
    expect(env.legacy.running()).toBe(true);
    expect(fs.readFileSync(result.report!.markdown, 'utf8')).toContain('手动发起 Started by hand');
    // Started by hand without a cutover id: the cutover of the same run id is found and analysed.
    const handReport = JSON.parse(fs.readFileSync(result.report!.json, 'utf8'));
    expect((handReport.histories as HistoryDigest[]).map((h) => h.workflowId)).toEqual([`cutover-${stack.id}-tampered`, id]);
  });

  it('a failed step retried by the operator after a fix goes on from where it stopped', async () => {
    // The registration is lost (e.g. the target was recreated by hand): the wipe refuses.
    await withClient(stack.settings.TARGET_DATABASE_URL, (c) => c.query('DELETE FROM runbook_target_registration'));
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-retry` });
    const id = started.body.workflowId as string;
    await gateOpen(id, 'wipe');
    await decide(id, 'wipe', approver, 'approve', 'ok');
    await eventually(async () => ((await get(id)).pendingFailure?.step === 'wipe' ? true : undefined), 'the refused wipe');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'zhang.dba');
    const retry = await stack.http('POST', `/cutovers/${id}/steps/wipe/action`, operator, { action: 'retry' });
    expect(retry.status).toBe(202);
    await gateOpen(id, 'go-no-go');
    const state = await get(id);
    expect(state.steps.find((s) => s.key === 'wipe')).toMatchObject({ status: 'done' });
    expect(state.steps.find((s) => s.key === 'migrate')).toMatchObject({ status: 'done' });
    expect(state.operatorActions).toEqual([expect.objectContaining({ decision: 'retry', accepted: true })]);
    await decide(id, 'go-no-go', approver, 'reject', '彩排结束 rehearsal over');
    expect(((await stack.temporal.workflow.getHandle(id).result()) as CutoverState).fallback?.status).toBe('completed');
  });

  it('compares rehearsals (彩排对比): planned vs each run’s actual minutes per step, projected against the weekend window', async () => {
    const viewer = await stack.token('zhao.viewer', 'viewer');
    const golive = `cutover-${stack.id}-golive`;
    const retry = `cutover-${stack.id}-retry`;
    const r = await stack.http('GET', `/rehearsals/comparison?workflowIds=${golive},${retry}&windowHours=48`, viewer);
    expect(r.status).toBe(200);
    const c = r.body as RehearsalComparison;
    expect(c.runs.map((x) => [x.workflowId, x.status])).toEqual([
      [golive, 'completed'],
      [retry, 'rejected'],
    ]);
    const migrate = c.steps.find((s) => s.key === 'migrate')!;
    expect(migrate).toMatchObject({ plannedMinutes: 600, actualMinutes: [expect.any(Number), expect.any(Number)] });
    expect(migrate.deltaMinutes[0]).toBeCloseTo(migrate.actualMinutes[0]! - 600, 1);
    // The rejected rehearsal never switched: no actual, no delta — and the projection counts the plan for it.
    expect(c.steps.find((s) => s.key === 'switch')).toMatchObject({ plannedMinutes: 30, actualMinutes: [expect.any(Number), null], deltaMinutes: [expect.any(Number), null] });
    const slowest = c.steps.reduce((n, s) => {
      const seen = s.actualMinutes.filter((a): a is number => a !== null);
      return n + (seen.length ? Math.max(...seen) : (s.plannedMinutes ?? 0));
    }, 0);
    expect(c.projection).toMatchObject({ windowMinutes: 2880, plannedMinutes: 720, fitsWindow: { planned: true, mean: true, slowest: true } });
    expect(c.projection.slowestMinutes).toBeCloseTo(slowest, 1);
    expect(c.projection.meanMinutes).toBeLessThanOrEqual(c.projection.slowestMinutes);
    // A one-hour window is overrun by the plan alone.
    const tight = (await stack.http('GET', `/rehearsals/comparison?workflowIds=${golive},${retry}&windowHours=1`, viewer)).body as RehearsalComparison;
    expect(tight.projection.fitsWindow).toEqual({ planned: false, mean: expect.any(Boolean), slowest: expect.any(Boolean) });
    // No window given: the latest run with one (the go-live rehearsal's 48 hours).
    expect(((await stack.http('GET', `/rehearsals/comparison?workflowIds=${golive},${retry}`, viewer)).body as RehearsalComparison).projection.windowMinutes).toBeCloseTo(2880, 0);

    const md = await stack.http('GET', `/rehearsals/comparison?workflowIds=${golive},${retry}&windowHours=48&format=markdown`, viewer);
    expect(md.contentType).toContain('text/markdown');
    expect(md.body).toContain('# 彩排对比 Rehearsal comparison');
    expect(md.body).toMatch(/\| 数据迁移 Migrate \| 600 \| [\d.]+ \| -[\d.]+ \| [\d.]+ \| -[\d.]+ \|/);
    expect(md.body).toMatch(/\| 切换 Switch the connected systems to the new addresses \| 30 \| [\d.]+ \| -[\d.]+ \| — \| — \|/);
    expect(md.body).toContain('| 计划 Plan | 720 | 可按时完成 fits |');

    // Unnamed: this queue's finished rehearsals, oldest first; the live cutovers are left out.
    const listed = (await stack.http('GET', '/rehearsals/comparison?limit=10', viewer)).body as RehearsalComparison;
    expect(listed.runs.map((x) => x.workflowId)).toEqual([`cutover-${stack.id}-unregistered`, golive, retry]);
    expect((await stack.http('GET', `/rehearsals/comparison?workflowIds=${golive},cutover-${stack.id}-rejected`, viewer)).status).toBe(409);
    expect((await stack.http('GET', `/rehearsals/comparison?workflowIds=${golive},cutover-nobody-ran-this`, viewer)).status).toBe(404);
    expect((await stack.http('GET', `/rehearsals/comparison?windowHours=0`, viewer)).status).toBe(400);
    expect((await stack.http('GET', '/rehearsals/comparison')).status).toBe(401);
  });
});
