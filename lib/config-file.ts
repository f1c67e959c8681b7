import fs from 'node:fs';
import type { z } from 'zod';

/**
 * Configuration is data (mapping, code tables, plan, connected systems): every file is read and
 * validated at load, and every problem is reported with the file and the JSON path where a person
 * finds it, so a bad file stops the process before it does anything.
 */
export class ConfigError extends Error {
  constructor(file: string, problems: string[]) {
    super(`invalid configuration ${file}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** `packages[2].items[0].dependsOn[1]`: the way a person finds the spot in the JSON file. */
export function jsonPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '') || '(root)';
}

/** Reads a JSON config file and validates it against a schema, naming every problem by its JSON path. */
export function readConfigFile<T>(file: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, [`cannot read JSON: ${(err as Error).message}`]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(file, parsed.error.issues.map((i) => `${jsonPath(i.path)}: ${i.message}`));
  return parsed.data;
}
