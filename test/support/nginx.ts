import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from './loopback';

/**
 * A real nginx (Debian's package) for the tests, with its own config, prefix, pid and logs under a
 * temporary directory, listening on one 127.0.0.1 port. nginx cannot bind port 0, so a port is picked
 * by binding and releasing it, and the start is retried if another process took it meanwhile.
 */
const run = promisify(execFile);

export interface TestNginx {
  port: number;
  conf: string;
  prefix: string;
  upstreamDir: string;
  stop: () => Promise<void>;
}

export async function startNginx(binary = 'nginx'): Promise<TestNginx> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-nginx-'));
  const upstreamDir = path.join(prefix, 'upstreams');
  fs.mkdirSync(upstreamDir);
  fs.mkdirSync(path.join(prefix, 'logs'));
  fs.mkdirSync(path.join(prefix, 'tmp'));
  const conf = path.join(prefix, 'nginx.conf');
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await closedPort();
    fs.writeFileSync(
      conf,
      [
        // Under root the workers would switch to a user that cannot write the temp dirs: keep them as we are.
        process.getuid?.() === 0 ? 'user root;' : '',
        'worker_processes 1;',
        `pid ${prefix}/nginx.pid;`,
        `error_log ${prefix}/logs/error.log warn;`,
        'events { worker_connections 64; }',
        'http {',
        `  access_log ${prefix}/logs/access.log;`,
        `  client_body_temp_path ${prefix}/tmp/body;`,
        `  proxy_temp_path ${prefix}/tmp/proxy;`,
        `  fastcgi_temp_path ${prefix}/tmp/fastcgi;`,
        `  uwsgi_temp_path ${prefix}/tmp/uwsgi;`,
        `  scgi_temp_path ${prefix}/tmp/scgi;`,
        '  server {',
        `    listen 127.0.0.1:${port};`,
        `    include ${upstreamDir}/*.conf;`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    try {
      await run(binary, ['-c', conf, '-p', prefix, '-e', `${prefix}/logs/error.log`]);
      const pidFile = path.join(prefix, 'nginx.pid');
      return {
        port,
        conf,
        prefix,
        upstreamDir,
        stop: async () => {
          const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
          if (pid) {
            process.kill(pid, 'SIGQUIT');
            for (let i = 0; i < 50; i++) {
              try {
                process.kill(pid, 0);
              } catch {
                break;
              }
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          fs.rmSync(prefix, { recursive: true, force: true });
        },
      };
    } catch (err) {
      const e = err as { code?: string; stderr?: string; message: string };
      // A missing binary has no stderr: say what is missing and how to get it, not an empty reason.
      if (e.code === 'ENOENT') lastError = `${binary} is not installed (Debian: apt-get install nginx; npm test's set-up, scripts/test-setup.sh, does it as root)`;
      else lastError = e.stderr?.trim() || e.message;
      if (!/Address already in use/.test(lastError)) break;
    }
  }
  fs.rmSync(prefix, { recursive: true, force: true });
  throw new Error(`nginx did not start: ${lastError}`);
}
