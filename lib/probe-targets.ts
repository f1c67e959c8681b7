import { z } from 'zod';
import { ConfigError, readConfigFile } from './config-file';

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
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export type NetworkFlows = z.infer<typeof flowsSchema>;
export type NetworkFlow = NetworkFlows['flows'][number];
export type ConnectedSystems = z.infer<typeof systemsSchema>;
export type ConnectedSystem = ConnectedSystems['systems'][number];

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
