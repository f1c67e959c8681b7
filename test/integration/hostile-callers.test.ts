import net from 'node:net';
import { Client, Connection, defaultGrpcRetryOptions, defaultPayloadConverter, makeGrpcRetryInterceptor, WorkflowNotFoundError } from '@temporalio/client';
import { buildApp } from '../../api/app';
import { resilientPool } from '../../lib/db';
import { appRoleUrl } from '../../lib/runbook-db';
import { registerTarget } from '../../lib/target-guard';
import { CutoverState, decideGateSignal } from '../../workflows/cutover-messages';
import { eventually, TestStack } from '../support/stack';

/**
 * Hostile and careless callers of the API (real API, worker, Temporal and PostgreSQL): a run id reused
 * after a cancel must not inherit the old run's ledger or signatures; an Idempotency-Key reused with
 * another body is refused; of many concurrent decisions on one gate only the counted one hears 202; the
 * router's refusals, query-string tokens, bad page tokens and a dead Temporal get clean answers.
 */
describe('hostile callers of the API 恶意调用', () => {
  const stack = new TestStack();
  let operator: string;
  let approver: string;
  let viewer: string;

  beforeAll(async () => {
    await stack.start();
    await stack.seedLegacy(300);
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    viewer = await stack.token('wang.viewer', 'viewer');
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    await stack.startWorker();
  });
  afterAll(() => stack.stop());

  const get = async (id: string) => (await stack.http('GET', `/cutovers/${id}`, viewer)).body as CutoverState & { execution: string };

  it('a run id started again is another run: no ledger answer and no signature of the old run counts on it', async () => {
    const runId = `${stack.id}-again`;
    const first = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId });
    const id = first.body.workflowId as string;
    await eventually(async () => (await get(id)).status === 'waiting_approval', 'the wipe gate of the first run');
    const firstRun = (await stack.temporal.workflow.getHandle(id).describe()).runId;
    expect((await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'approve', reason: 'first run' })).status).toBe(202);
    await eventually(async () => (await get(id)).gates[0].status === 'approved', 'the first run to count it');
    // The approval as it travelled, captured from the first run's history (anyone with Temporal access can read it).
    const history = await stack.temporal.workflow.getHandle(id, firstRun).fetchHistory();
    const captured = history.events!.map((e) => e.workflowExecutionSignaledEventAttributes).find((a) => a?.signalName === 'decideGate')!;
    const signed = defaultPayloadConverter.fromPayload(captured.input!.payloads![0]);
    expect(signed).toMatchObject({ workflowId: id, runId: firstRun, gate: 'wipe', actor: 'li.approver' });

    expect((await stack.http('POST', `/cutovers/${id}/cancel`, operator, { reason: '重来 start again' })).status).toBe(202);
    await eventually(async () => (await get(id)).execution !== 'RUNNING', 'the first run to end');
    expect((await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId })).status).toBe(201);
    await eventually(async () => {
      const s = await get(id);
      return s.execution === 'RUNNING' && s.status === 'waiting_approval';
    }, 'the wipe gate of the second run');
    const secondRun = (await stack.temporal.workflow.getHandle(id).describe()).runId;
    expect(secondRun).not.toBe(firstRun);

    // The old signed approval replayed onto the new run: refused, naming both runs.
    await stack.temporal.workflow.getHandle(id).signal(decideGateSignal, signed);
    const refused = await eventually(async () => ((await get(id)).decisions.length === 1 ? await get(id) : undefined), 'the replay recorded');
    expect(refused.decisions[0]).toMatchObject({ accepted: false, refusal: `the decision was signed for run ${firstRun} of ${id}, not this run ${secondRun}` });
    expect(refused.gates[0].status).toBe('open');

    // The same approver, the same gate, on the new run: sent to the new run, not answered from the old ledger.
    const key = { 'idempotency-key': `again-${stack.id}` };
    const fresh = await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'approve', reason: 'second run' }, key);
    expect(fresh.status).toBe(202);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(fresh.body.requestId).toBe(fresh.headers.get('x-request-id'));
    await eventually(async () => (await get(id)).gates[0].status === 'approved', 'the second run to count it');
    // The same key with another reason is another request: refused, not replayed.
    const changed = await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'approve', reason: 'something else' }, key);
    expect(changed.status).toBe(422);
    expect(changed.body.detail).toMatch(/with another reason/);
    const same = await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'approve', reason: 'second run' }, key);
    expect([same.status, same.headers.get('idempotent-replayed')]).toEqual([202, 'true']);

    // 40 approvers decide the go/no-go gate at once, approving and rejecting: one is counted and told 202; the rest hear 409.
    await eventually(async () => (await get(id)).phase === 'go-no-go', 'the go/no-go gate', 90_000);
    const deciders = await Promise.all(Array.from({ length: 40 }, (_, i) => stack.token(`rush.approver${i}`, 'approver')));
    const answers = await Promise.all(
      deciders.map((t, i) => stack.http('POST', `/cutovers/${id}/gates/go-no-go/decision`, t, { decision: i % 2 ? 'reject' : 'approve', reason: `rush ${i}` })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(39);
    const decided = await eventually(async () => {
      const s = await get(id);
      return s.gates[1].status !== 'open' ? s : undefined;
    }, 'the go/no-go decided');
    // Every decision the workflow received was counted: none was told "sent" only to be refused.
    expect(decided.decisions.filter((d) => d.gate === 'go-no-go').map((d) => d.accepted)).toEqual([true]);
    // the run may have finished by itself meanwhile (a rejection wins the race and its fallback ends it): nothing to stop then
    await stack.temporal.workflow
      .getHandle(id)
      .terminate('test over')
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
  });

  it('a run started around the API is refused as its first act, recorded, and touches nothing', async () => {
    const attempts = [
      { name: 'unsigned', requestedBy: 'nobody', start: undefined, refusal: /made around the API/ },
      { name: 'forged', requestedBy: 'nobody', start: (id: string) => stack.signStart(id, 'nobody', 'a-key-that-is-not-the-workers-key-000000'), refusal: /signature is invalid/ },
      // a real signed start of someone else, with the initiator swapped to dodge four-eyes
      { name: 'swapped', requestedBy: 'nobody', start: (id: string) => stack.signStart(id, 'olivia.ops'), refusal: /signed for olivia\.ops, but the run says it was requested by nobody/ },
      { name: 'other-run', requestedBy: 'olivia.ops', start: () => stack.signStart(`cutover-${stack.id}-elsewhere`, 'olivia.ops'), refusal: /signed for cutover-.*-elsewhere, not this run/ },
    ];
    for (const a of attempts) {
      const workflowId = `cutover-${stack.id}-around-${a.name}`;
      const handle = await stack.temporal.workflow.start('cutover', {
        workflowId,
        taskQueue: stack.settings.TASK_QUEUE,
        args: [{ runId: `${stack.id}-around-${a.name}`, mode: 'live', requestedBy: a.requestedBy, ...(a.start ? { start: a.start(workflowId) } : {}) }],
      });
      const result = (await handle.result()) as CutoverState;
      expect([a.name, result.status]).toEqual([a.name, 'failed']);
      expect(result.failure).toMatch(a.refusal);
      expect(result.steps.filter((s) => s.status !== 'cancelled').map((s) => s.key)).toEqual(['evidence']);
      expect(result.backup).toBeUndefined();
      const listed = await eventually(async () => (await stack.http('GET', `/runs?kind=cutover&status=failed`, viewer)).body.runs?.find((r: { workflowId: string }) => r.workflowId === workflowId), 'the refused run listed');
      expect(listed.status).toBe('failed');
      const audited = (await stack.auditRows()).filter((r) => r.run_id === workflowId);
      expect(audited).toEqual([expect.objectContaining({ action: 'start refused by the run: not signed by the API', status_code: 403, outcome: 'refused' })]);
    }
  });

  it('router refusals, query-string tokens and bad page tokens get clean, recorded answers', async () => {
    const long = await stack.http('GET', `/cutovers/cutover-${'x'.repeat(300)}`, viewer);
    expect(long.status).toBe(414);
    expect(long.contentType).toMatch(/application\/problem\+json/);
    const requestId = long.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    expect(long.body.requestId).toBe(requestId);
    await eventually(async () => (await stack.auditRows()).some((r) => r.request_id === requestId && r.status_code === 414 && r.outcome === 'refused'), 'the 414 audited');

    const token = `jmrb_${'A'.repeat(32)}`;
    const echoed = await stack.http('GET', `/cutovers/cutover-nope?token=${token}&access_token=${token}`, viewer);
    expect(echoed.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(echoed.body)).not.toContain(token);
    expect(echoed.body.instance).toMatch(/token=\[redacted\]/);

    for (const pageToken of ['AAAA', 'not-base64!', 'A'.repeat(400)]) {
      const page = await stack.http('GET', `/runs?pageToken=${encodeURIComponent(pageToken)}`, viewer);
      expect([pageToken, page.status, page.body.field]).toEqual([pageToken, 400, 'querystring.pageToken']);
    }
  });

  it('with Temporal hanging (a connection that never answers), a read is answered 503 within the deadline, not left waiting', async () => {
    // A server that takes the TCP connection and never says a word: what a restart or a half-open link looks like from here.
    const held = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      held.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const hung = new Client({ connection: Connection.lazy({ address }), namespace: 'default' });
    const pool = resilientPool({ connectionString: appRoleUrl(stack.settings.RUNBOOK_DATABASE_URL), max: 2 });
    const app = await buildApp({ temporal: hung, pool, taskQueue: stack.settings.TASK_QUEUE, uiBaseUrl: 'http://127.0.0.1:8233', signingKey: stack.settings.APPROVAL_SIGNING_KEY, reportsDir: stack.settings.REPORTS_DIR, logLevel: 'silent', temporalDeadlineMs: 2000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      // A read, and a decision (its body parsed first: the deadline must still hold for what the handler sends).
      for (const [method, url, token, body] of [
        ['GET', '/cutovers/cutover-anything', viewer, undefined],
        ['POST', '/cutovers/cutover-anything/gates/go-no-go/decision', approver, { decision: 'approve', reason: 'ok' }],
      ] as const) {
        const t0 = Date.now();
        const r = await stack.http(method, url, token, body, {}, base);
        expect([url, r.status, r.headers.get('retry-after')]).toEqual([url, 503, '5']);
        expect(Date.now() - t0).toBeLessThan(10_000);
      }
    } finally {
      await app.close();
      await pool.end();
      await hung.connection.close();
      // The connections it took are ended too, or they would keep jest from exiting.
      for (const socket of held) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('with Temporal down, reads and decisions answer 503 with Retry-After, not 500', async () => {
    // One attempt per call: the SDK's default retries an UNAVAILABLE server until the request's 15 s deadline,
    // three times over here; the answer tested is the same (UNAVAILABLE → 503), only sooner.
    const dead = new Client({
      connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: '1s', interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 1 }))] }),
      namespace: 'default',
    });
    const pool = resilientPool({ connectionString: appRoleUrl(stack.settings.RUNBOOK_DATABASE_URL), max: 2 });
    const app = await buildApp({ temporal: dead, pool, taskQueue: stack.settings.TASK_QUEUE, uiBaseUrl: 'http://127.0.0.1:8233', signingKey: stack.settings.APPROVAL_SIGNING_KEY, reportsDir: stack.settings.REPORTS_DIR, logLevel: 'silent' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      for (const [method, url, body] of [
        ['GET', '/cutovers/cutover-anything', undefined],
        ['GET', '/runs', undefined],
        ['POST', '/cutovers/cutover-anything/gates/go-no-go/decision', { decision: 'approve' }],
      ] as const) {
        const r = await stack.http(method, url, method === 'POST' ? approver : viewer, body, {}, base);
        expect([url, r.status, r.headers.get('retry-after')]).toEqual([url, 503, '5']);
        expect(r.body.detail).toMatch(/Temporal server is unavailable/);
      }
    } finally {
      await app.close();
      await pool.end();
    }
  });
});
