/** `--name N` from the command line, a whole number ≥ min (the benchmarks' flags). */
export function flag(name: string, fallback: number, min = 1): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} expects a whole number ≥ ${min}, got "${process.argv[i + 1]}"`);
  return v;
}
