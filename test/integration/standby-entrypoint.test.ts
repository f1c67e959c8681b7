import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { commandText, composeConfig, mounts, REPO, Service } from '../support/compose-invariants';
import { asPostgres, freePort, PGBIN, postgresDir, PrivateCluster, tempRoot } from '../support/private-cluster';

/**
 * 备点库 / 异地容灾 in docker-compose (--profile standby), run for real where no Docker engine exists: the services
 * target-standby and target-dr run deploy/standby/standby-entrypoint.sh as root in the postgres image. Here the
 * script itself runs as root, with the environment docker-compose gives each service, against a primary made as
 * target-db's is (initdb with password authentication for network connections, then deploy/target-db/initdb.sh:
 * the replication role and its pg_hba line). Only what names the container's world is mapped to this machine:
 * PRIMARY_HOST/PRIMARY_PORT (target-db:5432 → the private primary), PGDATA (the volume → a private directory), the
 * secret file, PGPORT (each container has 5432 to itself; here each copy needs a port of its own) and
 * REPLICATION_PASSFILE (the image's postgres home is shared on this machine). The image's gosu and PATH are
 * provided: gosu as `setpriv` to postgres with its groups and HOME, the installed server's bin directory on PATH.
 * Proven: both copies stream (pg_stat_replication on the primary, pg_is_in_recovery and the WAL receiver on the
 * copy, a row written on the primary appears), the compose healthcheck passes, and a second start neither rebuilds
 * nor stops streaming; a new volume drops the stale slot and copies again; a wrong password stops the first start
 * saying what to check (it used to read as "dropping the stale slot" and then fail on the drop).
 */
const SCRIPT = path.join(REPO, 'deploy', 'standby', 'standby-entrypoint.sh');
const PASSWORD = "r:e\\pl'ica$(x) tor"; // ':' and '\' must be escaped in the passfile; quotes and $() must arrive verbatim

type CopyName = 'target-standby' | 'target-dr';
interface Running {
  service: CopyName;
  data: string;
  port: number;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  done: boolean;
}

let root: string;
let primary: PrivateCluster;
let services: Record<CopyName, Service>;
let secret: string;
let gosuDir: string;
const running: Running[] = [];

