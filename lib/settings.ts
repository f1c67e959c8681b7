import { z } from 'zod';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SNAPSHOT, dialectSchema, SNAPSHOT_STRATEGIES, supports } from './dialect';

/**
 * Process settings come from the environment, validated once at start-up so that a typo in a
 * variable fails the process with the variable's name instead of surfacing later as a stack trace.
 * Connection strings live only here and in activity code: they are never passed to workflows,
 * so they never reach workflow history.
 */
/** The checkout (or the image's /app): compiled code runs from dist/ and still reads config/ and writes .data/ beside it. */
const above = path.resolve(__dirname, '..');
export const repoRoot = path.basename(above) === 'dist' ? path.dirname(above) : above;

/**
 * The signing key's rules (lib/decision-signing.ts): a key of your own is required. Only an explicit
 * RUNBOOK_DEV_MODE=1 — never inferred from NODE_ENV, which is unset or spelled differently too often —
 * lets a development machine run with the repository's development key. Values published anywhere (the
 * development key, the compose example's placeholder, obvious placeholders) are refused otherwise,
 * whatever NODE_ENV says.
 */
export const DEV_SIGNING_KEY = 'dev-only-approval-signing-key-not-for-production';
const PUBLISHED_KEYS = new Set([DEV_SIGNING_KEY, 'change-me-to-a-long-random-secret-of-48-chars-or-more']);
const PLACEHOLDER = /change[-_ ]?me|placeholder|your[-_ ]?(?:own[-_ ]?)?(?:key|secret)|replace[-_ ]?(?:me|this)|example|not[-_ ]?for[-_ ]?production|^(.)\1+$/i;

/** Why a signing key must not be used, or null. */
export function signingKeyProblem(key: string, devMode: boolean): string | null {
  if (key === DEV_SIGNING_KEY && devMode) return null;
  if (PUBLISHED_KEYS.has(key)) return 'is a published default or placeholder value; set a secret of your own (e.g. openssl rand -base64 48)';
  if (PLACEHOLDER.test(key)) return 'looks like a placeholder; set a secret of your own (e.g. openssl rand -base64 48)';
  if (key.length < 32) return 'must be at least 32 characters';
  return null;
}

