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

  beforeAll(async () => {
    await stack.start();
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    viewer = await stack.token('wang.viewer', 'viewer');
  });
  afterAll(() => stack.stop());

  const audit = () =>
    withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) => (await c.query('SELECT actor, action, run_id, status_code, outcome FROM audit_log ORDER BY id')).rows);

  it('refuses requests without a valid token (401) and with the wrong role (403)', async () => {
    const none = await stack.http('POST', '/cutovers', undefined, { mode: 'rehearsal' });
    expect(none.status).toBe(401);
    expect(none.contentType).toContain('application/problem+json');
    const bogus = await stack.http('GET', '/cutovers/cutover-x', 'jmrb_not-a-real-token');
    expect(bogus.status).toBe(401);
    const wrongRole = await stack.http('POST', '/cutovers', viewer, { mode: 'rehearsal' });
    expect(wrongRole.status).toBe(403);
    expect(wrongRole.body.detail).toContain('role viewer may not start cutover');
    const operatorApproving = await stack.http('POST', '/cutovers/cutover-x/gates/go-no-go/decision', operator, { decision: 'approve' });
    expect(operatorApproving.status).toBe(403);
  });

  it('names the missing or malformed field (400)', async () => {
    const missing = await stack.http('POST', '/cutovers', operator, {});
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ field: 'body.mode', detail: 'body.mode is required' });

    const badMode = await stack.http('POST', '/cutovers', operator, { mode: 'yolo' });
    expect(badMode.status).toBe(400);
    expect(badMode.body.field).toBe('body.mode');
    expect(badMode.body.detail).toContain('rehearsal, live');

    const extra = await stack.http('POST', '/cutovers', operator, { mode: 'live', dropTables: true });
    expect(extra.status).toBe(400);
    expect(extra.body.detail).toBe('body.dropTables is not an accepted field');

    const hostileId = await stack.http('POST', '/cutovers', operator, { mode: 'live', runId: "x'; DROP TABLE api_token; --" });
    expect(hostileId.status).toBe(400);
    expect(hostileId.body.field).toBe('body.runId');

    const notJson = await stack.http('POST', '/cutovers', operator, '{"mode": ');
    expect(notJson.status).toBe(400);

    const noDecision = await stack.http('POST', '/cutovers/cutover-x/gates/go-no-go/decision', approver, { reason: 'ok' });
    expect(noDecision.status).toBe(400);
    expect(noDecision.body.field).toBe('body.decision');
  });

  it('answers 404 for an unknown run or gate, and changes nothing', async () => {
    const unknownRun = await stack.http('GET', '/cutovers/cutover-does-not-exist', viewer);
    expect(unknownRun.status).toBe(404);
    expect(unknownRun.body.detail).toBe('no cutover run with id cutover-does-not-exist');

    const unknownRunGate = await stack.http('POST', '/cutovers/cutover-does-not-exist/gates/go-no-go/decision', approver, { decision: 'approve' });
    expect(unknownRunGate.status).toBe(404);

    const unknownGate = await stack.http('POST', '/cutovers/cutover-does-not-exist/gates/launch-missiles/decision', approver, { decision: 'approve' });
    expect(unknownGate.status).toBe(404);
    expect(unknownGate.body).toMatchObject({ field: 'gate', detail: expect.stringContaining('gate "launch-missiles" does not exist') });

    const traversal = await stack.http('GET', '/cutovers/..%2F..%2Fetc%2Fpasswd', viewer);
    expect(traversal.status).toBe(400);

    const runs = await stack.temporal.workflow.count(`TaskQueue = "${stack.settings.TASK_QUEUE}"`);
    expect(runs.count).toBe(0);
  });

  it('records every state-changing request in the audit trail, refused ones too, and the trail cannot be edited', async () => {
    const rows = await audit();
    const refused = rows.filter((r) => r.outcome === 'refused');
    expect(refused).toHaveLength(11); // every POST above: 3 auth refusals, 6 malformed, 2 unknown
    expect(rows.every((r) => r.outcome === 'refused')).toBe(true);
    expect(refused).toContainEqual(expect.objectContaining({ actor: null, status_code: 401 }));
    expect(refused).toContainEqual(expect.objectContaining({ actor: 'wang.viewer', action: 'start cutover', status_code: 403 }));
    expect(refused).toContainEqual(expect.objectContaining({ actor: 'li.approver', action: 'decide gate', run_id: 'cutover-does-not-exist', status_code: 404 }));
    await expect(withClient(stack.settings.RUNBOOK_DATABASE_URL, (c) => c.query('DELETE FROM audit_log'))).rejects.toThrow('append-only');
  });
});
