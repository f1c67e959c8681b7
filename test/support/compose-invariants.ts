import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * 部署检查 The invariants of the docker-compose deployment (test/unit/compose.test.ts, compose-profiles.test.ts):
 * static checks, where no Docker engine runs: the file as docker-compose itself resolves it (`docker-compose --env-file deploy/compose.env.example config`),
 * parsed and held to the invariants a deployer relies on (issue #21). docker-compose (v1, Debian's
 * package) and python3's yaml module (which docker-compose itself needs) must be installed: without
 * them this test fails rather than passing quietly.
 */
export const REPO = path.resolve(__dirname, '..', '..');

/**
 * Every image the deployment pulls, pinned, with where the tag was seen published. Bumping an image
 * means changing this list with its source, on purpose.
 */
export const PINNED_IMAGES: Record<string, string> = {
  // The v1.29 line's latest security release (temporalio/docker-builds PRs #324 and #330 "Bump base
  // images for v1.29.7 security release"); 1.29.1 carries critical CVEs (docker-builds issue #327).
  // The same version is what `npm run prodlike` builds from Go modules (go.temporal.io/server@v1.29.7).
  'temporalio/server:1.29.7': 'docker-builds release/v1.29.x; docker-builds#330',
  // admin-tools is tagged <server>-tctl-<tctl>-cli-<cli> (temporalio/temporal#6052: "Version tag now
  // includes versions of tctl and temporal"); a bare 1.29.1 patch tag was never pushed (temporal#8943,
  // helm-charts#756). This full tag is pinned in published deployments of 1.29.7.
  'temporalio/admin-tools:1.29.7-tctl-1.18.4-cli-1.7.2': 'docker-builds release tooling tag format (temporal#6052)',
  // The Web UI; github.com/temporalio/ui-server/v2@v2.49.1 is the same server, built by `npm run prodlike`.
  'temporalio/ui:2.49.1': 'temporalio/ui release v2.49.1 (ui-server/v2 v2.49.1 on the Go module proxy)',
  // Official PostgreSQL image, 16.x on Debian bookworm (supports POSTGRES_PASSWORD_FILE and /docker-entrypoint-initdb.d).
  'postgres:16-bookworm': 'Docker official image postgres, tag 16-bookworm',
  // Oracle Database Free for the legacy side (profile "oracle" only); supports ORACLE_PASSWORD_FILE,
  // APP_USER_PASSWORD_FILE and /container-entrypoint-initdb.d (gvenzl/oci-oracle-free README).
  'gvenzl/oracle-free:23-slim': 'gvenzl/oci-oracle-free README, tag 23-slim',
  // The in-memory database (内存数据库): Docker official image redis, 7.4 on Debian bookworm.
  'redis:7.4-bookworm': 'Docker official image redis, tag 7.4-bookworm',
  // openGauss as the target (profile "opengauss" only): the community's image, built from openGauss-server's
  // docker/dockerfiles/5.0.0 (ENTRYPOINT entrypoint.sh, PGDATA /var/lib/opengauss/data owned by omm; its
  // entrypoint reads GS_PASSWORD_FILE through file_env and runs /docker-entrypoint-initdb.d/*.sh|*.sql).
  'opengauss/opengauss:5.0.0': 'openGauss-server docker/dockerfiles/5.0.0 (dockerfile_amd, entrypoint.sh); Docker Hub opengauss/opengauss:5.0.0',
};
/** The product image's base: Node.js 24 (Active LTS), Debian bookworm slim. */
export const NODE_BASE = 'node:24-bookworm-slim';

/** What each image runs as, and the paths it owns and writes (so a named volume there is writable). */
export const IMAGE_WRITABLE: Record<string, string[]> = {
  postgres: ['/var/lib/postgresql/data'],
  'gvenzl/oracle-free': ['/opt/oracle/oradata'],
  // the official redis image creates /data owned by redis (its Dockerfile: mkdir /data && chown redis:redis /data)
  redis: ['/data'],
  // openGauss-server docker/dockerfiles/5.0.0/dockerfile_amd: mkdir -p /var/lib/opengauss; chown -R omm:omm /var/lib/opengauss
  'opengauss/opengauss': ['/var/lib/opengauss'],
};

/** The product's own process, the longest a chunk of the copy may take to finish after SIGTERM, in s. */
export const MIN_WORKER_STOP_GRACE_S = 120;