const schema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TASK_QUEUE: z.string().min(1).default('cutover'),
  LEGACY_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/jm_legacy'),
  TARGET_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/jm_target'),
  RUNBOOK_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/jm_runbook'),
  /** 国产数据库方言: the target's dialect (lib/dialect.ts); checked against the server's version() before any target statement */
  TARGET_DIALECT: dialectSchema.default('postgresql'),
  /** 快照/回滚 strategy: auto = the dialect's default (template copy on PostgreSQL, undo log elsewhere) */
  TARGET_SNAPSHOT_STRATEGY: z.enum(['auto', ...SNAPSHOT_STRATEGIES]).default('auto'),
  /** the API's own connection, as the role that may only append to the audit trail (lib/runbook-db.ts APP_ROLE); empty = RUNBOOK_DATABASE_URL as that role */
  RUNBOOK_APP_DATABASE_URL: z.union([z.literal(''), z.string().url()]).default(''),
  MAPPING_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'mapping.json')),
  /**
   * the schema of the legacy tables the mapping names without one (a mapping may also write schema.table);
   * empty: the legacy session's search_path. For an Oracle legacy database it is ORACLE_SCHEMA's default.
   */
  LEGACY_SCHEMA: z.union([z.literal(''), z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier (a schema name)')]).default(''),
  BACKUP_DIR: z.string().min(1).default(path.join(repoRoot, '.data', 'backups')),
  /** 项目实施进度安排: the project plan, and what its automated checks probe */
  PLAN_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'plan.json')),
  NETWORK_FLOWS_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'network-flows.json')),
  CONNECTED_SYSTEMS_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'connected-systems.json')),
  /** 应用服务控制: service stop/start actions and legacy smoke tests (environment/services.ts) */
  SERVICES_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'services.json')),
  /** 内存数据库: the in-memory database's address, owned key prefixes and warm-up list (environment/memory-db.ts) */
  MEMORY_DB_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'memory-db.json')),
  /** 查询库 where the legacy backup is restored read-only for staff to query (问题分析和追溯); recreated only if it is this run's archive */
  ARCHIVE_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/jm_legacy_archive'),
  /** where plan reminders and escalations go: a webhook (POST JSON) or, when empty, the worker's log */
  NOTIFY_WEBHOOK_URL: z.union([z.literal(''), z.string().url()]).default(''),
  REPORTS_DIR: z.string().min(1).default(path.join(repoRoot, '.data', 'reports')),
  /** 业务测试: base URL of the new system's business interface (变更/注销); empty = business tests not run */
  BUSINESS_API_URL: z.union([z.literal(''), z.string().url()]).default(''),
  /**
   * worker threads for the source side of verification segments (decode, cleanse, encode); 0 = the
   * activity's own thread. Off by default: on the 2-core reference machine they did not pay (bench:verify --threads).
   */
  VERIFY_SOURCE_THREADS: z.coerce.number().int().min(0).max(32).default(0),
  /** 数据汇聚及上报: the report specification, the provincial data center, the national outbox and receiver (empty = outbox only) */
  REPORT_SPEC_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'reporting', 'registry.json')),
  REPORT_PROVINCE_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/jm_province'),
  REPORT_OUTBOX_DIR: z.string().min(1).default(path.join(repoRoot, '.data', 'report-outbox')),
  REPORT_RECEIVER_URL: z.union([z.literal(''), z.string().url()]).default(''),
  /** 备点库 standby: its configuration file, the primary it copies, the standby and the off-site DR copy (standby/) */
  STANDBY_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'standby.json')),
  STANDBY_PRIMARY_URL: z.string().url().default('postgres://postgres@127.0.0.1:25432/jm_target'),
  STANDBY_URL: z.string().url().default('postgres://postgres@127.0.0.1:25433/jm_target'),
  STANDBY_DR_URL: z.string().url().default('postgres://postgres@127.0.0.1:25434/jm_target'),
  /** where scripts/pg-standby.sh keeps the replicas on this machine; empty = managed elsewhere (setup only attaches, no drill restore here) */
  STANDBY_DIR: z.string().default(path.join(repoRoot, '.data', 'replicas')),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** shared by the API (signs gate decisions) and the worker (checks them); see lib/decision-signing.ts and signingKeyProblem */
  APPROVAL_SIGNING_KEY: z.string().default(''),
  /** key rotation: previous keys (comma-separated) the worker still accepts for decisions signed before the switch */
  APPROVAL_SIGNING_KEYS_PREVIOUS: z.string().default(''),
  /** "1" on a development machine only: allows the repository's development signing key */
  RUNBOOK_DEV_MODE: z.enum(['', '0', '1']).default(''),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * mTLS to the Temporal frontend (deploy/README.md): PEM files. A client certificate and key come as a pair; a CA
   * alone means server-verified TLS; none of them means plaintext (the frontend bound to a private network only).
   */
  TEMPORAL_TLS_CA_FILE: z.string().default(''),
  TEMPORAL_TLS_CERT_FILE: z.string().default(''),
  TEMPORAL_TLS_KEY_FILE: z.string().default(''),
  TEMPORAL_TLS_SERVER_NAME: z.string().default(''),
  /** worker: the workflows bundled at build (dist/scripts/bundle-workflows.js); empty = bundle at start (development) */
  WORKFLOW_BUNDLE: z.string().default(''),
  /** worker: how long running activities (a chunk of the copy) may finish after SIGTERM; the stop timeout must exceed it */
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(0),
  /** worker: a file touched every 10 s while it polls, for a container healthcheck; empty = none */
  WORKER_HEALTH_FILE: z.string().default(''),
});

export type Settings = z.infer<typeof schema>;

