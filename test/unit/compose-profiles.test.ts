import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Compose, REPO, commandText, composeConfig, composeProblems, mounts } from '../support/compose-invariants';

/** The files the standby services rely on, read from the repository (or altered by a test). */
type StandbyFiles = { entrypoint: string; initdb: string; makeSecrets: string; standbyConfig: { standby: { applicationName: string; slot: string }; dr: { applicationName: string; slot: string } } };

function readStandbyFiles(): StandbyFiles {
  const read = (...p: string[]) => fs.readFileSync(path.join(REPO, ...p), 'utf8');
  return {
    entrypoint: read('deploy', 'standby', 'standby-entrypoint.sh'),
    initdb: read('deploy', 'target-db', 'initdb.sh'),
    makeSecrets: read('deploy', 'make-secrets.sh'),
    standbyConfig: JSON.parse(read('config', 'standby.compose.json')) as StandbyFiles['standbyConfig'],
  };
}

/**
 * 备点库 The standby and the off-site DR copy (issue #18): the compose equivalents of scripts/pg-standby.sh. Each a
 * streaming standby of target-db under the "standby" profile, made by pg_basebackup -R -X stream -C -S <its slot> as a
 * replication role whose password is a secret file, on a volume of its own, healthy only when in recovery and
 * streaming; the primary allows the role; the worker's STANDBY_* settings point at them through secret files.
 * (The general invariants — pinned image, restart, limits, log rotation, no published port — are composeProblems'.)
 */