export type Service = {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  ports?: ({ published?: number | string; target: number; host_ip?: string } | string)[];
  volumes?: (string | { type: string; source?: string; target: string; read_only?: boolean })[];
  restart?: string;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  stop_grace_period?: string;
  mem_limit?: string | number;
  cpus?: number | string;
  deploy?: { resources?: { limits?: { memory?: string; cpus?: string | number } } };
  logging?: { driver?: string; options?: Record<string, string> };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  user?: string;
  read_only?: boolean;
  secrets?: unknown[];
};
export type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown>; secrets?: Record<string, unknown> };

export function composeConfig(file: string | string[], envFile = path.join(REPO, 'deploy', 'compose.env.example')): Compose {
  const files = (Array.isArray(file) ? file : [file]).flatMap((f) => ['-f', f]);
  const yaml = execFileSync('docker-compose', [...files, '--env-file', envFile, 'config'], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const json = execFileSync('python3', ['-c', 'import json,sys,yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: yaml,
    encoding: 'utf8',
  });
  return JSON.parse(json) as Compose;
}

/** "2m30s", "150s", "1h" → seconds. */
export function durationSeconds(d: string | undefined): number {
  if (!d) return 0;
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|us|m|s)/g;
  let matched = '';
  for (let m = re.exec(d); m; m = re.exec(d)) {
    total += Number(m[1]) * units[m[2]];
    matched += m[0];
  }
  if (matched !== d) throw new Error(`unparseable duration ${d}`);
  return total;
}

export function mounts(s: Service): { source: string; target: string; readOnly: boolean; named: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const parts = v.split(':');
      const [source, target, mode] = parts.length === 1 ? ['', parts[0], 'rw'] : [parts[0], parts[1], parts[2] ?? 'rw'];
      return { source, target, readOnly: mode.split(',').includes('ro'), named: !!source && !source.startsWith('/') && !source.startsWith('.') };
    }
    return { source: v.source ?? '', target: v.target, readOnly: !!v.read_only, named: v.type === 'volume' };
  });
}

/** docker-compose writes "127.0.0.1:7233:7233/tcp" (with a host address) or {published, target[, host_ip]}. */
export function ports(s: Service): { hostIp?: string; target: number }[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p !== 'string') return { hostIp: p.host_ip, target: p.target };
    const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
    return { hostIp: parts.length === 3 ? parts[0] : undefined, target: Number(parts[parts.length - 1]) };
  });
}

/**
 * Secrets the images can only take from the environment: temporalio/server's config template reads POSTGRES_PWD
 * (no _FILE), so Temporal's own database password is shared by its three services from .env.
 */
export const ENV_ONLY_SECRETS = new Set(['temporal:POSTGRES_PWD', 'temporal-db:POSTGRES_PASSWORD', 'temporal-schema:SQL_PASSWORD']);

export function imageName(ref: string): string {
  return ref.replace(/:[^/:]+$/, '');
}

/** One-shot jobs: what other services wait on to complete; everything else runs for good. */
export function oneShots(c: Compose): Set<string> {
  const set = new Set<string>();
  for (const s of Object.values(c.services))
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) if (condition === 'service_completed_successfully') set.add(dep);
  return set;
}

export function commandText(s: Service): string {
  const part = (x: string[] | string | undefined) => (Array.isArray(x) ? x.join(' ') : (x ?? ''));
  return `${part(s.entrypoint)} ${part(s.command)}`;
}

/** What the Dockerfile's final stage creates owned by the image user (`install -d -o node -g node …`). */
export function dockerfileOwnedDirs(dockerfile: string): string[] {
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const dirs: string[] = [];
  for (const m of finalStage.matchAll(/install\s+-d\s+(?:-m\s+\d+\s+)?-o\s+node\s+-g\s+node((?:\s+(?:\\\n\s*)?\/[^\s\\&;]+)+)/g))
    dirs.push(...m[1].split(/\s+/).filter((p) => p.startsWith('/')));
  return dirs;
}

