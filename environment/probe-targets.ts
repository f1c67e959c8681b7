import { z } from 'zod';
import { ConfigError, readConfigFile } from '../lib/config-file';

/**
 * What the plan's automated checks probe: the declared network flows (网络策略, host:port per
 * province or city side) and the connected systems (对接系统) with their legacy and new interface
 * addresses. Data files in config/, validated at load like the plan.
 */

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected a lower-case name (a-z, 0-9, -)');
const timeoutMs = z.number().int().min(100).max(60_000);
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'expected an http:// or https:// URL');

const flowsSchema = z
  .object({
    description: z.string().optional(),
    timeoutMs,
    flows: z
      .array(
        z
          .object({
            name,
            description: z.string().min(1),
            host: z.string().regex(/^[A-Za-z0-9.:[\]-]{1,253}$/, 'expected a host name or IP address'),
            port: z.number().int().min(1).max(65535),
            side: z.enum(['province', 'city']),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

/**
 * 切换驱动 The driver that moves a system between its legacy and new address: the proxy in front of
 * it (its upstream rewritten, nginx reloaded), or the system's own configuration API over HTTP.
 */
const switchSchema = z.discriminatedUnion('driver', [
  z
    .object({
      driver: z.literal('nginx'),
      /** the address the connected system calls, served by the proxy; its path is the proxy location */
      proxyBaseUrl: httpUrl,
    })
    .strict(),
  z
    .object({
      driver: z.literal('http-config'),
      /** GET returns {"baseUrl": …}; PUT {"baseUrl": …} changes it */
      configUrl: httpUrl,
    })
    .strict(),
]);

const systemsSchema = z
  .object({
    description: z.string().optional(),
    timeoutMs,
    systems: z
      .array(
        z
          .object({
            id: name,
            name: z.object({ zh: z.string().min(1), en: z.string().min(1) }).strict(),
            direction: z.enum(['inbound', 'outbound', 'both']),
            legacyBaseUrl: httpUrl,
            newBaseUrl: httpUrl,
            healthPath: z.string().regex(/^\/[^\s]*$/, 'expected a path starting with /'),
            /** 切换 how its address is switched; absent = switched by hand, outside the runbook */
            switch: switchSchema.optional(),
          })
          .strict(),
      )
      .min(1),
    /** the reverse proxy the nginx-driven systems go through (the seed's 代理服务器) */
    proxy: z
      .object({
        nginx: z
          .object({
            binary: z.string().min(1).default('nginx'),
            /** nginx -c: the main config, which includes upstreamDir/*.conf inside its server block */
            conf: z.string().min(1),
            /** nginx -p: the prefix (pid and logs live under it) */
            prefix: z.string().min(1),
            /** one file per system is rendered here, <id>.conf */
            upstreamDir: z.string().min(1),
          })
          .strict(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.systems.some((s) => s.switch?.driver === 'nginx') && !v.proxy?.nginx) {
      ctx.addIssue({ code: 'custom', path: ['proxy'], message: 'systems use the nginx driver but proxy.nginx is not configured' });
    }
  });

export type NetworkFlows = z.infer<typeof flowsSchema>;
export type NetworkFlow = NetworkFlows['flows'][number];
export type ConnectedSystems = z.infer<typeof systemsSchema>;
export type ConnectedSystem = ConnectedSystems['systems'][number];
export type SwitchConfig = NonNullable<ConnectedSystem['switch']>;
export type NginxConfig = NonNullable<NonNullable<ConnectedSystems['proxy']>['nginx']>;

export function loadNetworkFlows(file: string): NetworkFlows {
  const flows = readConfigFile(file, flowsSchema);
  const dup = duplicates(flows.flows.map((f) => f.name));
  if (dup.length) throw new ConfigError(file, dup.map((i) => `flows[${i}].name: "${flows.flows[i].name}" is declared twice`));
  return flows;
}

export function loadConnectedSystems(file: string): ConnectedSystems {
  const systems = readConfigFile(file, systemsSchema);
  const dup = duplicates(systems.systems.map((s) => s.id));
  if (dup.length) throw new ConfigError(file, dup.map((i) => `systems[${i}].id: "${systems.systems[i].id}" is declared twice`));
  return systems;
}

/** Indexes of entries whose key already appeared earlier. */
function duplicates(keys: string[]): number[] {
  return keys.flatMap((k, i) => (keys.indexOf(k) !== i ? [i] : []));
}