export function standbyProblems(c: Compose, f: StandbyFiles): string[] {
  const problems: string[] = [];
  const target = c.services['target-db'];
  const targetVolume = target ? mounts(target).find((m) => m.target === '/var/lib/postgresql/data')?.source : undefined;
  const copies = [
    { name: 'target-standby', conf: f.standbyConfig.standby, urlSetting: 'STANDBY_URL', secret: 'standby_url' },
    { name: 'target-dr', conf: f.standbyConfig.dr, urlSetting: 'STANDBY_DR_URL', secret: 'standby_dr_url' },
  ];
  const volumes = new Set<string>();
  for (const { name, conf } of copies) {
    const s = c.services[name];
    if (!s) {
      problems.push(`${name}: service missing (the standby's compose equivalent of scripts/pg-standby.sh)`);
      continue;
    }
    if (!s.profiles?.includes('standby')) problems.push(`${name}: must sit under the profile "standby"`);
    if (s.image !== 'postgres:16-bookworm' || (target && s.image !== target.image)) problems.push(`${name}: must run the primary's image (a physical standby needs the same major version)`);
    const env = s.environment ?? {};
    if (env.PRIMARY_HOST !== 'target-db') problems.push(`${name}: PRIMARY_HOST must be target-db`);
    if (env.STANDBY_NAME !== conf.applicationName) problems.push(`${name}: STANDBY_NAME ${env.STANDBY_NAME} is not the applicationName ${conf.applicationName} of config/standby.compose.json`);
    if (env.STANDBY_SLOT !== conf.slot) problems.push(`${name}: STANDBY_SLOT ${env.STANDBY_SLOT} is not the slot ${conf.slot} of config/standby.compose.json`);
    const pwFile = env.REPLICATION_PASSWORD_FILE ?? '';
    const secretNames = (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : (x as { source: string }).source));
    if (!pwFile.startsWith('/run/secrets/') || !secretNames.includes(pwFile.slice('/run/secrets/'.length))) problems.push(`${name}: REPLICATION_PASSWORD_FILE must name a secret the service mounts`);
    const script = mounts(s).find((m) => m.target.endsWith('standby-entrypoint.sh'));
    if (!script || !script.readOnly || !script.source.endsWith('deploy/standby/standby-entrypoint.sh') || !commandText(s).includes(script.target))
      problems.push(`${name}: must run deploy/standby/standby-entrypoint.sh, mounted read-only`);
    const data = mounts(s).find((m) => m.target === '/var/lib/postgresql/data');
    if (!data?.named || data.source === targetVolume || volumes.has(data.source)) problems.push(`${name}: needs a named volume of its own at /var/lib/postgresql/data`);
    else volumes.add(data.source);
    if (s.depends_on?.['target-db']?.condition !== 'service_healthy') problems.push(`${name}: must wait for target-db to be healthy`);
    const health = Array.isArray(s.healthcheck?.test) ? s.healthcheck.test.join(' ') : (s.healthcheck?.test ?? '');
    if (!/pg_is_in_recovery\(\)/.test(health) || !/pg_stat_wal_receiver/.test(health) || !/'streaming'/.test(health))
      problems.push(`${name}: the healthcheck must prove it is in recovery and streaming (pg_is_in_recovery, pg_stat_wal_receiver)`);
  }
  const slots = copies.map((x) => c.services[x.name]?.environment?.STANDBY_SLOT);
  if (slots[0] && slots[0] === slots[1]) problems.push('target-standby and target-dr share a replication slot');
  if (!/pg_basebackup\b[^\n]*-R -X stream -C -S "\$STANDBY_SLOT"/.test(f.entrypoint)) problems.push('standby-entrypoint.sh: no pg_basebackup -R -X stream -C -S "$STANDBY_SLOT"');
  if (!/primary_slot_name/.test(f.entrypoint) || !/application_name=\$STANDBY_NAME/.test(f.entrypoint)) problems.push('standby-entrypoint.sh: primary_conninfo must name the copy (application_name) and its slot');
  if (/PGPASSWORD|conninfo="[^"]*password=/.test(f.entrypoint)) problems.push('standby-entrypoint.sh: the replication password must travel in a passfile, not the environment or the conninfo');

  // the primary: the role, replication allowed for it in pg_hba, its password a secret file
  const tenv = target?.environment ?? {};
  if (!tenv.REPLICATION_PASSWORD_FILE?.startsWith('/run/secrets/')) problems.push('target-db: REPLICATION_PASSWORD_FILE (a secret) missing: the primary has no replication role');
  if (!/CREATE ROLE (\w+) LOGIN REPLICATION/.test(f.initdb)) problems.push('initdb.sh: no replication role');
  const role = /CREATE ROLE (\w+) LOGIN REPLICATION/.exec(f.initdb)?.[1];
  if (role && !new RegExp(`host replication ${role} all scram-sha-256`).test(f.initdb)) problems.push(`initdb.sh: pg_hba does not allow replication for ${role}`);
  if (role && !copies.every((x) => c.services[x.name]?.environment?.REPLICATION_USER === role)) problems.push(`the copies must connect as the replication role ${role}`);
  if (!/GRANT pg_monitor TO runbook/.test(f.initdb)) problems.push('initdb.sh: runbook cannot read pg_stat_replication (pg_monitor)');

  // the worker reads them through secret files
  const worker = c.services.worker;
  const wenv = worker?.environment ?? {};
  const wsecrets = (worker?.secrets ?? []).map((x) => (typeof x === 'string' ? x : (x as { source: string }).source));
  for (const { name, urlSetting, secret } of [...copies, { name: 'target-db', urlSetting: 'STANDBY_PRIMARY_URL', secret: 'target_database_url' }]) {
    if (wenv[`${urlSetting}_FILE`] !== `/run/secrets/${secret}` || !wsecrets.includes(secret)) problems.push(`worker: ${urlSetting}_FILE must be the secret ${secret}`);
    const host = name === 'target-db' ? 'target-db' : name;
    if (!new RegExp(`put ${secret} "postgres://[^"]*@${host}:5432/jm_target"`).test(f.makeSecrets)) problems.push(`make-secrets.sh: ${secret} does not point at ${host}`);
  }
  if (wenv.STANDBY_DIR !== '') problems.push('worker: STANDBY_DIR must be empty (compose manages the replicas, not the worker)');
  if (wenv.STANDBY_FILE !== '/etc/runbook/config/standby.compose.json') problems.push('worker: STANDBY_FILE must be the compose standby configuration in the site config');
  return problems;
}

/**
 * 国产目标库 openGauss as the target (issue #20): under the "opengauss" profile, its superuser password by file (the
 * image's entrypoint reads GS_PASSWORD_FILE), the target database made by an init script as the product needs it, and
 * an override that points the worker and the API at it in the openGauss dialect through a secret file.
 */