/** The service's environment as docker-compose resolves it, with the container's world mapped to this machine. */
function containerEnv(service: CopyName, data: string, port: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const compose = Object.fromEntries(Object.entries(services[service].environment ?? {}).map(([k, v]) => [k, v ?? '']));
  return {
    // the postgres image's environment: the server's bin directory on PATH, gosu beside it
    PATH: `${gosuDir}:${PGBIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    LANG: 'C.UTF-8',
    HOME: '/root',
    ...compose,
    PRIMARY_HOST: '127.0.0.1',
    PRIMARY_PORT: String(primary.port),
    REPLICATION_PASSWORD_FILE: secret,
    PGDATA: data,
    PGPORT: String(port),
    REPLICATION_PASSFILE: path.join(root, `${service}.pgpass`),
    ...extra,
  };
}

/** Starts the service's entrypoint as its container would (root, `bash /usr/local/bin/standby-entrypoint.sh`). */
function startCopy(service: CopyName, data: string, port: number, extra: NodeJS.ProcessEnv = {}): Running {
  const child = spawn('bash', [SCRIPT], { env: containerEnv(service, data, port, extra), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => (out = (out + b.toString('utf8')).slice(-200_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const r: Running = { service, data, port, child, output: () => out, exited: Promise.resolve(null), done: false };
  r.exited = new Promise((resolve) => child.on('exit', (code, signal) => ((r.done = true), resolve(code ?? (signal ? -1 : null)))));
  running.push(r);
  return r;
}

/** Stops a copy as docker stops a container (SIGINT = the server's fast shutdown here), killing it when it does not end. */
async function stopCopy(r: Running): Promise<void> {
  if (!r.done) {
    try {
      process.kill(r.child.pid!, 'SIGINT');
    } catch {
      /* already gone */
    }
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([r.exited.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), 30_000)))]);
    clearTimeout(timer);
    if (!ended) {
      try {
        process.kill(-r.child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await r.exited;
    }
  }
  // a server the entrypoint handed over but that outlived its process group (it should not)
  if (fs.existsSync(path.join(r.data, 'postmaster.pid'))) asPostgres(`${PGBIN}/pg_ctl`, ['-D', r.data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
}

async function query<T = Record<string, unknown>>(cfg: object, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ ...cfg, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}
const onPrimary = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => query<T>(primary.client(), sql, params);
/** The copy over its socket as postgres (its pg_hba is the primary's: the local socket trusted). */
const onCopy = <T = Record<string, unknown>>(r: Running, sql: string, params: unknown[] = []) => query<T>({ host: primary.sock, port: r.port, user: 'postgres', database: 'postgres' }, sql, params);

async function until<T>(what: string, r: Running | null, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (r?.done) throw new Error(`${r.service}'s entrypoint ended before ${what}:\n${r.output().slice(-4000)}`);
    const v = await probe().catch((e: Error) => ((last = e.message), undefined));
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s (${last})${r ? `\n${r.service}'s output:\n${r.output().slice(-4000)}` : ''}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

const streamingFor = (r: Running) =>
  until(`${r.service} streaming (pg_stat_replication)`, r, async () => {
    const name = containerEnv(r.service, r.data, r.port).STANDBY_NAME;
    const rows = await onPrimary<{ pid: number; usename: string; state: string }>(`SELECT pid, usename, state FROM pg_stat_replication WHERE application_name = $1`, [name]);
    return rows.length === 1 && rows[0].state === 'streaming' ? rows[0] : undefined;
  });

/** The service's compose healthcheck, run as the image runs it (CMD-SHELL, as postgres, its default socket = the copy's). */
function healthcheck(r: Running): number | null {
  const test = services[r.service].healthcheck?.test;
  expect(Array.isArray(test) && test[0] === 'CMD-SHELL').toBe(true);
  const shell = (test as string[])[1].replace(/\$\$/g, '$');
  return asPostgres('sh', ['-c', shell], { PATH: `${PGBIN}:/usr/bin:/bin`, PGHOST: primary.sock, PGPORT: String(r.port) }).status;
}

beforeAll(async () => {
  root = tempRoot('jm-entrypoint-');
  const compose = composeConfig(path.join(REPO, 'docker-compose.yml'));
  services = { 'target-standby': compose.services['target-standby'], 'target-dr': compose.services['target-dr'] };
  for (const s of Object.values(services)) {
    // the script run here is the one the services mount and run
    const script = mounts(s).find((m) => m.source.endsWith('deploy/standby/standby-entrypoint.sh'));
    expect(script && commandText(s)).toContain(script!.target);
  }
  // the image's gosu: exec as the user, with its groups and home (the server then is the entrypoint's own process)
  fs.mkdirSync(path.join(root, 'volumes'), { mode: 0o755 });
  gosuDir = path.join(root, 'bin');
  fs.mkdirSync(gosuDir);
  fs.writeFileSync(path.join(gosuDir, 'gosu'), '#!/bin/bash\nset -e\nu=$1; shift\nHOME=$(getent passwd "$u" | cut -d: -f6) exec setpriv --reuid="$u" --regid="$u" --init-groups "$@"\n', { mode: 0o755 });
  secret = path.join(root, 'target_db_replication_password');
  fs.writeFileSync(secret, PASSWORD + '\n', { mode: 0o444 });
  const runbookSecret = path.join(root, 'target_db_runbook_password');
  fs.writeFileSync(runbookSecret, 'runbook-secret\n', { mode: 0o444 });

  // target-db: initdb, the image's network rule (every connection from another container by password; the local
  // socket trusted), then its init script (deploy/target-db/initdb.sh) adds the replication role and its pg_hba line
  primary = new PrivateCluster(path.join(root, 'target-db'), await freePort()).init(['--auth-local=trust', '--auth-host=scram-sha-256']);
  fs.writeFileSync(path.join(primary.data, 'pg_hba.conf'), 'local all all trust\nhost all all all scram-sha-256\n');
  // what the copies inherit through pg_basebackup: this machine's listen address and the private socket directory
  fs.appendFileSync(path.join(primary.data, 'postgresql.conf'), `listen_addresses = '127.0.0.1'\nunix_socket_directories = '${primary.sock}'\n`);
  primary.start();
  const init = asPostgres('bash', [path.join(REPO, 'deploy', 'target-db', 'initdb.sh')], {
    POSTGRES_USER: 'postgres',
    PGDATA: primary.data,
    PGHOST: primary.sock,
    PGPORT: String(primary.port),
    RUNBOOK_DB_PASSWORD_FILE: runbookSecret,
    REPLICATION_PASSWORD_FILE: secret,
    PATH: `${PGBIN}:/usr/bin:/bin`,
  });
  if (init.status !== 0) throw new Error(`deploy/target-db/initdb.sh failed: ${init.stderr}`);
  primary.psql('SELECT pg_reload_conf()');
  expect(fs.readFileSync(path.join(primary.data, 'pg_hba.conf'), 'utf8')).toMatch(/^host replication jm_replicator all scram-sha-256$/m);
}, 60_000);

afterAll(async () => {
  for (const r of running) await stopCopy(r).catch(() => undefined);
  primary?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
}, 120_000);

it('target-standby and target-dr copy the primary on first start and stream from it; a row written on the primary appears on both', async () => {
  const standby = startCopy('target-standby', postgresDir(path.join(root, 'volumes', 'target-standby')), await freePort());
  const dr = startCopy('target-dr', postgresDir(path.join(root, 'volumes', 'target-dr')), await freePort());

  // the primary sees both WAL receivers, as the replication role, each on its own slot
  const [s, d] = await Promise.all([streamingFor(standby), streamingFor(dr)]);
  expect([s.usename, d.usename]).toEqual(['jm_replicator', 'jm_replicator']);
  const slots = await onPrimary<{ slot_name: string; active_pid: number }>(`SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name`);
  expect(slots).toEqual([
    { slot_name: 'jm_dr', active_pid: d.pid },
    { slot_name: 'jm_standby', active_pid: s.pid },
  ]);
  expect(standby.output()).toMatch(/pg_basebackup from 127\.0\.0\.1:\d+: -R -X stream -C -S jm_standby/);
  expect(standby.output()).toMatch(/starting as a hot standby/);

  await onPrimary(`CREATE TABLE entrypoint_probe (id integer PRIMARY KEY, note text NOT NULL)`);
  const note = (await onPrimary<{ note: string }>(`INSERT INTO entrypoint_probe VALUES (1, '备点库 ' || clock_timestamp()) RETURNING note`))[0].note;
  for (const copy of [standby, dr]) {
    const name = containerEnv(copy.service, copy.data, copy.port).STANDBY_NAME;
    const recv = (await onCopy<{ recovery: boolean; status: string; slot_name: string; conninfo: string }>(copy, `SELECT pg_is_in_recovery() AS recovery, status, slot_name, conninfo FROM pg_stat_wal_receiver`))[0];
    expect(recv).toMatchObject({ recovery: true, status: 'streaming', slot_name: name === 'dr' ? 'jm_dr' : 'jm_standby' });
    expect(recv.conninfo).toContain(`application_name=${name}`);
    const seen = await until(`the row on ${copy.service}`, copy, async () => (await onCopy<{ note: string }>(copy, `SELECT note FROM entrypoint_probe WHERE id = 1`).catch(() => []))[0]?.note, 30_000);
    expect(seen).toBe(note);
    // a hot standby: reads, no writes
    await expect(onCopy(copy, `INSERT INTO entrypoint_probe VALUES (2, 'x')`)).rejects.toThrow(/read-only transaction/);
    expect(healthcheck(copy)).toBe(0);
    // the password reaches libpq through the passfile only: not in the copy's configuration
    const auto = fs.readFileSync(path.join(copy.data, 'postgresql.auto.conf'), 'utf8');
    expect(auto).not.toContain('ica$(x)');
    expect(auto.match(/^primary_conninfo = .*$/gm)).toEqual([expect.stringMatching(new RegExp(`passfile=\\S+ application_name=${name}'$`))]);
    const passfile = fs.statSync(containerEnv(copy.service, copy.data, copy.port).REPLICATION_PASSFILE!);
    expect(passfile.mode & 0o777).toBe(0o600);
  }
}, 60_000);

it('a second start of the same volume neither copies again nor stops streaming; the healthcheck fails while it is down', async () => {
  const first = running.find((r) => r.service === 'target-standby')!;
  await stopCopy(first);
  expect(healthcheck(first)).not.toBe(0);
  const again = startCopy('target-standby', first.data, first.port);
  await streamingFor(again);
  expect(again.output()).not.toMatch(/pg_basebackup/);
  expect(again.output()).toMatch(/starting as a hot standby/);
  await onPrimary(`INSERT INTO entrypoint_probe VALUES (2, 'after the restart')`);
  expect(await until('the second row', again, async () => (await onCopy<{ note: string }>(again, `SELECT note FROM entrypoint_probe WHERE id = 2`))[0]?.note, 30_000)).toBe('after the restart');
  // one primary_conninfo and one slot name, however often it starts
  const auto = fs.readFileSync(path.join(again.data, 'postgresql.auto.conf'), 'utf8');
  expect(auto.match(/^primary_conninfo =/gm)).toHaveLength(1);
  expect(auto.match(/^primary_slot_name =/gm)).toHaveLength(1);
  expect(healthcheck(again)).toBe(0);
}, 60_000);

it('a new volume for target-dr drops its stale slot on the primary and copies again', async () => {
  const old = running.find((r) => r.service === 'target-dr')!;
  await stopCopy(old);
  expect((await onPrimary<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = 'jm_dr'`))[0]).toEqual({ active: false });
  fs.rmSync(old.data, { recursive: true, force: true });
  const fresh = startCopy('target-dr', postgresDir(old.data), await freePort());
  await streamingFor(fresh);
  expect(fresh.output()).toMatch(/dropping the stale slot jm_dr/);
  expect(fresh.output()).toMatch(/pg_basebackup/);
  expect((await onCopy<{ n: number }>(fresh, `SELECT count(*)::int AS n FROM entrypoint_probe`))[0].n).toBe(2);
  expect(healthcheck(fresh)).toBe(0);
}, 60_000);

it('a wrong replication password stops the first start saying what to check, copying nothing and touching no slot', async () => {
  const wrong = path.join(root, 'wrong_password');
  fs.writeFileSync(wrong, 'not-the-replication-password\n', { mode: 0o444 });
  const slotsBefore = await onPrimary(`SELECT slot_name, active FROM pg_replication_slots ORDER BY slot_name`);
  const data = postgresDir(path.join(root, 'volumes', 'wrong-password'));
  const r = startCopy('target-standby', data, await freePort(), { REPLICATION_PASSWORD_FILE: wrong });
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([r.exited, new Promise<string>((res) => (timer = setTimeout(() => res('still running after 30 s'), 30_000)))]);
  clearTimeout(timer);
  expect(code).toBe(1);
  expect(r.output()).toMatch(/password authentication failed for user "jm_replicator"/);
  expect(r.output()).toMatch(/cannot query the primary 127\.0\.0\.1:\d+ as jm_replicator \(.*\); nothing copied/);
  // not read as "a stale slot exists", and no copy begun
  expect(r.output()).not.toMatch(/dropping the stale slot|pg_basebackup from/);
  expect(fs.readdirSync(data)).toEqual([]);
  expect(await onPrimary(`SELECT slot_name, active FROM pg_replication_slots ORDER BY slot_name`)).toEqual(slotsBefore);
}, 60_000);
