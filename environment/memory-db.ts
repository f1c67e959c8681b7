import { z } from 'zod';
import { ConfigError, readConfigFile } from '../lib/config-file';

/**
 * 内存数据库 The in-memory database (Redis) beside the domestic database: where it is, which key prefixes
 * the new system's application owns (the only keys the runbook ever deletes: SCAN + UNLINK per prefix,
 * never FLUSHALL/FLUSHDB on a shared server), and the warm-up list read from the target before the switch
 * (the code tables and the most-read entities), one Redis hash per row.
 */
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier');
/** A prefix is matched with SCAN MATCH <prefix>*: glob characters and spaces are refused, and it must end in ':' so "app:" never matches "app2:". */
const prefix = z.string().regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*:$/, 'expected a key prefix such as "scztj:" (letters, digits, _ . -, segments ending in ":")');

const warmUp = z
  .object({
    name: z.string().min(1),
    /** a target table and its columns; the key is prefix + the key column's value */
    table: identifier,
    keyColumn: identifier,
    columns: z.array(identifier).min(1),
    keyPrefix: prefix,
    /** only rows whose column equals the value (e.g. { "regstate": "1" } for active entities) */
    filter: z.record(identifier, z.string()).default({}),
    /** the most-read rows first: an order column (descending when desc) and how many */
    orderBy: identifier.optional(),
    desc: z.boolean().default(false),
    limit: z.number().int().min(1).max(10_000_000).optional(),
    ttlSeconds: z.number().int().min(1).optional(),
  })
  .strict();

const schema = z
  .object({
    description: z.string().optional(),
    /** false: the site has no in-memory database; the cutover's cache steps are recorded as not applicable */
    enabled: z.boolean(),
    /** redis://host:port/db — no password here: it comes from MEMORY_DB_PASSWORD, never from a file */
    url: z
      .string()
      .url()
      .refine((u) => /^rediss?:\/\//.test(u), 'expected a redis:// or rediss:// URL')
      .refine((u) => !new URL(u).password, 'must not carry a password: set MEMORY_DB_PASSWORD instead'),
    prefixes: z.array(prefix).min(1),
    warmUp: z.array(warmUp).default([]),
    /** keys per SCAN / UNLINK round trip */
    batch: z.number().int().min(10).max(100_000).default(1000),
  })
  .strict();

export type MemoryDbConfig = z.infer<typeof schema>;
export type WarmUpItem = z.infer<typeof warmUp>;

export function loadMemoryDb(file: string): MemoryDbConfig {
  const cfg = readConfigFile(file, schema);
  const problems: string[] = [];
  cfg.warmUp.forEach((w, i) => {
    if (!cfg.prefixes.some((p) => w.keyPrefix.startsWith(p))) problems.push(`warmUp[${i}].keyPrefix: "${w.keyPrefix}" is under none of the prefixes the application owns (${cfg.prefixes.join(', ')})`);
    if (!w.columns.includes(w.keyColumn)) problems.push(`warmUp[${i}].columns: must include the keyColumn "${w.keyColumn}"`);
  });
  cfg.prefixes.forEach((p, i) => {
    const other = cfg.prefixes.findIndex((q, j) => j !== i && p.startsWith(q));
    if (other >= 0) problems.push(`prefixes[${i}]: "${p}" lies inside prefixes[${other}] "${cfg.prefixes[other]}"`);
  });
  if (problems.length) throw new ConfigError(file, problems);
  return cfg;
}
