import fs from 'node:fs';
import path from 'node:path';
import { REPO, composeConfig, composeProblems, durationSeconds } from '../support/compose-invariants';

/**
 * 部署检查 Static checks of the docker-compose deployment, where no Docker engine runs: the file as docker-compose itself
 * resolves it, held to the invariants a deployer relies on (issue #21; the checks are in test/support/compose-invariants.ts,
 * the optional profiles' own in compose-profiles.test.ts).
 */
describe('docker-compose deployment 部署 (static checks, issue #21)', () => {
  const dockerfile = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');

  it('docker-compose.yml with the example env keeps every invariant', () => {
    expect(composeProblems(composeConfig(path.join(REPO, 'docker-compose.yml')), dockerfile)).toEqual([]);
  });

  it('with the mTLS override (deploy/compose.mtls.yml) the invariants still hold and every client of the frontend has a certificate', () => {
    const c = composeConfig([path.join(REPO, 'docker-compose.yml'), path.join(REPO, 'deploy', 'compose.mtls.yml')]);
    expect(composeProblems(c, dockerfile)).toEqual([]);
    expect(c.services.temporal.environment?.TEMPORAL_TLS_REQUIRE_CLIENT_AUTH).toBe('true');
    for (const name of ['worker', 'api']) {
      const env = c.services[name].environment ?? {};
      expect([env.TEMPORAL_TLS_CA_FILE, env.TEMPORAL_TLS_CERT_FILE, env.TEMPORAL_TLS_KEY_FILE].every((f) => f?.startsWith('/etc/runbook/tls/'))).toBe(true);
    }
    for (const name of ['temporal-setup', 'temporal-ui']) expect(c.services[name].environment?.TEMPORAL_TLS_CERT).toMatch(/^\/etc\/temporal\/tls\/.+\.pem$/);
  });

  it('the checks find the faults of the deployment as it was before issue #21 (test/fixtures/compose-before-21.yml)', () => {
    const before = composeConfig(path.join(REPO, 'test', 'fixtures', 'compose-before-21.yml'), path.join(REPO, 'test', 'fixtures', 'compose-before-21.env'));
    const oldDockerfile = fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'Dockerfile-before-21'), 'utf8');
    const problems = composeProblems(before, oldDockerfile);
    const expectProblem = (re: RegExp) => expect(problems.filter((p) => re.test(p))).not.toHaveLength(0);
    expectProblem(/temporal-schema: image temporalio\/admin-tools:1\.29\.1 is not one of the pinned/); // item 1
    expectProblem(/worker: volume at \/backups is not a directory the Dockerfile creates owned by node/); // 2
    expectProblem(/REPORTS_DIR and BACKUP_DIR must be set/); // 3
    expectProblem(/temporal-setup: `\|\| true`/); // 5
    expectProblem(/temporal-setup: no real readiness check/);
    expectProblem(/temporal: port 7233 published on all interfaces/); // 6
    expectProblem(/temporal-ui: write actions are not disabled/);
    expectProblem(/temporal-db: long-running service without restart/); // 7
    expectProblem(/target-db: database port 5432 published/); // 8
    expectProblem(/oracle: database port 1521 published/);
    expectProblem(/Dockerfile: FROM node:20-bookworm-slim/); // 9
    expectProblem(/temporal: image temporalio\/server:1\.29\.1 is not/); // 10
    expectProblem(/api: no healthcheck/); // 11
    expectProblem(/worker: no memory and cpu limits/);
    expectProblem(/worker: stop_grace_period 10s \(default\) is shorter/);
    expectProblem(/worker: no log rotation/);
    expectProblem(/api: secret APPROVAL_SIGNING_KEY in the environment/); // 12
    expectProblem(/api: TARGET_DATABASE_URL holds a URL with a password/);
    expectProblem(/oracle: must sit under a profile/); // 13
    expectProblem(/oracle: the flashback grant must come from an init script/);
    expectProblem(/Dockerfile: site config must be mounted/); // 14
    expectProblem(/the product image must be built once/); // 16
    expectProblem(/Dockerfile: workflows must be bundled at build time/);
  });

  it('durations parse as docker-compose writes them, and garbage is refused', () => {
    expect(durationSeconds('2m30s')).toBe(150);
    expect(durationSeconds('150s')).toBe(150);
    expect(durationSeconds('1h')).toBe(3600);
    expect(durationSeconds(undefined)).toBe(0);
    expect(() => durationSeconds('ten seconds')).toThrow(/unparseable/);
  });
});
