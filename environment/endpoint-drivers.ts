import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ConnectedSystem, NginxConfig } from './probe-targets';

/**
 * 切换驱动 Drivers that point a connected system at its legacy or new address and prove it by a
 * request through the switched path. Each is idempotent: switching to the side already in place
 * changes nothing and still verifies.
 */
export type Side = 'legacy' | 'new';

export interface SwitchOutcome {
  id: string;
  driver: 'nginx' | 'http-config';
  from: Side | 'unknown';
  to: Side;
  changed: boolean;
  /** how the switch was proven: the upstream nginx reports, or the address the system's API reports */
  verifiedBy: string;
}

const run = promisify(execFile);

export function sideUrl(s: ConnectedSystem, side: Side): string {
  return side === 'legacy' ? s.legacyBaseUrl : s.newBaseUrl;
}

export function joinUrl(base: string, p: string): string {
  return base.replace(/\/+$/, '') + p;
}

// ── nginx ────────────────────────────────────────────────────────────────────────────────────────

/** The location block for one system: the proxy path → the chosen side, and headers that say where it went. */
export function renderNginxLocation(s: ConnectedSystem, side: Side): string {
  if (s.switch?.driver !== 'nginx') throw new Error(`${s.id} is not switched through nginx`);
  const location = new URL(s.switch.proxyBaseUrl).pathname.replace(/\/+$/, '') + '/';
  const upstream = sideUrl(s, side).replace(/\/+$/, '') + '/';
  return [
    `# ${s.id} ${s.name.zh} — rendered by the cutover runbook; side=${side}`,
    `location ${location} {`,
    `    proxy_pass ${upstream};`,
    `    proxy_set_header Host $proxy_host;`,
    `    add_header X-Jm-Side ${side} always;`,
    `    add_header X-Jm-Upstream $upstream_addr always;`,
    `}`,
    '',
  ].join('\n');
}

function nginxFile(cfg: NginxConfig, s: ConnectedSystem): string {
  return path.join(cfg.upstreamDir, `${s.id}.conf`);
}

export function nginxCurrentSide(cfg: NginxConfig, s: ConnectedSystem): Side | 'unknown' {
  const file = nginxFile(cfg, s);
  if (!fs.existsSync(file)) return 'unknown';
  const m = /side=(legacy|new)/.exec(fs.readFileSync(file, 'utf8'));
  return m ? (m[1] as Side) : 'unknown';
}

/** Test the whole config, then reload: a config nginx refuses never replaces the running one. */
async function nginxReload(cfg: NginxConfig): Promise<void> {
  const args = ['-c', cfg.conf, '-p', cfg.prefix];
  try {
    await run(cfg.binary, [...args, '-t'], { timeout: 30_000 });
    await run(cfg.binary, [...args, '-s', 'reload'], { timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`nginx refused the configuration or the reload: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

export async function nginxSwitch(cfg: NginxConfig, s: ConnectedSystem, to: Side, timeoutMs: number): Promise<SwitchOutcome> {
  if (s.switch?.driver !== 'nginx') throw new Error(`${s.id} is not switched through nginx`);
  const file = nginxFile(cfg, s);
  const from = nginxCurrentSide(cfg, s);
  const wanted = renderNginxLocation(s, to);
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  let changed = false;
  if (current !== wanted) {
    fs.mkdirSync(cfg.upstreamDir, { recursive: true });
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, wanted);
    fs.renameSync(tmp, file);
    try {
      await nginxReload(cfg);
    } catch (err) {
      // Put the previous file back so the next reload does not pick up a config that was refused.
      if (current) fs.writeFileSync(file, current);
      else fs.rmSync(file, { force: true });
      throw err;
    }
    changed = true;
  }
  const verifiedBy = await verifyThroughProxy(s, to, timeoutMs);
  return { id: s.id, driver: 'nginx', from, to, changed, verifiedBy };
}

/**
 * A request through the proxy must be answered by the intended side. A reload lets old workers finish,
 * so the first answers may still come from the previous upstream: poll for a few seconds.
 */
async function verifyThroughProxy(s: ConnectedSystem, to: Side, timeoutMs: number): Promise<string> {
  if (s.switch?.driver !== 'nginx') throw new Error(`${s.id} is not switched through nginx`);
  const url = joinUrl(s.switch.proxyBaseUrl, s.healthPath);
  const intended = new URL(sideUrl(s, to));
  const deadline = Date.now() + Math.max(5000, timeoutMs);
  let last = '';
  // Old workers finish their open keep-alive connections after a reload: several answers in a row must agree.
  let agreeing = 0;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      const side = res.headers.get('x-jm-side');
      const upstream = res.headers.get('x-jm-upstream') ?? '';
      // With an IP address configured, nginx reports exactly that address:port; with a host name, the resolved IP.
      const port = intended.port || (intended.protocol === 'https:' ? '443' : '80');
      const sameUpstream = /^[0-9.]+$/.test(intended.hostname) ? upstream === `${intended.hostname}:${port}` : upstream.endsWith(`:${port}`);
      if (res.ok && side === to && sameUpstream) {
        if (++agreeing >= 3) return `GET ${url} → ${res.status} from upstream ${upstream} (${to})`;
        continue;
      }
      agreeing = 0;
      last = `status ${res.status}, side ${side ?? 'none'}, upstream ${upstream || 'none'}`;
    } catch (err) {
      last = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${s.id}: a request through the proxy (${url}) was not answered by the ${to} side ${sideUrl(s, to)} — ${last}`);
}

// ── http-config ──────────────────────────────────────────────────────────────────────────────────

async function readConfiguredBase(configUrl: string, timeoutMs: number): Promise<string | undefined> {
  const res = await fetch(configUrl, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`configuration API answered ${res.status} to GET`);
  }
  const body = (await res.json()) as { baseUrl?: unknown };
  return typeof body.baseUrl === 'string' ? body.baseUrl : undefined;
}

export async function httpConfigCurrentSide(s: ConnectedSystem, timeoutMs: number): Promise<Side | 'unknown'> {
  if (s.switch?.driver !== 'http-config') throw new Error(`${s.id} has no configuration API`);
  const base = await readConfiguredBase(s.switch.configUrl, timeoutMs);
  return base === s.legacyBaseUrl ? 'legacy' : base === s.newBaseUrl ? 'new' : 'unknown';
}

export async function httpConfigSwitch(s: ConnectedSystem, to: Side, timeoutMs: number): Promise<SwitchOutcome> {
  if (s.switch?.driver !== 'http-config') throw new Error(`${s.id} has no configuration API`);
  const { configUrl } = s.switch;
  const target = sideUrl(s, to);
  const from = await httpConfigCurrentSide(s, timeoutMs);
  let changed = false;
  if (from !== to) {
    const res = await fetch(configUrl, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baseUrl: target }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`${s.id}: configuration API answered ${res.status} to PUT`);
    changed = true;
  }
  // Proof: the system reports the new address, and that address answers its health check.
  const now = await readConfiguredBase(configUrl, timeoutMs);
  if (now !== target) throw new Error(`${s.id}: configuration API reports ${now ?? 'no address'} after switching to ${target}`);
  const health = joinUrl(target, s.healthPath);
  const res = await fetch(health, { signal: AbortSignal.timeout(timeoutMs) });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`${s.id}: ${health} answered ${res.status} after the switch`);
  return { id: s.id, driver: 'http-config', from, to, changed, verifiedBy: `configuration API reports ${now}; GET ${health} → ${res.status}` };
}