export function opengaussProblems(c: Compose, f: { initdb: string; makeSecrets: string }): string[] {
  const problems: string[] = [];
  const og = c.services.opengauss;
  if (!og) return ['opengauss: service missing'];
  if (!og.profiles?.includes('opengauss')) problems.push('opengauss: must sit under the profile "opengauss"');
  const env = og.environment ?? {};
  const secretNames = (og.secrets ?? []).map((x) => (typeof x === 'string' ? x : (x as { source: string }).source));
  for (const k of ['GS_PASSWORD_FILE', 'OPENGAUSS_TARGET_PASSWORD_FILE']) {
    const file = env[k] ?? '';
    if (!file.startsWith('/run/secrets/') || !secretNames.includes(file.slice('/run/secrets/'.length))) problems.push(`opengauss: ${k} must name a secret the service mounts`);
  }
  const init = mounts(og).find((m) => m.target.startsWith('/docker-entrypoint-initdb.d/'));
  if (!init?.readOnly || !init.source.endsWith('deploy/opengauss/initdb.sh')) problems.push('opengauss: the target database must come from deploy/opengauss/initdb.sh, mounted read-only');
  if (!/CREATE DATABASE jm_target OWNER (\w+) DBCOMPATIBILITY 'PG' ENCODING 'UTF8' TEMPLATE template0/.test(f.initdb))
    problems.push("opengauss initdb.sh: jm_target must be created DBCOMPATIBILITY 'PG', UTF8, from template0");
  if (!/PASSWORD :'pw'/.test(f.initdb) || !/<"\$OPENGAUSS_TARGET_PASSWORD_FILE"/.test(f.initdb)) problems.push("opengauss initdb.sh: the user's password must come from the secret file");
  if (!/put opengauss_target_database_url "postgres:\/\/jmtarget:[^"]*@opengauss:5432\/jm_target"/.test(f.makeSecrets)) problems.push('make-secrets.sh: opengauss_target_database_url does not point at opengauss:5432/jm_target as jmtarget');
  return problems;
}

/** The worker and the API under deploy/compose.opengauss.yml: the openGauss dialect, the target by secret file. */
export function opengaussOverrideProblems(c: Compose): string[] {
  const problems: string[] = [];
  for (const name of ['worker', 'api']) {
    const s = c.services[name];
    const env = s?.environment ?? {};
    const secretNames = (s?.secrets ?? []).map((x) => (typeof x === 'string' ? x : (x as { source: string }).source));
    if (env.TARGET_DIALECT !== 'opengauss') problems.push(`${name}: TARGET_DIALECT must be opengauss`);
    if (env.TARGET_DATABASE_URL_FILE !== '/run/secrets/opengauss_target_database_url' || !secretNames.includes('opengauss_target_database_url'))
      problems.push(`${name}: TARGET_DATABASE_URL_FILE must be the secret opengauss_target_database_url`);
  }
  if (c.services.worker?.depends_on?.opengauss?.condition !== 'service_healthy') problems.push('worker: must wait for opengauss to be healthy');
  return problems;
}

