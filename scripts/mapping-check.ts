import { parseArgs } from 'node:util';
import { ConfigError } from '../lib/config-file';
import { withClient } from '../lib/db';
import { loadSettings } from '../lib/settings';
import { openLegacySource } from '../migration/legacy-source';
import { loadMappingFrom } from '../migration/mapping';
import { formatPreflight, runPreflight } from '../migration/preflight';

/**
 * 预检 npm run mapping:check [-- --mapping FILE] [--json]: the mapping validated (strictly, every problem
 * with its JSON path) and checked against the live legacy and target catalogs — the same check the
 * cutover runs as its first step — so a misspelt column is found at the desk, not on the weekend.
 * Exit 0: no problem (warnings may be printed); 1: problems found; 2: the mapping does not load.
 * Reads only; writes nothing anywhere.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { mapping: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const settings = loadSettings(process.env, { signing: false }); // checks the mapping only: no decision to sign
  const file = values.mapping ?? settings.MAPPING_FILE;
  const source = openLegacySource(settings.LEGACY_DATABASE_URL);
  try {
    const mapping = await loadMappingFrom(file, source);
    const report = await withClient(settings.TARGET_DATABASE_URL, (target) => runPreflight({ mapping, source, target }));
    process.stdout.write((values.json ? JSON.stringify(report, null, 2) : `${file}\n${formatPreflight(report)}`) + '\n');
    return report.errors.length ? 1 : 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stdout.write(`${values.json ? JSON.stringify({ errors: [{ where: file, problem: err.message }], warnings: [] }, null, 2) : err.message}\n`);
    return 2;
  } finally {
    await source.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`mapping:check: ${(err as Error).message}\n`);
    process.exit(3);
  },
);