/** Every invariant the deployment must keep; each problem named with the service it is on. */
export function composeProblems(c: Compose, dockerfile: string): string[] {
  const problems: string[] = [];
  const shots = oneShots(c);
  const productImages = new Set<string>();
  const builders = Object.entries(c.services).filter(([, s]) => s.build);
  if (builders.length !== 1) problems.push(`the product image must be built once, by one service: ${builders.length} services have build:`);
  for (const [, s] of builders) if (s.image) productImages.add(s.image);
  if (builders.length === 1 && productImages.size === 0) problems.push(`${builders[0][0]}: build: without image: (the other services cannot reuse it)`);

  const fromLines = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  for (const f of fromLines) if (f !== NODE_BASE) problems.push(`Dockerfile: FROM ${f}, expected ${NODE_BASE} (Node 24 LTS)`);
  if (fromLines.length === 0) problems.push('Dockerfile: no FROM');
  const ownedDirs = dockerfileOwnedDirs(dockerfile);
  if (!/^USER\s+node\s*$/m.test(dockerfile)) problems.push('Dockerfile: the final stage must run as USER node');
  if (!/bundle-workflows/.test(dockerfile)) problems.push('Dockerfile: workflows must be bundled at build time (scripts/bundle-workflows)');
  if (/^COPY\s+.*\/app\/config\b/m.test(dockerfile)) problems.push('Dockerfile: site config must be mounted, not baked into the image');

  for (const [name, s] of Object.entries(c.services)) {
    const long = !shots.has(name);
    const product = !!s.build || (s.image !== undefined && productImages.has(s.image));
    if (!product) {
      if (!s.image) problems.push(`${name}: no image`);
      else if (!(s.image in PINNED_IMAGES)) problems.push(`${name}: image ${s.image} is not one of the pinned, published tags`);
    }
    // Restart after a crash or reboot; one-shot jobs must not loop.
    if (long && !['unless-stopped', 'always'].includes(s.restart ?? '')) problems.push(`${name}: long-running service without restart: unless-stopped|always`);
    if (!long && s.restart && s.restart !== 'no') problems.push(`${name}: one-shot job with restart: ${s.restart}`);
    if (long && (!s.healthcheck || s.healthcheck.disable || !s.healthcheck.test)) problems.push(`${name}: no healthcheck`);
    const memory = s.mem_limit ?? s.deploy?.resources?.limits?.memory;
    const cpus = s.cpus ?? s.deploy?.resources?.limits?.cpus;
    if (long && (!memory || !cpus)) problems.push(`${name}: no memory and cpu limits`);
    const opts = s.logging?.options ?? {};
    if (!['json-file', 'local'].includes(s.logging?.driver ?? '') || !opts['max-size'] || !opts['max-file'])
      problems.push(`${name}: no log rotation (logging driver json-file|local with max-size and max-file)`);

    // Nothing but the API is reachable from the network; databases not even from the host.
    for (const p of ports(s)) {
      const isDb = /postgres|oracle|opengauss/.test(s.image ?? '');
      if (isDb) problems.push(`${name}: database port ${p.target} published`);
      else if (!(name === 'api') && p.hostIp !== '127.0.0.1') problems.push(`${name}: port ${p.target} published on ${p.hostIp ?? 'all interfaces'}, not loopback`);
    }

    // Volumes: writable where written, read-only where only read.
    for (const m of mounts(s)) {
      if (m.readOnly) continue;
      if (product) {
        if (!ownedDirs.includes(m.target)) problems.push(`${name}: volume at ${m.target} is not a directory the Dockerfile creates owned by node`);
      } else {
        const writable = IMAGE_WRITABLE[imageName(s.image ?? '')] ?? [];
        if (!writable.includes(m.target)) problems.push(`${name}: writable volume at ${m.target}, which ${s.image} does not own`);
      }
      if (!m.named) problems.push(`${name}: writable bind mount ${m.source}:${m.target} (use a named volume)`);
    }

    // Secrets by file where the image reads them so; never a password in the environment.
    for (const [k, v] of Object.entries(s.environment ?? {})) {
      if (/(PASSWORD|PWD|SIGNING_KEY|DATABASE_URL)$/.test(k) && !ENV_ONLY_SECRETS.has(`${name}:${k}`))
        problems.push(`${name}: secret ${k} in the environment (use ${k}_FILE and a secret)`);
      if (typeof v === 'string' && /:\/\/[^/\s:@]+:[^/\s@]+@/.test(v)) problems.push(`${name}: ${k} holds a URL with a password`);
    }
  }

  const worker = c.services.worker;
  const api = c.services.api;
  if (!worker || !api) problems.push('services worker and api must both exist');
  else {
    if (durationSeconds(worker.stop_grace_period) < MIN_WORKER_STOP_GRACE_S)
      problems.push(`worker: stop_grace_period ${worker.stop_grace_period ?? '10s (default)'} is shorter than a chunk (${MIN_WORKER_STOP_GRACE_S}s)`);
    const grace = Number(worker.environment?.WORKER_SHUTDOWN_GRACE_SECONDS ?? 0);
    if (!(grace > 0 && grace + 10 <= durationSeconds(worker.stop_grace_period)))
      problems.push('worker: WORKER_SHUTDOWN_GRACE_SECONDS must be set and at least 10 s below stop_grace_period (drain, then exit before SIGKILL)');
    for (const [name, s] of [['worker', worker], ['api', api]] as const) {
      const env = s.environment ?? {};
      if (env.REPORTS_DIR === undefined || env.BACKUP_DIR === undefined) problems.push(`${name}: REPORTS_DIR and BACKUP_DIR must be set`);
      for (const dir of [env.REPORTS_DIR, env.BACKUP_DIR]) {
        const m = mounts(s).find((x) => x.target === dir && !x.readOnly && x.named);
        if (dir && !m) problems.push(`${name}: ${dir} is not on a writable named volume`);
      }
      for (const k of ['MAPPING_FILE', 'PLAN_FILE', 'NETWORK_FLOWS_FILE', 'CONNECTED_SYSTEMS_FILE', 'SERVICES_FILE']) {
        const file = env[k];
        const m = file ? mounts(s).find((x) => file.startsWith(`${x.target}/`)) : undefined;
        if (!m || !m.readOnly) problems.push(`${name}: ${k} must point into the site config, mounted read-only`);
      }
    }
    const wm = mounts(worker).filter((m) => m.named).map((m) => `${m.source}:${m.target}`);
    const am = mounts(api).filter((m) => m.named).map((m) => `${m.source}:${m.target}`);
    const reports = worker.environment?.REPORTS_DIR;
    if (!reports || !wm.some((m) => m.endsWith(`:${reports}`)) || !am.includes(wm.find((m) => m.endsWith(`:${reports}`)) ?? '-'))
      problems.push('worker and api must share the same reports volume at the same REPORTS_DIR');
    if (api.image === undefined || api.image !== worker.image) problems.push('api must run the image the worker builds (built once)');
  }

  // The Temporal setup job fails loudly and checks what it made.
  const setup = c.services['temporal-setup'];
  if (!setup) problems.push('temporal-setup job missing');
  else {
    const text = commandText(setup);
    if (/\|\|\s*true/.test(text)) problems.push('temporal-setup: `|| true` hides failures');
    if (!/-e/.test(Array.isArray(setup.entrypoint) ? setup.entrypoint.join(' ') : (setup.entrypoint ?? '')) && !/set -e/.test(text))
      problems.push('temporal-setup: the shell does not stop at the first failure (sh -e / set -e)');
    if (!/operator cluster health/.test(text)) problems.push('temporal-setup: no real readiness check (temporal operator cluster health)');
    if (!/search-attribute list/.test(text) || !/namespace describe/.test(text)) problems.push('temporal-setup: the namespace and search attributes are not checked after creation');
  }
  const schema = c.services['temporal-schema'];
  if (schema && /\|\|\s*true/.test(commandText(schema))) problems.push('temporal-schema: `|| true` hides failures');

  // The Web UI: read-only.
  const ui = c.services['temporal-ui'];
  if (ui && String(ui.environment?.TEMPORAL_DISABLE_WRITE_ACTIONS) !== 'true') problems.push('temporal-ui: write actions are not disabled (TEMPORAL_DISABLE_WRITE_ACTIONS=true)');
  if (c.services.temporal && ports(c.services.temporal).some((p) => p.hostIp !== '127.0.0.1'))
    problems.push('temporal: frontend open to the network');

  // Oracle: only when asked for, and its grant made by an init script.
  const oracle = c.services.oracle;
  if (oracle) {
    if (!oracle.profiles?.length) problems.push('oracle: must sit under a profile (nothing uses it by default)');
    if (!mounts(oracle).some((m) => m.target.startsWith('/container-entrypoint-initdb.d') && m.readOnly))
      problems.push('oracle: the flashback grant must come from an init script (/container-entrypoint-initdb.d, read-only)');
  }
  return problems;
}
