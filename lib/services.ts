import { z } from 'zod';
import { ConfigError, readConfigFile } from './config-file';

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
