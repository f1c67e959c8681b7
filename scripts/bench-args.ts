/** Command-line flags and number formatting shared by the benchmark scripts. */
export function flag(name: string, fallback: number, min = 1): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} expects a whole number ≥ ${min}, got "${process.argv[i + 1]}"`);
  return v;
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
