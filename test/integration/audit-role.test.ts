import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { APP_ROLE, appRoleUrl, AUDIT_OWNER_ROLE, ensureRunbookSchema, issueToken, revokeToken } from '../../lib/runbook-db';

/**
 * 审计防篡改 The audit trail in a role the application cannot alter: the API's role (APP_ROLE) appends and
 * reads, and every way of rewriting the trail — UPDATE, DELETE, TRUNCATE, disabling the append-only trigger,
 * dropping the table, taking it over — is refused to it by PostgreSQL itself (real server, real roles).
 */
const PG = process.env.TEST_PG_URL_BASE ?? 'postgres://postgres@127.0.0.1:5432';

describe('audit trail role separation 审计日志角色隔离', () => {
  const adminUrl = `${PG}/audit_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const appUrl = appRoleUrl(adminUrl);

  beforeAll(async () => {
    await ensureDatabase(adminUrl);
    await withClient(adminUrl, ensureRunbookSchema);
    // twice: the set-up is repeatable (every API start runs it)
    await withClient(adminUrl, ensureRunbookSchema);
  });
  afterAll(() => dropDatabase(adminUrl));

  it('the trail and the ledger belong to the owner role, not to the application', async () => {
    const owners = await withClient(adminUrl, (c) => c.query(`SELECT tablename, tableowner FROM pg_tables WHERE tablename IN ('audit_log', 'gate_decision', 'api_token') ORDER BY 1`));
    expect(owners.rows).toEqual([
      { tablename: 'api_token', tableowner: 'postgres' },
      { tablename: 'audit_log', tableowner: AUDIT_OWNER_ROLE },
      { tablename: 'gate_decision', tableowner: AUDIT_OWNER_ROLE },
    ]);
  });

  it('the application appends and reads the trail, issues and revokes tokens', async () => {
    await withClient(appUrl, async (c) => {
      expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe(APP_ROLE);
      await c.query(`INSERT INTO audit_log (actor, action, status_code, outcome) VALUES ('li.approver', 'test', 200, 'ok')`);
      await c.query(`INSERT INTO gate_decision (workflow_id, run_id, gate, actor, role, decision, response) VALUES ('cutover-x', 'r1', 'wipe', 'li', 'approver', 'approve', '{}')`);
      expect((await c.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n).toBe(1);
      const t = await issueToken(c, 'temp.user', 'viewer', 'test');
      expect((await revokeToken(c, t.id, 'test'))?.revokedBy).toBe('test');
    });
  });

  it.each([
    ['UPDATE', `UPDATE audit_log SET outcome = 'ok'`],
    ['DELETE', 'DELETE FROM audit_log'],
    ['TRUNCATE', 'TRUNCATE audit_log'],
    ['DISABLE TRIGGER', 'ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change'],
    ['DROP TRIGGER', 'DROP TRIGGER audit_log_no_change ON audit_log'],
    ['DROP TABLE', 'DROP TABLE audit_log'],
    ['OWNER TO', `ALTER TABLE audit_log OWNER TO ${APP_ROLE}`],
    ['ledger UPDATE', `UPDATE gate_decision SET decision = 'reject'`],
    ['ledger TRUNCATE', 'TRUNCATE gate_decision'],
    ['SET ROLE owner', `SET ROLE ${AUDIT_OWNER_ROLE}`],
  ])('refuses %s to the application role', async (_what, sql) => {
    await withClient(appUrl, async (c) => {
      await expect(c.query(sql)).rejects.toThrow(/permission denied|must be owner|must be member/);
    });
    // and the trail is as it was
    const n = await withClient(adminUrl, (c) => c.query('SELECT count(*)::int AS n, bool_and(outcome = $1) AS same FROM audit_log', ['ok']));
    expect(n.rows[0]).toEqual({ n: 1, same: true });
  });
});
