import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * 部署 deploy/nginx/api.conf, the TLS proxy in front of the API, is accepted by the real nginx (`nginx -t`) with a
 * certificate in place; a broken copy is refused (so the check can fail).
 */
const CONF = path.resolve(__dirname, '..', '..', 'deploy', 'nginx', 'api.conf');

function nginxTest(serverConf: string): { ok: boolean; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-nginx-api-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=runbook.jm.gdzw.internal',
      '-keyout', path.join(dir, 'api-key.pem'), '-out', path.join(dir, 'api.pem')], { stdio: 'ignore' });
    const site = serverConf.replaceAll('/etc/jm-runbook/tls', dir);
    fs.writeFileSync(path.join(dir, 'api.conf'), site);
    fs.writeFileSync(
      path.join(dir, 'nginx.conf'),
      [`pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`, 'events {}', 'http {', `  access_log off;`, `  include ${dir}/api.conf;`, '}', ''].join('\n'),
    );
    const r = spawnSync('nginx', ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { encoding: 'utf8' });
    return { ok: r.status === 0, out: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

it('deploy/nginx/api.conf passes nginx -t and proxies only to the loopback API', () => {
  const text = fs.readFileSync(CONF, 'utf8');
  const r = nginxTest(text);
  expect(r.out).toMatch(/test is successful/);
  expect(r.ok).toBe(true);
  expect(text).toMatch(/proxy_pass http:\/\/127\.0\.0\.1:3000;/);
  expect(text).toMatch(/ssl_protocols\s+TLSv1\.2 TLSv1\.3;/);
});

it('a broken copy is refused', () => {
  const r = nginxTest(fs.readFileSync(CONF, 'utf8').replace('proxy_pass', 'proxy_passs'));
  expect(r.ok).toBe(false);
  expect(r.out).toMatch(/unknown directive "proxy_passs"/);
});
