import { withClient, ensureDatabase } from '../lib/db';
import { loadSettings, redactUrl } from '../lib/settings';
import { loadLegacyDataset } from '../datagen/legacy-generator';

/**
 * Loads the bundled demo dataset into the legacy database (LEGACY_DATABASE_URL).
 * Flags: --entities N (default 2000; about 13 rows each), --seed N, --anomaly-rate R (0..1, default 0.01).
 */
function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} expects a non-negative number, got "${process.argv[i + 1]}"`);
  return v;
}

async function main() {
  const settings = loadSettings(process.env, { signing: false }); // signs and checks no decision: needs no signing key
  const opts = { entities: flag('entities', 2000), seed: flag('seed', 20261125), anomalyRate: flag('anomaly-rate', 0.01) };
  if (opts.anomalyRate > 1) throw new Error('--anomaly-rate expects a share between 0 and 1');
  await ensureDatabase(settings.LEGACY_DATABASE_URL);
  const stats = await withClient(settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, opts));
  console.log(`旧库 legacy dataset loaded into ${redactUrl(settings.LEGACY_DATABASE_URL)}:`);
  for (const [table, t] of Object.entries(stats)) console.log(`  ${table.padEnd(20)} ${String(t.rows).padStart(9)} rows, must quarantine ${JSON.stringify(t.expectedQuarantine)}, load flagged ${JSON.stringify(t.expectedFlagged)} (default policies)`);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
