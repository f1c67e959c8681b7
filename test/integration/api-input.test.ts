import { withClient } from '../../lib/db';
import { TestStack } from '../support/stack';

/**
 * Bad input to the API gets a 4xx problem document naming what is wrong, changes nothing, and is
 * still written to the audit trail. No worker runs here: none of these requests may reach one.
 */
describe('API input handling', () => {
  const stack = new TestStack();
  let operator: string;
  let approver: string;
  let viewer: string;
  /** every request this file sends: its request id and the status it got, to find it in the trail */
  const sent: { requestId: string; status: number; what: string }[] = [];

  beforeAll(async () => {
    await stack.start();
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    viewer = await stack.token('wang.viewer', 'viewer');
  });
  afterAll(() => stack.stop());

  async function call(what: string, method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
    const r = await stack.http(method, url, token, body, headers);
    sent.push({ requestId: r.headers.get('x-request-id') ?? '', status: r.status, what });
    return r;
  }

  /** A 4xx problem document naming the field. */
  function expectProblem(r: { status: number; body: any; contentType: string }, status: number, field?: string) {
    expect({ status: r.status, type: r.contentType.split(';')[0], field: r.body.field }).toEqual({
      status,
      type: 'application/problem+json',
      field: field ?? r.body.field,
    });
    expect(typeof r.body.detail).toBe('string');
    if (field && status === 400) expect(r.body.detail).toContain(field);
  }

  it('refuses requests without a valid token (401) and with the wrong role (403)', async () => {
    expectProblem(await call('no token', 'POST', '/cutovers', undefined, { mode: 'rehearsal' }), 401);
    expectProblem(await call('unknown token', 'GET', '/cutovers/cutover-x', 'jmrb_not-a-real-token'), 401);
    expectProblem(await call('no token, list', 'GET', '/runs'), 401);
    const wrongRole = await call('viewer starts', 'POST', '/cutovers', viewer, { mode: 'rehearsal' });
    expectProblem(wrongRole, 403);
    expect(wrongRole.body.detail).toContain('role viewer may not start cutover');
    expectProblem(await call('operator decides', 'POST', '/cutovers/cutover-x/gates/go-no-go/decision', operator, { decision: 'approve' }), 403);
    expectProblem(await call('approver cancels', 'POST', '/cutovers/cutover-x/cancel', approver, { reason: 'no business here' }), 403);
  });

  it('names the missing or malformed field (400), oversized bodies (413) and wrong content types (415)', async () => {
    const missing = await call('empty body', 'POST', '/cutovers', operator, {});
    expectProblem(missing, 400, 'body.mode');
    expect(missing.body.detail).toBe('body.mode is required');

    const badMode = await call('bad mode', 'POST', '/cutovers', operator, { mode: 'yolo' });
    expectProblem(badMode, 400, 'body.mode');
    expect(badMode.body.detail).toContain('rehearsal, live');

    const extra = await call('extra field', 'POST', '/cutovers', operator, { mode: 'live', dropTables: true });
    expect(extra.body.detail).toBe('body.dropTables is not an accepted field');

    expectProblem(await call('truncated JSON', 'POST', '/cutovers', operator, '{"mode": '), 400);
    expectProblem(await call('proto poisoning', 'POST', '/cutovers', operator, '{"mode":"live","__proto__":{"isAdmin":true}}'), 400);
    expectProblem(await call('no decision', 'POST', '/cutovers/cutover-x/gates/go-no-go/decision', approver, { reason: 'ok' }), 400, 'body.decision');
    expectProblem(await call('cancel without reason', 'POST', '/cutovers/cutover-x/cancel', operator, {}), 400, 'body.reason');

    const huge = await call('100 KiB body', 'POST', '/cutovers', operator, { mode: 'live', runId: 'x'.repeat(100 * 1024) });
    expectProblem(huge, 413);
    const plain = await call('text/plain', 'POST', '/cutovers', operator, 'mode=live', { 'content-type': 'text/plain' });
    expectProblem(plain, 415);
    const badKey = await call('bad idempotency key', 'POST', '/cutovers/cutover-x/gates/go-no-go/decision', approver, { decision: 'approve' }, { 'idempotency-key': 'a b' });
    expectProblem(badKey, 400, 'headers.idempotency-key');
  });

  it('refuses hostile and oversized strings: SQL and shell metacharacters, path traversal, control characters, secrets', async () => {
    const hostileRunIds = ["x'; DROP TABLE api_token; --", '$(rm -rf /)', '`reboot`', 'a;ls|cat', '../../etc/passwd', '.hidden', 'x'.repeat(102), '运行一'];
    for (const runId of hostileRunIds) {
      expectProblem(await call(`runId ${runId.slice(0, 20)}`, 'POST', '/cutovers', operator, { mode: 'live', runId }), 400, 'body.runId');
    }
    for (const id of ['..%2F..%2Fetc%2Fpasswd', 'cutover-..', 'cutover-a%20b', `cutover-${'x'.repeat(200)}`, "cutover-x'%20OR%20'1'='1"]) {
      expectProblem(await call(`workflowId ${id.slice(0, 20)}`, 'GET', `/cutovers/${id}`, viewer), 400, 'params.workflowId');
    }
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '..%5C..%5Cwin.ini', 'summary.md%00.csv', 'a%2Fb.md', '.env', 'summary.sh']) {
      expectProblem(await call(`report ${name}`, 'GET', `/cutovers/cutover-x/reports/${name}`, viewer), 400, 'params.name');
    }
    const longReason = await call('long reason', 'POST', '/cutovers/cutover-x/gates/go-no-go/decision', approver, { decision: 'approve', reason: '好'.repeat(2001) });
    expectProblem(longReason, 400, 'body.reason');
    expectProblem(await call('NUL in reason', 'POST', '/cutovers/cutover-x/gates/go-no-go/decision', approver, { decision: 'approve', reason: 'ok\u0000; rm -rf /' }), 400, 'body.reason');
    expectProblem(await call('bidi override', 'POST', '/cutovers/cutover-x/cancel', operator, { reason: 'looks fine \u202Egnp.exe' }), 400, 'body.reason');
    const secret = await call('token in reason', 'POST', '/cutovers/cutover-x/gates/go-no-go/decision', approver, { decision: 'approve', reason: `my token is ${approver}` });
    expectProblem(secret, 400, 'body.reason');
    expect(secret.body.detail).toContain('a bearer token');
    expect(JSON.stringify(secret.body)).not.toContain(approver);
    const url = await call('connection string in reason', 'POST', '/cutovers/cutover-x/cancel', operator, { reason: 'use postgres://admin:hunter2@db/prod instead' });
    expectProblem(url, 400, 'body.reason');

    expectProblem(await call('status injection', 'GET', `/runs?status=${encodeURIComponent('running" OR 1=1')}`, viewer), 400, 'querystring.status');
    expectProblem(await call('phase injection', 'GET', `/runs?phase=${encodeURIComponent('a" OR RunbookKind != "x')}`, viewer), 400, 'querystring.phase');
    expectProblem(await call('page size', 'GET', '/runs?pageSize=100000', viewer), 400, 'querystring.pageSize');
    expectProblem(await call('page token', 'GET', '/runs?pageToken=%2F..%2F', viewer), 400, 'querystring.pageToken');
    expectProblem(await call('unknown filter', 'GET', '/runs?orderBy=1', viewer), 400, 'querystring.orderBy');
  });

  it('answers 404 for an unknown run, gate or report', async () => {
    const unknownRun = await call('unknown run', 'GET', '/cutovers/cutover-does-not-exist', viewer);
    expectProblem(unknownRun, 404, 'params.workflowId');
    expect(unknownRun.body.detail).toBe('no cutover run with id cutover-does-not-exist');
    expectProblem(await call('decide unknown run', 'POST', '/cutovers/cutover-does-not-exist/gates/go-no-go/decision', approver, { decision: 'approve' }), 404, 'params.workflowId');
    expectProblem(await call('cancel unknown run', 'POST', '/cutovers/cutover-does-not-exist/cancel', operator, { reason: 'wrong run' }), 404, 'params.workflowId');
    const unknownGate = await call('unknown gate', 'POST', '/cutovers/cutover-does-not-exist/gates/launch-missiles/decision', approver, { decision: 'approve' });
    expectProblem(unknownGate, 404, 'params.gate');
    expect(unknownGate.body.detail).toContain('gate "launch-missiles" does not exist; cutover gates: wipe, go-no-go, switch');
    const unknownReport = await call('unknown report', 'GET', '/cutovers/cutover-x/reports/secrets.md', viewer);
    expectProblem(unknownReport, 404, 'params.name');
    expect(unknownReport.body.detail).toContain('summary.md, tables.csv');
    expectProblem(await call('unknown kind', 'GET', '/runs/launch-now', viewer), 404, 'params.workflowId');
    expectProblem(await call('no such route', 'DELETE', '/audit_log', operator), 404);
  });

  it('keeps a sane X-Request-Id, replaces anything else, and returns it', async () => {
    const kept = await stack.http('GET', '/health', undefined, undefined, { 'x-request-id': 'ops-console-0001' });
    expect(kept.headers.get('x-request-id')).toBe('ops-console-0001');
    for (const bad of ['<script>alert(1)</script>', 'short', approver, 'a'.repeat(300)]) {
      const r = await stack.http('GET', '/health', undefined, undefined, { 'x-request-id': bad });
      expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    const problem = await stack.http('GET', '/cutovers/cutover-x', undefined, undefined, { 'x-request-id': 'ops-console-0002' });
    expect(problem.body.requestId).toBe('ops-console-0002');
  });

  it('changed nothing, and recorded every refused request in the append-only audit trail', async () => {
    const runs = await stack.temporal.workflow.count(`TaskQueue = "${stack.settings.TASK_QUEUE}"`);
    expect(runs.count).toBe(0);
    await withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) => {
      expect((await c.query('SELECT count(*)::int AS n FROM api_token')).rows[0].n).toBe(3);
      expect((await c.query('SELECT count(*)::int AS n FROM gate_decision')).rows[0].n).toBe(0);
    });

    const rows = await stack.auditRows();
    const byRequest = new Map(rows.map((r) => [r.request_id, r]));
    const missing = sent.filter((s) => !byRequest.has(s.requestId)).map((s) => s.what);
    expect(missing).toEqual([]);
    for (const s of sent) expect({ what: s.what, status: byRequest.get(s.requestId)!.status_code, outcome: byRequest.get(s.requestId)!.outcome }).toEqual({ what: s.what, status: s.status, outcome: 'refused' });
    // Successful reads (the health checks above) are not state changes and are not recorded.
    expect(rows.filter((r) => r.outcome !== 'refused')).toEqual([]);

    expect(rows).toContainEqual(expect.objectContaining({ actor: null, status_code: 401 }));
    expect(rows).toContainEqual(expect.objectContaining({ actor: 'wang.viewer', action: 'start cutover', status_code: 403 }));
    expect(rows).toContainEqual(expect.objectContaining({ actor: 'li.approver', action: 'decide gate', run_id: 'cutover-does-not-exist', status_code: 404 }));
    // Hostile input is kept as evidence, made safe: control characters escaped, long values cut, secrets out.
    const nul = rows.find((r) => r.request_id === sent.find((s) => s.what === 'NUL in reason')!.requestId)!;
    expect(nul.status_code).toBe(400);
    const traversal = rows.find((r) => r.request_id === sent.find((s) => s.what.startsWith('workflowId ..'))!.requestId)!;
    expect(traversal.detail.url).toBe('/cutovers/..%2F..%2Fetc%2Fpasswd');
    expect(JSON.stringify(rows)).not.toContain(approver);

    await expect(withClient(stack.settings.RUNBOOK_DATABASE_URL, (c) => c.query('DELETE FROM audit_log'))).rejects.toThrow('audit_log is append-only');
    await expect(withClient(stack.settings.RUNBOOK_DATABASE_URL, (c) => c.query("UPDATE audit_log SET actor = 'nobody'"))).rejects.toThrow('append-only');
  });
});
