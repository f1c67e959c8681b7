import fs from 'node:fs';
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

describe('docker-compose optional profiles: standby 备点库 (#18)', () => {
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
});
