import { z } from 'zod';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Process settings come from the environment, validated once at start-up so that a typo in a
 * variable fails the process with the variable's name instead of surfacing later as a stack trace.
 * Connection strings live only here and in activity code: they are never passed to workflows,
 * so they never reach workflow history.
 */
/** The checkout (or the image's /app): compiled code runs from dist/ and still reads config/ and writes .data/ beside it. */
const above = path.resolve(__dirname, '..');
export const repoRoot = path.basename(above) === 'dist' ? path.dirname(above) : above;

/** Development and test only: a production process refuses to start with it (see loadSettings). */
const DEV_SIGNING_KEY = 'dev-only-approval-signing-key-not-for-production';

const schema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TASK_QUEUE: z.string().min(1).default('cutover'),
  LEGACY_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/jm_legacy'),
  TARGET_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/jm_target'),
  RUNBOOK_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/jm_runbook'),
  MAPPING_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'mapping.json')),
  BACKUP_DIR: z.string().min(1).default(path.join(repoRoot, '.data', 'backups')),
  /** 项目实施进度安排: the project plan, and what its automated checks probe */
  PLAN_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'plan.json')),
  NETWORK_FLOWS_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'network-flows.json')),
  CONNECTED_SYSTEMS_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'connected-systems.json')),
  /** 应用服务控制: service stop/start actions and legacy smoke tests (lib/services.ts) */
  SERVICES_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'services.json')),
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
  /** 备点库 standby: its configuration file, the primary it copies, the standby and the off-site DR copy (standby/) */
  STANDBY_FILE: z.string().min(1).default(path.join(repoRoot, 'config', 'standby.json')),
  STANDBY_PRIMARY_URL: z.string().url().default('postgres://postgres@127.0.0.1:55432/jm_target'),
  STANDBY_URL: z.string().url().default('postgres://postgres@127.0.0.1:55433/jm_target'),
  STANDBY_DR_URL: z.string().url().default('postgres://postgres@127.0.0.1:55434/jm_target'),
  /** where scripts/pg-standby.sh keeps the replicas on this machine; empty = managed elsewhere (setup only attaches, no drill restore here) */
  STANDBY_DIR: z.string().default(path.join(repoRoot, '.data', 'replicas')),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** shared by the API (signs gate decisions) and the worker (checks them); see lib/decision-signing.ts */
  APPROVAL_SIGNING_KEY: z.string().min(32, 'must be at least 32 characters').default(DEV_SIGNING_KEY),
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

export function loadSettings(rawEnv: NodeJS.ProcessEnv = process.env): Settings {
  const { env, problems: fileProblems } = withSecretFiles(rawEnv);
  const parsed = schema.safeParse(env);
  if (!parsed.success || fileProblems.length) {
    const problems = [...fileProblems, ...(parsed.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`)].join('; ');
    throw new Error(`invalid environment settings — ${problems}`);
  }
  if (!parsed.data.TEMPORAL_TLS_CERT_FILE !== !parsed.data.TEMPORAL_TLS_KEY_FILE) {
    throw new Error('invalid environment settings — TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE: set both (the client certificate and its key) or neither');
  }
  if (env.NODE_ENV === 'production' && parsed.data.APPROVAL_SIGNING_KEY === DEV_SIGNING_KEY) {
    throw new Error('invalid environment settings — APPROVAL_SIGNING_KEY: must be set to a secret of your own in production');
  }
  return parsed.data;
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
