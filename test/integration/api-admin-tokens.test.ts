import { execFile } from 'node:child_process';
import path from 'node:path';
import { settingsEnv } from '../../lib/child-process';
import { withClient } from '../../lib/db';
import { hashToken } from '../../lib/runbook-db';
import { TestStack } from '../support/stack';

/**
 * Token administration through the API: only admins issue, list and revoke; a secret is shown once
 * and stored as a hash only; a revoked token is refused; hostile input changes nothing; every request
 * is in the audit trail without the secret. The bootstrap command still issues the first admin token.
 */
describe('token administration (令牌管理)', () => {
  const stack = new TestStack();
  let admin: string;
  const others: Record<'viewer' | 'operator' | 'approver', string> = { viewer: '', operator: '', approver: '' };
  const secrets: string[] = [];

  beforeAll(async () => {
    await stack.start();
    admin = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(__dirname, '..', '..', 'scripts', 'issue-token.ts'), 'root.admin', 'admin'],
        { env: settingsEnv(stack.settings) },
        (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
      ),
    );
    for (const role of ['viewer', 'operator', 'approver'] as const) others[role] = await stack.token(`${role}.user`, role);
    secrets.push(admin, ...Object.values(others));
  });
  afterAll(() => stack.stop());

  const tokenRows = () => withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) => (await c.query('SELECT * FROM api_token ORDER BY id')).rows);

  it('lets the bootstrap command issue the first admin, who then issues a token through the API: secret once, hash kept', async () => {
    expect(admin).toMatch(/^jmrb_[A-Za-z0-9_-]{32}$/);
    const issued = await stack.http('POST', '/admin/tokens', admin, { user: 'bob.ops', role: 'operator' });
    expect(issued.status).toBe(201);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    expect(issued.body).toMatchObject({ user: 'bob.ops', role: 'operator', createdBy: 'root.admin', revokedAt: null, token: expect.stringMatching(/^jmrb_/) });
    const bob = issued.body.token as string;
    secrets.push(bob);

    // The new token works with its role, and only its hash is in the database.
    expect((await stack.http('GET', '/runs', bob)).status).toBe(200);
    expect((await stack.http('GET', '/admin/tokens', bob)).status).toBe(403);
    const rows = await tokenRows();
    expect(rows.find((r) => r.id === issued.body.id)).toMatchObject({ user_name: 'bob.ops', role: 'operator', token_hash: hashToken(bob), created_by: 'root.admin' });
    expect(JSON.stringify(rows)).not.toContain(bob);

    const list = await stack.http('GET', '/admin/tokens', admin);
    expect(list.status).toBe(200);
    expect(list.body.tokens.map((t: any) => [t.user, t.role, t.createdBy])).toEqual([
      ['bob.ops', 'operator', 'root.admin'],
      ['approver.user', 'approver', null],
      ['operator.user', 'operator', null],
      ['viewer.user', 'viewer', null],
      ['root.admin', 'admin', null],
    ]);
    expect(Object.keys(list.body.tokens[0]).sort()).toEqual(['createdAt', 'createdBy', 'id', 'revokedAt', 'revokedBy', 'role', 'user']);
    for (const s of [...secrets, hashToken(bob)]) expect(JSON.stringify(list.body)).not.toContain(s);
  });

  it('refuses every other role (403) and no token (401), for each admin route', async () => {
    const before = await tokenRows();
    const id = before[0].id as string;
    const calls: [string, string, unknown?][] = [
      ['POST', '/admin/tokens', { user: 'eve', role: 'admin' }],
      ['GET', '/admin/tokens'],
      ['DELETE', `/admin/tokens/${id}`],
    ];
    for (const [method, url, body] of calls) {
      expect({ url, method, status: (await stack.http(method, url, undefined, body)).status }).toEqual({ url, method, status: 401 });
      for (const [role, token] of Object.entries(others)) {
        const r = await stack.http(method, url, token, body);
        expect({ role, method, status: r.status, type: r.contentType.split(';')[0] }).toEqual({ role, method, status: 403, type: 'application/problem+json' });
      }
    }
    expect(await tokenRows()).toEqual(before);
  });

  it('refuses hostile input with a 400 naming the field, and changes nothing', async () => {
    const before = await tokenRows();
    const bodies: [unknown, string][] = [
      [{ user: "x'; DROP TABLE api_token; --", role: 'viewer' }, 'body.user'],
      [{ user: '../../etc/passwd', role: 'viewer' }, 'body.user'],
      [{ user: 'nul\u0000admin', role: 'viewer' }, 'body.user'],
      [{ user: 'a'.repeat(65), role: 'viewer' }, 'body.user'],
      [{ user: '运维', role: 'viewer' }, 'body.user'],
      [{ user: 'mallory', role: 'root' }, 'body.role'],
      [{ user: 'mallory' }, 'body.role'],
      [{ user: 'mallory', role: 'viewer', tokenHash: hashToken('chosen') }, 'body.tokenHash'],
    ];
    for (const [body, field] of bodies) {
      const r = await stack.http('POST', '/admin/tokens', admin, body);
      expect({ field, status: r.status, got: r.body.field }).toEqual({ field, status: 400, got: field });
    }
    for (const id of ['abc', '1;DROP TABLE api_token', '..%2F1', '0', '-1', '99999999999999999999']) {
      const r = await stack.http('DELETE', `/admin/tokens/${id}`, admin);
      expect({ id, status: r.status, field: r.body.field }).toEqual({ id, status: 400, field: 'params.id' });
    }
    expect(await tokenRows()).toEqual(before);
  });

  it('revokes a token: it gets 401 from then on; revoking again changes nothing; unknown and own ids are refused', async () => {
    const issued = (await stack.http('POST', '/admin/tokens', admin, { user: 'temp.viewer', role: 'viewer' })).body;
    secrets.push(issued.token);
    expect((await stack.http('GET', '/runs', issued.token)).status).toBe(200);

    const revoked = await stack.http('DELETE', `/admin/tokens/${issued.id}`, admin);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: issued.id, user: 'temp.viewer', revokedBy: 'root.admin', revokedAt: expect.any(String) });
    const refused = await stack.http('GET', '/runs', issued.token);
    expect({ status: refused.status, detail: refused.body.detail }).toEqual({ status: 401, detail: 'the bearer token is unknown or revoked' });

    const again = await stack.http('DELETE', `/admin/tokens/${issued.id}`, admin);
    expect({ status: again.status, revokedAt: again.body.revokedAt }).toEqual({ status: 200, revokedAt: revoked.body.revokedAt });
    expect((await stack.http('DELETE', '/admin/tokens/424242', admin)).status).toBe(404);

    const ownId = (await tokenRows()).find((r) => r.user_name === 'root.admin').id as string;
    const own = await stack.http('DELETE', `/admin/tokens/${ownId}`, admin);
    expect({ status: own.status, field: own.body.field }).toEqual({ status: 409, field: 'params.id' });
    expect((await stack.http('GET', '/admin/tokens', admin)).status).toBe(200);
  });

  it('has every admin request in the audit trail, listings included, and no secret in it', async () => {
    const rows = await stack.auditRows();
    const mine = rows.filter((r) => ['issue token', 'list tokens', 'revoke token'].includes(r.action));
    expect(mine.filter((r) => r.actor === 'root.admin' && r.status_code < 400).map((r) => [r.action, r.status_code, r.detail.user ?? null])).toEqual([
      ['issue token', 201, 'bob.ops'],
      ['list tokens', 200, null],
      ['issue token', 201, 'temp.viewer'],
      ['revoke token', 200, 'temp.viewer'],
      ['revoke token', 200, 'temp.viewer'],
      ['list tokens', 200, null],
    ]);
    const issue = mine.find((r) => r.action === 'issue token' && r.status_code === 201)!;
    expect(issue.detail).toMatchObject({ tokenId: expect.any(String), user: 'bob.ops', role: 'operator' });
    // Refusals: 401 and 403 for each route, the hostile 400s, the unknown id 404 and the own token 409.
    const refused = mine.filter((r) => r.outcome === 'refused').map((r) => r.status_code);
    expect(refused.filter((s) => s === 401)).toHaveLength(3);
    expect(refused.filter((s) => s === 403)).toHaveLength(10);
    expect(refused.filter((s) => s === 400)).toHaveLength(14);
    expect(refused.filter((s) => [404, 409].includes(s)).sort()).toEqual([404, 409]);
    const text = JSON.stringify(rows);
    for (const s of secrets) expect(text).not.toContain(s);
  });
});
