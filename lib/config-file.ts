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
  const parsed = schema.safeParse(raw, { error: unknownKeyMessage });
  if (!parsed.success) throw new ConfigError(file, configProblems(parsed.error.issues));
  return parsed.data;
}

/**
 * One line per problem. A misspelt property (`"requried": true`) must not load as if it were absent:
 * strict objects refuse it, and the line names the property's own JSON path and the nearest known one.
 */
export function configProblems(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k, n) => `${jsonPath([...i.path, k])}: unknown property${i.message.split('\n')[n] ?? ''}`)
      : [`${jsonPath(i.path)}: ${i.message}`],
  );
}

/** Per unknown key of a strict object, the "did you mean" part of its line (configProblems splits them). */
const unknownKeyMessage: z.core.$ZodErrorMap = (iss) => {
  if (iss.code !== 'unrecognized_keys') return undefined;
  const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape ?? {};
  const known = Object.keys(shape);
  return iss.keys
    .map((k) => {
      const near = didYouMean(k, known);
      return near ? ` — did you mean "${near}"? 是否应为 "${near}"` : known.length ? ` (known: ${known.join(', ')})` : '';
    })
    .join('\n');
};

/**
 * The known name nearest to a misspelt one (edit distance with transpositions, case ignored), or
 * undefined when none is near enough to be a slip of the keyboard.
 */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(w, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.min(3, Math.floor(word.length / 3))) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
