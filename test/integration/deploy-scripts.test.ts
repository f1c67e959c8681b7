import { ensureRunbookSchema } from '../../lib/runbook-db';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { asPostgres, freePort, PGBIN } from '../support/private-cluster';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/**
 * 部署 The deployment's first-start scripts, run for real: deploy/make-secrets.sh (the secret files compose and systemd
 * read) and deploy/target-db/initdb.sh (what the postgres image runs when the target's volume is first created),
 * the latter on a PostgreSQL cluster of its own (initdb, password authentication), as the image would.
 */
const REPO = path.resolve(__dirname, '..', '..');
describe('deploy/make-secrets.sh 密钥生成', () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jm-secrets-')), 'secrets');
  afterAll(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('writes hex secrets readable only inside a 0700 directory, URLs that parse, and never overwrites', () => {
    execFileSync('bash', [path.join(REPO, 'deploy', 'make-secrets.sh'), dir], { env: { ...process.env, LEGACY_DATABASE_URL: '' }, stdio: 'pipe' });
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const read = (n: string) => fs.readFileSync(path.join(dir, n), 'utf8').trim();
    for (const n of fs.readdirSync(dir)) expect(fs.statSync(path.join(dir, n)).mode & 0o777).toBe(0o444);
    expect(read('approval_signing_key')).toMatch(/^[0-9a-f]{64}$/);
    const pw = read('target_db_runbook_password');
    expect(pw).toMatch(/^[0-9a-f]{48}$/);
    const target = new URL(read('target_database_url'));
    expect([target.username, target.password, target.hostname, target.pathname]).toEqual(['runbook', pw, 'target-db', '/jm_target']);
    expect(new URL(read('runbook_database_url')).pathname).toBe('/jm_runbook');
    expect(new URL(read('legacy_database_url')).protocol).toBe('oracle:');
    const before = read('approval_signing_key');
    const again = execFileSync('bash', [path.join(REPO, 'deploy', 'make-secrets.sh'), dir], { encoding: 'utf8' });
    expect(again).toMatch(/approval_signing_key exists, kept/);
    expect(read('approval_signing_key')).toBe(before);
  });
});

describe('deploy/target-db/initdb.sh 目标库初始化', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-initdb-'));
  const data = path.join(root, 'data');
  const sock = path.join(root, 'sock');
  let port = 0;
  beforeAll(async () => {
    port = await freePort();
    fs.chmodSync(root, 0o755);
    for (const d of [data, sock]) fs.mkdirSync(d, { mode: 0o700 });
    if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', data, sock]);
    const init = asPostgres(`${PGBIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256']);
    if (init.status !== 0) throw new Error(init.stderr);
    const start = asPostgres(`${PGBIN}/pg_ctl`, ['-D', data, '-w', '-l', path.join(data, 'log'), '-o', `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${sock}`, 'start']);
    if (start.status !== 0) throw new Error(start.stderr + start.stdout);
  }, 60_000);
  afterAll(() => {
    asPostgres(`${PGBIN}/pg_ctl`, ['-D', data, '-m', 'immediate', 'stop']);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('makes the runbook role own the target and runbook databases, with the password from its file, able to snapshot', async () => {
    const pwFile = path.join(root, 'runbook_password');
    fs.writeFileSync(pwFile, "p'w$(x)\n", { mode: 0o444 }); // quotes and shell syntax must arrive verbatim
    const appPwFile = path.join(root, 'runbook_app_password');
    fs.writeFileSync(appPwFile, 'app-secret-1\n', { mode: 0o444 });
    const r = asPostgres('bash', [path.join(REPO, 'deploy', 'target-db', 'initdb.sh')], { POSTGRES_USER: 'postgres', RUNBOOK_DB_PASSWORD_FILE: pwFile, RUNBOOK_APP_PASSWORD_FILE: appPwFile, PGHOST: sock, PGPORT: String(port) });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/role runbook owns jm_target and jm_runbook/);
    expect(r.stdout).toMatch(/jm_runbook_app \(the API's append-only role\) made/);
    // The runbook schema set up by the runbook role hands the audit trail to its owner; the API's role may not rewrite it.
    const schema = new Client({ host: '127.0.0.1', port, user: 'runbook', password: "p'w$(x)", database: 'jm_runbook' });
    await schema.connect();
    try {
      await ensureRunbookSchema(schema);
    } finally {
      await schema.end();
    }
    const app = new Client({ host: '127.0.0.1', port, user: 'jm_runbook_app', password: 'app-secret-1', database: 'jm_runbook' });
    await app.connect();
    try {
      await expect(app.query('TRUNCATE audit_log')).rejects.toThrow(/permission denied|must be owner/);
      await expect(app.query('DELETE FROM audit_log')).rejects.toThrow(/permission denied/);
    } finally {
      await app.end();
    }
    const c = new Client({ host: '127.0.0.1', port, user: 'runbook', password: "p'w$(x)", database: 'jm_target' });
    await c.connect();
    try {
      const { rows } = await c.query(`SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname IN ('jm_target', 'jm_runbook') ORDER BY 1`);
      expect(rows).toEqual([{ datname: 'jm_runbook', owner: 'runbook' }, { datname: 'jm_target', owner: 'runbook' }]);
      expect((await c.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0].rolsuper).toBe(false);
      await c.query('CREATE TABLE t (id int)');
    } finally {
      await c.end();
    }
    // The snapshot step: a database made from the target as template, by the runbook role (CREATEDB).
    const admin = new Client({ host: '127.0.0.1', port, user: 'runbook', password: "p'w$(x)", database: 'jm_runbook' });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE jm_target_snap TEMPLATE jm_target');
      await admin.query('DROP DATABASE jm_target_snap');
    } finally {
      await admin.end();
    }
    // A wrong password is refused (scram over TCP).
    const wrong = new Client({ host: '127.0.0.1', port, user: 'runbook', password: 'nope', database: 'jm_target' });
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
  }, 60_000);

  it('an empty password file stops it with the reason', () => {
    const empty = path.join(root, 'empty');
    fs.writeFileSync(empty, '', { mode: 0o444 });
    const r = asPostgres('bash', [path.join(REPO, 'deploy', 'target-db', 'initdb.sh')], { POSTGRES_USER: 'postgres', RUNBOOK_DB_PASSWORD_FILE: empty, PGHOST: sock, PGPORT: String(port) });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/is empty/);
  });
});
