import { z } from 'zod';
import { ConfigError, readConfigFile } from '../lib/config-file';

/**
 * 应用服务控制 How the runbook stops and starts the application services and databases of each side
 * (new = 国产化 system, legacy = 非国产化 system), and the legacy smoke tests the fallback runs.
 * An action is either a command (argv, run without a shell) or an HTTP request; ops choose per service.
 */
const action = z.union([
  z.object({ command: z.array(z.string().min(1)).min(1), timeoutMs: z.number().int().min(100).max(600_000).default(60_000) }).strict(),
  z
    .object({
      http: z
        .object({
          method: z.enum(['GET', 'POST', 'PUT']).default('POST'),
          url: z.string().url().refine((u) => /^https?:\/\//.test(u), 'expected an http:// or https:// URL'),
        })
        .strict(),
      timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    })
    .strict(),
]);

/**
 * 旧库关停与只读 The legacy database as the cutover sees it once the legacy application is stopped:
 * the database roles the legacy application connects as (no session of theirs may remain after 关停,
 * and they lose their write privileges for 只可查询), how long the legacy tables must stay unchanged to
 * prove nothing writes, and how long the application's sessions may take to drain after its services stopped.
 */
const legacyDatabase = z
  .object({
    applicationRoles: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'expected a database role name')).default([]),
    quietSeconds: z.number().int().min(1).max(600).default(5),
    drainSeconds: z.number().int().min(0).max(600).default(30),
  })
  .strict();
export type LegacyDatabaseConfig = z.infer<typeof legacyDatabase>;

/** The legacy database settings with their defaults, whether or not the file declares them. */
export function legacyDatabaseOf(cfg: ServicesConfig): LegacyDatabaseConfig {
  return legacyDatabase.parse(cfg.legacyDatabase ?? {});
}

const schema = z
  .object({
    description: z.string().optional(),
    services: z.array(
      z
        .object({
          name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
          title: z.string().min(1),
          side: z.enum(['new', 'legacy']),
          kind: z.enum(['app', 'database']),
          stop: action,
          start: action,
        })
        .strict(),
    ),
    /**
     * 旧库关停与只读 The legacy database as the cutover sees it once the legacy application is stopped:
     * the database roles the legacy application connects as (no session of theirs may remain after
     * 关停), how long the legacy tables must stay unchanged to prove nothing writes, and how long the
     * application's sessions may take to drain after its services stopped.
     */
    legacyDatabase: legacyDatabase.optional(),
    /** 旧系统功能测试 HTTP checks of the legacy system's functions, run by fallback step 5 */
    legacySmokeTests: z.array(
      z
        .object({
          name: z.string().min(1),
          url: z.string().url(),
          expectStatus: z.number().int().min(100).max(599).default(200),
          /** a text the answer's body must contain */
          expectText: z.string().optional(),
        })
        .strict(),
    ),
  })
  .strict();

export type ServicesConfig = z.infer<typeof schema>;
export type ServiceAction = z.infer<typeof action>;

export function loadServices(file: string): ServicesConfig {
  const cfg = readConfigFile(file, schema);
  const names = cfg.services.map((s) => s.name);
  const dup = names.filter((n, i) => names.indexOf(n) !== i);
  if (dup.length) throw new ConfigError(file, dup.map((n) => `services: "${n}" is declared twice`));
  return cfg;
}
