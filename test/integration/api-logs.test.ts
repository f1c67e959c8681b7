import { TestStack } from '../support/stack';

/**
 * The API's own process log, captured while requests carry bearer tokens in every place a careless
 * client might put one: no token, database password or signing key may appear in it, and each request
 * line carries its request id, and the workflow id once there is one.
 */
describe('API logs: secrets redacted, request ids correlated with workflow ids', () => {
  const stack = new TestStack();
  const dbPassword = 'Db-Pass-7f3a9c-never-logged';
  const signingKey = 'signing-key-5b1e77-never-logged-0123456789';
  let api: { baseUrl: string; output: () => string };
  let operator: string;

  beforeAll(async () => {
    await stack.start();
    operator = await stack.token('olivia.ops', 'operator');
    // Trust auth ignores the password, but the process holds it in its settings like in production.
    const runbookUrl = new URL(stack.settings.RUNBOOK_DATABASE_URL);
    runbookUrl.password = dbPassword;
    api = await stack.startApiProcess({ LOG_LEVEL: 'debug', RUNBOOK_DATABASE_URL: runbookUrl.toString(), APPROVAL_SIGNING_KEY: signingKey });
  });
  afterAll(() => stack.stop());

  const call = (method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}) =>
    stack.http(method, url, token, body, headers, api.baseUrl);

  it('never writes a token, password or signing key to the log', async () => {
    const started = await call('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-logs` }, { 'x-request-id': 'log-test-start-0001' });
    expect(started.status).toBe(201);
    expect((await call('GET', `/cutovers/${started.body.workflowId}/reports/nope.md`, operator)).status).toBe(404);
    expect((await call('GET', `/runs?token=${operator}`, operator)).status).toBe(400);
    expect((await call('GET', `/runs?kind=cutover&access_token=${operator}`, operator)).status).toBe(400);
    expect((await call('GET', '/runs', undefined, undefined, { 'x-request-id': operator })).status).toBe(401);
    expect((await call('GET', '/runs', `${operator}x`)).status).toBe(401);
    expect((await call('POST', `/cutovers/${started.body.workflowId}/cancel`, operator, { reason: `token ${operator} password=${dbPassword}` })).status).toBe(400);
    expect((await call('POST', '/cutovers', operator, `{"mode":"live","runId":"${operator}"`)).status).toBe(400);
    expect((await call('GET', '/ready', operator)).status).toBe(200);
    // A token issued through the API is in its answer, never in the log (at debug level).
    const root = await stack.token('root.admin', 'admin');
    const issued = await call('POST', '/admin/tokens', root, { user: 'new.viewer', role: 'viewer' });
    expect(issued.status).toBe(201);
    expect((await call('DELETE', `/admin/tokens/${issued.body.id}`, issued.body.token)).status).toBe(403);

    // pino writes synchronously to the pipe; give the reader a moment to drain it.
    await new Promise((r) => setTimeout(r, 300));
    const log = api.output();
    expect(log).toContain('"url":"/runs?token=[redacted]"');
    expect(log).toContain('access_token=[redacted]');
    expect(log).toContain('"msg":"token issued"');
    for (const secret of [operator, root, issued.body.token, dbPassword, signingKey]) expect(log.includes(secret)).toBe(false);
  });

  it('logs the request id on every line of a request, with the workflow id once the request names or starts a run', async () => {
    const lines = api
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const startLines = lines.filter((l) => l.requestId === 'log-test-start-0001');
    expect(startLines.map((l) => l.msg)).toEqual(['incoming request', 'cutover started', 'request completed']);
    const workflowId = `cutover-${stack.id}-logs`;
    expect(startLines.find((l) => l.msg === 'cutover started')).toMatchObject({ workflowId, runId: `${stack.id}-logs` });
    expect(startLines.find((l) => l.msg === 'request completed')).toMatchObject({ workflowId, res: { statusCode: 201 } });
    // The run remembers the request that started it, for the way back from Temporal to the log.
    const desc = await stack.temporal.workflow.getHandle(workflowId).describe();
    expect(desc.memo).toMatchObject({ requestId: 'log-test-start-0001', requestedBy: 'olivia.ops' });
  });
});
