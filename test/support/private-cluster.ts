import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closedPort } from './loopback';

/**
 * A PostgreSQL cluster of a test's own (initdb of the installed server under a temporary directory, its own port and
 * socket directory, run as postgres): nothing shared with the 5432 cluster or another checkout's instances. The
 * caller stops it and removes the directory in its afterAll, also when its beforeAll failed half-way.
 */
export const PGBIN = process.env.PGBIN ?? fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`)[0];

/** Runs a command as postgres (the server refuses root); as the caller when it is not root. */
export function asPostgres(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return process.getuid?.() === 0
    ? spawnSync('runuser', ['-u', 'postgres', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args], { encoding: 'utf8', timeout: 120_000 })
    : spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''}): ${(r.stderr + r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/** A port nothing listens on, below the ephemeral range (see closedPort). */
export const freePort = closedPort;

/** A temporary directory the postgres user may traverse (its data directories live below it). */
export function tempRoot(prefix: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(root, 0o755);
  return root;
}

/** A directory below root owned by postgres, mode 0700. */
export function postgresDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) ok(spawnSync('chown', ['postgres:postgres', dir], { encoding: 'utf8' }), `chown ${dir}`);
  return dir;
}

export class PrivateCluster {
  readonly data: string;
  readonly sock: string;
  readonly log: string;
  constructor(
    readonly root: string,
    public port: number,
  ) {
    this.data = path.join(root, 'data');
    this.sock = path.join(root, 'sock');
    this.log = path.join(root, 'server.log');
  }

  /** initdb (extra arguments as the caller needs: authentication methods); the superuser is postgres. */
  init(initdbArgs: string[] = ['--auth=trust']): this {
    fs.mkdirSync(this.root, { recursive: true });
    fs.chmodSync(this.root, 0o755);
    postgresDir(this.sock);
    postgresDir(this.data);
    ok(asPostgres(`${PGBIN}/initdb`, ['-D', this.data, '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', ...initdbArgs]), 'initdb');
    return this;
  }

  /** Starts the server on 127.0.0.1:port with its own socket directory (port and socket on the command line, not in postgresql.conf). */
  start(port = this.port): this {
    this.port = port;
    if (!fs.existsSync(this.log)) fs.writeFileSync(this.log, '');
    if (process.getuid?.() === 0) spawnSync('chown', ['postgres:postgres', this.log]);
    ok(asPostgres(`${PGBIN}/pg_ctl`, ['-D', this.data, '-l', this.log, '-w', '-t', '60', '-o', `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${this.sock}`, 'start']), `pg_ctl start (port ${port}; log ${this.log})`);
    return this;
  }

  /** Stops the server (immediate: a test's cluster has nothing to keep); quiet when it is not running. */
  stop(): void {
    if (fs.existsSync(path.join(this.data, 'postmaster.pid'))) asPostgres(`${PGBIN}/pg_ctl`, ['-D', this.data, '-m', 'immediate', '-w', '-t', '60', 'stop']);
  }

  /** psql as postgres over the socket (trusted locally); -At output. */
  psql(sql: string, db = 'postgres'): string {
    return ok(asPostgres(`${PGBIN}/psql`, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', this.sock, '-p', String(this.port), '-U', 'postgres', '-d', db, '-c', sql]), `psql ${sql}`).trim();
  }

  /** libpq settings for node-postgres over the socket, as postgres. */
  client(database = 'postgres'): { host: string; port: number; user: string; database: string } {
    return { host: this.sock, port: this.port, user: 'postgres', database };
  }
}
