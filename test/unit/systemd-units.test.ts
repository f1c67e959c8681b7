import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * 部署 The systemd deployment (deploy/systemd): each unit passes `systemd-analyze verify`, restarts on any exit,
 * takes its secrets as credentials (never Environment= values), gives the worker's chunks their stop grace, and
 * scores as hardened by `systemd-analyze security --offline` (a unit with no hardening scores 9.6 UNSAFE here).
 */
const DIR = path.resolve(__dirname, '..', '..', 'deploy', 'systemd');
const units = ['jm-runbook-worker.service', 'jm-runbook-api.service'];

function exposure(file: string): number {
  const out = execFileSync('systemd-analyze', ['security', '--offline=yes', file], { encoding: 'utf8' });
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(out);
  if (!m) throw new Error(`no exposure level in: ${out.slice(-300)}`);
  return Number(m[1]);
}

describe.each(units)('systemd unit %s', (unit) => {
  const file = path.join(DIR, unit);
  const text = fs.readFileSync(file, 'utf8');

  it('verifies, restarts always, and is hardened (exposure ≤ 2.0)', () => {
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    expect(v.stderr.split('\n').filter((l) => l.includes(unit) || /error|invalid|unknown/i.test(l))).toEqual([]);
    expect(v.status).toBe(0);
    expect(text).toMatch(/^Restart=always$/m);
    for (const opt of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=']) expect(text).toMatch(new RegExp(`^${opt}$`, 'm'));
    expect(exposure(file)).toBeLessThanOrEqual(2.0);
  });

  it('takes secrets by credential file and settings from EnvironmentFile', () => {
    expect(text).toMatch(/^EnvironmentFile=\/etc\/jm-runbook\/runbook\.env$/m);
    for (const s of ['legacy_database_url', 'target_database_url', 'runbook_database_url', 'approval_signing_key']) {
      expect(text).toMatch(new RegExp(`^LoadCredential=${s}:/etc/jm-runbook/secrets/${s}$`, 'm'));
      expect(text).toContain(`_FILE=%d/${s}`);
    }
    expect(text).not.toMatch(/^Environment=.*(postgres|oracle):\/\//m);
    expect(text).not.toMatch(/^Environment=.*APPROVAL_SIGNING_KEY=/m);
  });
});

it('the worker unit waits for running chunks longer than the worker drains them', () => {
  const text = fs.readFileSync(path.join(DIR, 'jm-runbook-worker.service'), 'utf8');
  const grace = Number(/WORKER_SHUTDOWN_GRACE_SECONDS=(\d+)/.exec(text)?.[1]);
  const stop = Number(/^TimeoutStopSec=(\d+)$/m.exec(text)?.[1]);
  expect(grace).toBeGreaterThanOrEqual(120);
  expect(stop).toBeGreaterThanOrEqual(grace + 10);
});
