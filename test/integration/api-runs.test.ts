import fs from 'node:fs';
import path from 'node:path';
import { withClient } from '../../lib/db';
import type { CutoverState } from '../../workflows/cutover-messages';
import type { FallbackState } from '../../workflows/fallback-messages';
import { eventually, TestStack } from '../support/stack';

/**
 * The run routes against real runs: list and filter from Temporal visibility, pending approvals per
 * caller, idempotent and four-eyes-checked decisions, cancellation with a reason, reports — each
 * state-changing request in the audit trail with its run id. One cutover per target database at a time
 * (目标库租约): runs a, b and c take the stack's target one after the other — a completes, then b is
 * parked and cancelled, then c (the admin's own) is parked and rejected.
 */
describe('runs, approvals and cancellation through the API', () => {
  const stack = new TestStack();
  let operator: string;
  let approver: string;
  let approver2: string;
  let admin: string;
  let viewer: string;
  const ids: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };

  beforeAll(async () => {
    await stack.start();
    await stack.seedLegacy(300);
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    approver2 = await stack.token('chen.approver', 'approver');
    admin = await stack.token('zhang.admin', 'admin');
    viewer = await stack.token('wang.viewer', 'viewer');
    await stack.startWorker();
    ids.a = await stack.startCutoverAtGate(operator, `${stack.id}-a`);
  });
  const pending = async (token: string) => ((await stack.http('GET', '/approvals/pending', token)).body.pending as any[]).map((p) => p.workflowId).sort();
  afterAll(() => stack.stop());

  const state = async (id: string) => (await stack.http('GET', `/cutovers/${id}`, viewer)).body as CutoverState & { execution: string; progress: any; openGates: string[]; reports: string[] };

  it('records the run id of a start in the audit trail', async () => {
    const starts = (await stack.auditRows()).filter((r) => r.action === 'start cutover');
    expect(starts.map((r) => [r.actor, r.run_id, r.status_code])).toEqual([['olivia.ops', ids.a, 201]]);
  });

  it('shows state with progress, and finds a run by id alone', async () => {
    const s = await state(ids.a);
    expect(s).toMatchObject({ kind: 'cutover', execution: 'RUNNING', status: 'waiting_approval', openGates: ['go-no-go'] });
    expect(s.reports).toEqual([
      'summary.md',
      'tables.csv',
      ...['evidence', 'verification-report', 'failure-analysis'].flatMap((n) => [`${n}.md`, `${n}.html`, `${n}.json`]),
    ]);
    expect(s.progress).toEqual({ done: 10, total: 20, current: '上线决策 Go/no-go approval' });
    const found = await stack.http('GET', `/runs/${ids.a}`, viewer);
    expect(found.status).toBe(307);
    expect(found.headers.get('location')).toBe(`/cutovers/${ids.a}`);
  });

  it('lists runs from Temporal visibility, filtered', async () => {
    const all = await eventually(async () => {
      const r = await stack.http('GET', '/runs?kind=cutover&status=waiting_approval&phase=go-no-go', viewer);
      return r.body.runs?.length === 1 ? r.body : undefined;
    }, 'run a waiting in the list');
    expect(all.runs.map((r: any) => r.workflowId)).toEqual([ids.a]);
    expect(all.runs[0]).toMatchObject({ kind: 'cutover', execution: 'RUNNING', status: 'waiting_approval', phase: 'go-no-go', href: `/cutovers/${ids.a}` });
    expect(all.nextPageToken).toBeUndefined();
    expect((await stack.http('GET', '/runs?status=completed', viewer)).body.runs).toEqual([]);
    expect((await stack.http('GET', '/runs?kind=cutover&phase=wipe', viewer)).body.runs).toEqual([]);
  });

  it('lists, for each caller, the gates waiting for them: their role may decide, and they did not start the run', async () => {
    expect(await pending(approver)).toEqual([ids.a]);
    expect(await pending(admin)).toEqual([ids.a]); // not olivia.ops's: the admin may decide it (c, the admin's own, is below)
    expect(await pending(operator)).toEqual([]); // operators decide no gates
    expect(await pending(viewer)).toEqual([]);
    const item = (await stack.http('GET', '/approvals/pending', approver)).body.pending.find((p: any) => p.workflowId === ids.a);
    expect(item).toMatchObject({ gate: 'go-no-go', gateTitle: '上线决策 Go/no-go approval', requestedBy: 'olivia.ops', decide: `/cutovers/${ids.a}/gates/go-no-go/decision` });
  });

  it('counts a repeated approval once: same Idempotency-Key, concurrent duplicates, or the same person again', async () => {
    const url = `/cutovers/${ids.a}/gates/go-no-go/decision`;
    const body = { decision: 'approve', reason: "记录数一致 counts reconcile; it's fine" };
    const key = { 'idempotency-key': `${stack.id}-approve-a` };
    // A double click: five identical requests at once.
    const burst = await Promise.all(Array.from({ length: 5 }, () => stack.http('POST', url, approver, body, key)));
    expect(burst.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(new Set(burst.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(burst.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
    const first = burst[0].body;
    expect(first).toMatchObject({ workflowId: ids.a, gate: 'go-no-go', decision: 'approve', decidedBy: 'li.approver', status: 'sent' });

    // Later, the same key again, and the same person without a key: the same answer, nothing sent.
    const again = await stack.http('POST', url, approver, body, key);
    expect({ status: again.status, body: again.body }).toEqual({ status: 202, body: first });
    const noKey = await stack.http('POST', url, approver, { decision: 'approve' });
    expect({ status: noKey.status, body: noKey.body }).toEqual({ status: 202, body: first });

    // Changing one's mind, or reusing the key for something else, is refused.
    const flip = await stack.http('POST', url, approver, { decision: 'reject' });
    expect(flip.status).toBe(409);
    expect(flip.body.field).toBe('body.decision');
    // (the same key reused on another run is refused too: run b, below)

    // The run goes on past go/no-go (snapshot, business tests, rollback) to its switch gate.
    const done = await eventually(async () => {
      const s = await state(ids.a);
      return s.gates.find((g) => g.name === 'go-no-go')?.status === 'approved' ? s : undefined;
    }, 'the go/no-go gate approved');
    expect(done.decisions.filter((d) => d.gate === 'go-no-go')).toEqual([expect.objectContaining({ actor: 'li.approver', decision: 'approve', accepted: true, reason: body.reason })]);

    // A second approver arriving after the gate closed is told so, not silently ignored.
    const late = await stack.http('POST', url, approver2, { decision: 'approve' });
    expect(late.status).toBe(409);

    await withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) => {
      const rows = (await c.query(`SELECT workflow_id, actor, decision FROM gate_decision WHERE gate = 'go-no-go'`)).rows;
      expect(rows).toEqual([{ workflow_id: ids.a, actor: 'li.approver', decision: 'approve' }]);
    });
    const trail = (await stack.auditRows()).filter((r) => r.action === 'decide gate' && r.run_id === ids.a && r.detail.params?.gate === 'go-no-go');
    expect(trail.map((r) => [r.actor, r.status_code, r.detail.replayed ?? false])).toEqual(
      expect.arrayContaining([
        ['li.approver', 202, false],
        ['li.approver', 202, true],
        ['li.approver', 409, false],
        ['chen.approver', 409, false],
      ]),
    );
    expect(trail.filter((r) => r.status_code === 202 && !r.detail.replayed)).toHaveLength(1);
    expect(trail.filter((r) => r.status_code === 202 && r.detail.replayed)).toHaveLength(6);
    // Run a goes on past go/no-go to its switch gate.
    await eventually(async () => ((await pending(approver)).length === 1 && (await state(ids.a)).phase === 'gate-switch' ? true : undefined), 'run a at its switch gate');
  });

  it('serves reports of a run, by name only', async () => {
    const md = await stack.http('GET', `/cutovers/${ids.a}/reports/summary.md`, viewer);
    expect(md.status).toBe(200);
    expect(md.contentType).toBe('text/markdown; charset=utf-8');
    expect(md.headers.get('content-disposition')).toBe(`attachment; filename="${ids.a}-summary.md"`);
    expect(md.body).toContain('☑ 上线决策 Go/no-go approval — approved by li.approver');
    expect(md.body).toContain('| go-no-go | approve | li.approver | counted 已计入 |');
    const csv = await stack.http('GET', `/cutovers/${ids.a}/reports/tables.csv`, viewer);
    expect(csv.contentType).toBe('text/csv; charset=utf-8');
    expect(csv.body.split('\r\n')[0]).toBe('"table","rows_read","rows_loaded","rows_quarantined","counts_reconciled","duration_ms"');
    expect(csv.body.split('\r\n')[1]).toMatch(/^"market_entity","300",/);
  });

  it('serves the files a run wrote (evidence pack, verification report) from REPORTS_DIR, to a viewer', async () => {
    const reports = stack.settings.REPORTS_DIR;
    const runA = `${stack.id}-a`;
    // Run a waits at its switch gate: its evidence pack is not written yet, its verification report is.
    const early = await stack.http('GET', `/cutovers/${ids.a}/reports/evidence.md`, viewer);
    expect({ status: early.status, type: early.contentType.split(';')[0], field: early.body.field }).toEqual({ status: 404, type: 'application/problem+json', field: 'params.name' });
    expect(early.body.detail).toContain('has no evidence.md (yet)');
    const verification = await stack.http('GET', `/cutovers/${ids.a}/reports/verification-report.md`, viewer);
    expect(verification.status).toBe(200);
    expect(verification.body).toBe(fs.readFileSync(path.join(reports, 'verification', runA, 'verification-report.md'), 'utf8'));

    expect((await stack.http('POST', `/cutovers/${ids.a}/gates/switch/decision`, approver, { decision: 'approve', reason: '切换 switch' })).status).toBe(202);
    expect(((await stack.temporal.workflow.getHandle(ids.a).result()) as CutoverState).status).toBe('completed');

    const md = await stack.http('GET', `/cutovers/${ids.a}/reports/evidence.md`, viewer);
    expect({ status: md.status, type: md.contentType }).toEqual({ status: 200, type: 'text/markdown; charset=utf-8' });
    expect(md.headers.get('content-disposition')).toBe(`attachment; filename="${ids.a}-evidence.md"`);
    expect(md.body).toBe(fs.readFileSync(path.join(reports, runA, 'evidence.md'), 'utf8'));
    expect(md.body).toContain('# 割接证据包 Cutover evidence pack');
    const json = await stack.http('GET', `/cutovers/${ids.a}/reports/evidence.json`, viewer);
    expect(json.contentType).toBe('application/json; charset=utf-8');
    expect(json.body).toEqual(JSON.parse(fs.readFileSync(path.join(reports, runA, 'evidence.json'), 'utf8')));
    expect(json.body).toMatchObject({ kind: 'evidence-pack', runId: runA, status: 'completed' });
    const html = await stack.http('GET', `/cutovers/${ids.a}/reports/evidence.html`, viewer);
    expect(html.contentType).toBe('text/html; charset=utf-8');
    expect(html.body).toContain(`<h1>割接证据包 Cutover evidence pack — ${runA}</h1>`);
    expect(html.body).toContain("<td>go-no-go</td><td>approve</td><td>li.approver</td><td>approver</td><td>记录数一致 counts reconcile; it's fine</td>");
    expect(html.body).not.toMatch(/<script/i);
  });

  it('cancels a run with a reason (operator), ending it as cancelled; the reason is audited', async () => {
    // Run a has the target until it ends: b starts once a completed.
    ids.b = await stack.startCutoverAtGate(operator, `${stack.id}-b`);
    expect(await pending(approver)).toEqual([ids.b]);
    // An Idempotency-Key used for run a's approval is refused on run b.
    const reused = await stack.http('POST', `/cutovers/${ids.b}/gates/go-no-go/decision`, approver, { decision: 'approve', reason: "记录数一致 counts reconcile; it's fine" }, { 'idempotency-key': `${stack.id}-approve-a` });
    expect(reused.status).toBe(422);
    expect(reused.body.field).toBe('headers.idempotency-key');
    const asApprover = await stack.http('POST', `/cutovers/${ids.b}/cancel`, approver, { reason: 'not mine to cancel' });
    expect(asApprover.status).toBe(403);
    const cancelled = await stack.http('POST', `/cutovers/${ids.b}/cancel`, operator, { reason: '窗口取消 maintenance window withdrawn' });
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ workflowId: ids.b, status: 'cancel_requested' });

    const s = await eventually(async () => {
      const x = await state(ids.b);
      return x.execution === 'CANCELLED' ? x : undefined;
    }, 'the run to end cancelled');
    expect(s).toMatchObject({ status: 'cancelled', phase: 'finished', openGates: [] });
    expect(s.gates.find((g) => g.name === 'go-no-go')!.status).toBe('cancelled');
    expect(s.steps.find((st) => st.key === 'go-no-go')!.status).toBe('cancelled');
    const desc = await stack.temporal.workflow.getHandle(ids.b).describe();
    expect(desc.searchAttributes.RunbookStatus).toEqual(['cancelled']);
    // The history says who cancelled and why.
    const history = await stack.temporal.workflow.getHandle(ids.b).fetchHistory();
    const request = history.events!.find((e) => e.workflowExecutionCancelRequestedEventAttributes)!.workflowExecutionCancelRequestedEventAttributes!;
    expect(request).toMatchObject({ identity: 'api:olivia.ops', cause: 'olivia.ops: 窗口取消 maintenance window withdrawn' });

    expect((await stack.http('POST', `/cutovers/${ids.b}/cancel`, operator, { reason: 'again' })).status).toBe(409);
    expect(await pending(approver)).toEqual([]);
    expect(s.targetLease?.released).toMatch(/released/);
    const trail = (await stack.auditRows()).filter((r) => r.action === 'cancel cutover');
    expect(trail.map((r) => [r.actor, r.run_id, r.status_code, r.detail.reason])).toEqual([
      ['li.approver', ids.b, 403, undefined],
      ['olivia.ops', ids.b, 202, '窗口取消 maintenance window withdrawn'],
      ['olivia.ops', ids.b, 409, 'again'],
    ]);
  });

  it('refuses the initiator deciding their own run (four-eyes), and changes nothing', async () => {
    // b was cancelled: the target is free for c, the admin's own run.
    ids.c = await stack.startCutoverAtGate(admin, `${stack.id}-c`);
    expect(await pending(approver)).toEqual([ids.c]);
    expect(await pending(admin)).toEqual([]); // c is zhang.admin's own run
    const own = await stack.http('POST', `/cutovers/${ids.c}/gates/go-no-go/decision`, admin, { decision: 'approve' });
    expect(own.status).toBe(403);
    expect(own.body.detail).toBe('zhang.admin started this run and cannot decide its gates');
    const s = await state(ids.c);
    expect(s.gates.find((g) => g.name === 'go-no-go')!.status).toBe('open');
    expect(s.decisions.filter((d) => d.gate === 'go-no-go')).toHaveLength(0);
  });

  it('serves the failure analysis of a rejected run and of its fallback', async () => {
    // Run c is rejected: the fallback runs (under c's lease) and writes its failure analysis.
    expect((await stack.http('POST', `/cutovers/${ids.c}/gates/go-no-go/decision`, approver, { decision: 'reject', reason: '业务验证不通过 rejected' })).status).toBe(202);
    const c = (await stack.temporal.workflow.getHandle(ids.c).result()) as CutoverState;
    expect(c.fallback).toMatchObject({ workflowId: `fallback-${stack.id}-c`, status: 'completed' });
    const fallbackId = c.fallback!.workflowId;
    const written = c.fallback!.report!;
    const fromCutover = await stack.http('GET', `/cutovers/${ids.c}/reports/failure-analysis.md`, viewer);
    expect(fromCutover.body).toBe(fs.readFileSync(written.markdown, 'utf8'));
    expect(fromCutover.body).toContain('# 割接失败原因分析 Failure analysis');
    const fb = (await stack.http('GET', `/fallbacks/${fallbackId}`, viewer)).body as FallbackState & { kind: string; reports: string[] };
    expect(fb).toMatchObject({ kind: 'fallback', status: 'completed', reports: ['failure-analysis.md', 'failure-analysis.html', 'failure-analysis.json'] });
    const fromFallback = await stack.http('GET', `/fallbacks/${fallbackId}/reports/failure-analysis.json`, viewer);
    expect(fromFallback.body).toEqual(JSON.parse(fs.readFileSync(written.json, 'utf8')));
    const listed = await eventually(async () => {
      const runs = (await stack.http('GET', '/runs?kind=fallback', viewer)).body.runs;
      return runs.length ? runs : undefined;
    }, 'the fallback in the run list');
    expect(listed.map((r: any) => [r.workflowId, r.status, r.href])).toEqual([[fallbackId, 'completed', `/fallbacks/${fallbackId}`]]);
  });

  it('lists every run, paginated: a completed, b cancelled, c rejected (and no two at once: the starts were audited in turn)', async () => {
    const page1 = await stack.http('GET', '/runs?kind=cutover&pageSize=2', viewer);
    expect(page1.body.runs).toHaveLength(2);
    expect(page1.body.nextPageToken).toMatch(/^[A-Za-z0-9_-]+$/);
    const page2 = await stack.http('GET', `/runs?kind=cutover&pageSize=2&pageToken=${page1.body.nextPageToken}`, viewer);
    expect(page2.body.runs).toHaveLength(1);
    const all = [...page1.body.runs, ...page2.body.runs];
    expect(all.map((r: any) => [r.workflowId, r.status]).sort()).toEqual(
      [
        [ids.a, 'completed'],
        [ids.b, 'cancelled'],
        [ids.c, 'rejected'],
      ].sort(),
    );
    expect((await stack.http('GET', '/runs?status=waiting_approval', viewer)).body.runs).toEqual([]);
    const starts = (await stack.auditRows()).filter((r) => r.action === 'start cutover');
    expect(starts.map((r) => [r.actor, r.run_id, r.status_code])).toEqual([
      ['olivia.ops', ids.a, 201],
      ['olivia.ops', ids.b, 201],
      ['zhang.admin', ids.c, 201],
    ]);
  });

  it('refuses path traversal in report downloads with a 4xx problem, records each, and follows no link out of REPORTS_DIR', async () => {
    const hostile = [
      `/cutovers/${ids.a}/reports/..%2F..%2F..%2Fetc%2Fpasswd`,
      `/cutovers/${ids.a}/reports/..%252F..%252Fetc%252Fpasswd`,
      `/cutovers/${ids.a}/reports/%2Fetc%2Fpasswd`,
      `/cutovers/${ids.a}/reports/..%5C..%5Cevidence.md`,
      `/cutovers/${ids.a}/reports/evidence.md%00.csv`,
      `/cutovers/cutover-..%2F..%2Fetc/reports/evidence.md`,
      `/fallbacks/fallback-x/reports/..%2Fevidence.md`,
    ];
    const answers = [];
    for (const url of hostile) {
      const r = await stack.http('GET', url, viewer);
      answers.push({ url, status: r.status, type: r.contentType.split(';')[0], field: r.body.field, requestId: r.headers.get('x-request-id') });
    }
    expect(answers.map(({ url, status, type, field }) => ({ url, status, type, field }))).toEqual(
      hostile.map((url) => ({ url, status: 400, type: 'application/problem+json', field: url.includes('/cutover-..') ? 'params.workflowId' : 'params.name' })),
    );
    // An absolute path is no route at all (so no token is even looked at: the trail has no actor for it).
    const absolute = await stack.http('GET', `/cutovers/${ids.a}/reports//etc/passwd`, viewer);
    expect({ status: absolute.status, type: absolute.contentType.split(';')[0] }).toEqual({ status: 404, type: 'application/problem+json' });
    expect(JSON.stringify(absolute.body)).not.toContain('root:');
    expect((await stack.http('GET', `/cutovers/${ids.a}/reports/evidence.md`)).status).toBe(401);

    const trail = new Map((await stack.auditRows()).map((r) => [r.request_id, r]));
    for (const a of answers) expect(trail.get(a.requestId!)).toMatchObject({ actor: 'wang.viewer', status_code: 400, outcome: 'refused' });
    expect(trail.get(absolute.headers.get('x-request-id')!)).toMatchObject({ actor: null, status_code: 404, outcome: 'refused' });

    // A link planted in the run's folder does not lead the API outside REPORTS_DIR.
    const planted = path.join(stack.settings.REPORTS_DIR, `${stack.id}-a`, 'evidence.json');
    fs.rmSync(planted);
    fs.symlinkSync('/etc/passwd', planted);
    const viaLink = await stack.http('GET', `/cutovers/${ids.a}/reports/evidence.json`, viewer);
    expect({ status: viaLink.status, field: viaLink.body.field }).toEqual({ status: 404, field: 'params.name' });
    expect(JSON.stringify(viaLink.body)).not.toContain('root:');
  });
});