/**
 * Secrets by file (Docker/compose secrets, systemd credentials): any setting X may come from the file named by X_FILE,
 * its trailing newline dropped, so a password never sits in the environment or a unit file. Both at once is refused.
 */
function withSecretFiles(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; problems: string[] } {
  const out: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  for (const key of Object.keys(schema.shape)) {
    const file = env[`${key}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[key] !== undefined) {
      problems.push(`${key}: set both ${key} and ${key}_FILE; keep one`);
      continue;
    }
    try {
      out[key] = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${key}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return { env: out, problems };
}

/**
 * The process settings, validated (the JSON path of each problem). The signing key is required unless
 * RUNBOOK_DEV_MODE=1; `signing: false` for tools that never sign nor check a decision (token issuing, seeding, registering a
 * target): they run without the key.
 */
export function loadSettings(rawEnv: NodeJS.ProcessEnv = process.env, opts: { signing?: boolean } = {}): Settings {
  const { env, problems: fileProblems } = withSecretFiles(rawEnv);
  const parsed = schema.safeParse(env);
  if (!parsed.success || fileProblems.length) {
    const problems = [...fileProblems, ...(parsed.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`)].join('; ');
    throw new Error(`invalid environment settings — ${problems}`);
  }
  if (!parsed.data.TEMPORAL_TLS_CERT_FILE !== !parsed.data.TEMPORAL_TLS_KEY_FILE) {
    throw new Error('invalid environment settings — TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE: set both (the client certificate and its key) or neither');
  }
  if (parsed.data.TARGET_SNAPSHOT_STRATEGY === 'template' && !supports(parsed.data.TARGET_DIALECT, 'copyDatabase')) {
    throw new Error(
      `invalid environment settings — TARGET_SNAPSHOT_STRATEGY: "template" needs CREATE DATABASE … TEMPLATE <database>, which the ${parsed.data.TARGET_DIALECT} dialect does not have (template0 only): use "undo-log" or "auto"`,
    );
  }
  const settings = parsed.data;
  if (opts.signing === false) return settings;
  const devMode = settings.RUNBOOK_DEV_MODE === '1';
  if (!settings.APPROVAL_SIGNING_KEY) {
    if (!devMode) throw new Error('invalid environment settings — APPROVAL_SIGNING_KEY: required (a secret of your own; RUNBOOK_DEV_MODE=1 allows the development key on a development machine)');
    settings.APPROVAL_SIGNING_KEY = DEV_SIGNING_KEY;
  }
  const problems = [settings.APPROVAL_SIGNING_KEY, ...previousSigningKeys(settings)].map((k, i) => [i, signingKeyProblem(k, devMode)] as const).filter(([, p]) => p);
  if (problems.length) {
    throw new Error(`invalid environment settings — ${problems.map(([i, p]) => (i === 0 ? `APPROVAL_SIGNING_KEY: ${p}` : `APPROVAL_SIGNING_KEYS_PREVIOUS[${i - 1}]: ${p}`)).join('; ')}`);
  }
  return settings;
}

/** The keys a worker accepts: the current one first, then the previous ones of a rotation. */
export function previousSigningKeys(settings: Pick<Settings, 'APPROVAL_SIGNING_KEYS_PREVIOUS'>): string[] {
  return settings.APPROVAL_SIGNING_KEYS_PREVIOUS.split(',').map((k) => k.trim()).filter(Boolean);
}

/** A connection string with its password replaced, for logs and reports. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

/** The snapshot strategy a run uses: the configured one, or the dialect's default. */
export function snapshotStrategy(s: Pick<Settings, 'TARGET_DIALECT' | 'TARGET_SNAPSHOT_STRATEGY'>): 'template' | 'undo-log' {
  return s.TARGET_SNAPSHOT_STRATEGY === 'auto' ? DEFAULT_SNAPSHOT[s.TARGET_DIALECT] : s.TARGET_SNAPSHOT_STRATEGY;
}