describe('docker-compose optional profiles: standby 备点库 (#18), openGauss 国产目标库 (#20)', () => {
  it('备点库 the standby and the off-site DR copy (--profile standby) follow scripts/pg-standby.sh and are wired to the worker (issue #18)', () => {
    const c = composeConfig(path.join(REPO, 'docker-compose.yml'));
    expect(standbyProblems(c, readStandbyFiles())).toEqual([]);
    expect(c.services['target-standby'].profiles).toEqual(['standby']);
    expect(c.services['target-dr'].environment?.STANDBY_SLOT).toBe('jm_dr');
  });

  it('the standby checks find a removed copy, a shared volume or slot, a password in the environment and a primary without replication', () => {
    const files = readStandbyFiles();
    const base = () => composeConfig(path.join(REPO, 'docker-compose.yml'));
    const expectProblem = (problems: string[], re: RegExp) => expect(problems.filter((p) => re.test(p))).not.toHaveLength(0);

    const removed = base();
    delete removed.services['target-dr'];
    expectProblem(standbyProblems(removed, files), /target-dr: service missing/);

    const shared = base();
    shared.services['target-dr'].volumes = shared.services['target-standby'].volumes;
    shared.services['target-dr'].environment = { ...shared.services['target-dr'].environment, STANDBY_SLOT: 'jm_standby' };
    const sharedProblems = standbyProblems(shared, files);
    expectProblem(sharedProblems, /target-dr: needs a named volume of its own/);
    expectProblem(sharedProblems, /share a replication slot/);

    const leaky = base();
    leaky.services['target-standby'].environment = { ...leaky.services['target-standby'].environment, REPLICATION_PASSWORD: 'x' };
    expectProblem(composeProblems(leaky, fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8')), /target-standby: secret REPLICATION_PASSWORD in the environment/);
    expectProblem(standbyProblems(base(), { ...files, entrypoint: files.entrypoint.replace('passfile=$PASSFILE', 'password=$password') }), /passfile/);

    const unhealthy = base();
    unhealthy.services['target-standby'].healthcheck = { test: ['CMD', 'pg_isready'] };
    expectProblem(standbyProblems(unhealthy, files), /target-standby: the healthcheck must prove/);
    expectProblem(standbyProblems(base(), { ...files, initdb: files.initdb.replace(/echo "host replication[^\n]*/, '') }), /pg_hba does not allow replication/);
    expectProblem(standbyProblems(base(), { ...files, entrypoint: files.entrypoint.replace(' -C -S "$STANDBY_SLOT"', '') }), /no pg_basebackup -R -X stream -C -S/);
  });
  it('国产目标库 openGauss (--profile opengauss, deploy/compose.opengauss.yml): password by file, the target made by an init script, the worker and API in its dialect (issue #20)', () => {
    const files = { initdb: fs.readFileSync(path.join(REPO, 'deploy', 'opengauss', 'initdb.sh'), 'utf8'), makeSecrets: fs.readFileSync(path.join(REPO, 'deploy', 'make-secrets.sh'), 'utf8') };
    const dockerfile = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
    const base = composeConfig(path.join(REPO, 'docker-compose.yml'));
    expect(opengaussProblems(base, files)).toEqual([]);
    const withOverride = composeConfig([path.join(REPO, 'docker-compose.yml'), path.join(REPO, 'deploy', 'compose.opengauss.yml')]);
    expect(composeProblems(withOverride, dockerfile)).toEqual([]);
    expect(opengaussOverrideProblems(withOverride)).toEqual([]);
    // without the override the product stays on target-db in the PostgreSQL dialect
    expect(opengaussOverrideProblems(base)).toContain('worker: TARGET_DIALECT must be opengauss');

    // and the checks find the faults: the password in the environment, no profile, a database in Oracle mode
    const leaky = composeConfig(path.join(REPO, 'docker-compose.yml'));
    leaky.services.opengauss.environment = { GS_PASSWORD: 'Og-1secret' };
    leaky.services.opengauss.profiles = [];
    const problems = [...composeProblems(leaky, dockerfile), ...opengaussProblems(leaky, { ...files, initdb: files.initdb.replace("OWNER jmtarget DBCOMPATIBILITY 'PG'", "OWNER jmtarget DBCOMPATIBILITY 'A'") })];
    for (const re of [/opengauss: secret GS_PASSWORD in the environment/, /must sit under the profile "opengauss"/, /GS_PASSWORD_FILE must name a secret/, /DBCOMPATIBILITY 'PG'/])
      expect(problems.filter((p) => re.test(p))).not.toHaveLength(0);
  });

  it('make-secrets.sh writes openGauss passwords its rules accept and URLs that need no escaping', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-compose-secrets-'));
    try {
      execFileSync('bash', [path.join(REPO, 'deploy', 'make-secrets.sh'), dir], { encoding: 'utf8', env: { ...process.env, LEGACY_DATABASE_URL: '' } });
      for (const name of ['opengauss_superuser_password', 'opengauss_target_password']) {
        const pw = fs.readFileSync(path.join(dir, name), 'utf8').trim();
        // openGauss: 8..32 characters with upper and lower case, a digit and one of #?!@$%^&*- (the image's entrypoint checks the same)
        expect(pw.length).toBeGreaterThanOrEqual(8);
        expect(pw.length).toBeLessThanOrEqual(32);
        for (const re of [/[A-Z]/, /[a-z]/, /[0-9]/, /[#?!@$%^&*-]/]) expect(pw).toMatch(re);
        expect(encodeURIComponent(pw)).toBe(pw);
      }
      const url = new URL(fs.readFileSync(path.join(dir, 'opengauss_target_database_url'), 'utf8').trim());
      expect([url.hostname, url.port, url.pathname, url.username]).toEqual(['opengauss', '5432', '/jm_target', 'jmtarget']);
      expect(url.password).toBe(fs.readFileSync(path.join(dir, 'opengauss_target_password'), 'utf8').trim());
      for (const [name, host] of [['standby_url', 'target-standby'], ['standby_dr_url', 'target-dr']]) expect(new URL(fs.readFileSync(path.join(dir, name), 'utf8').trim()).hostname).toBe(host);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
