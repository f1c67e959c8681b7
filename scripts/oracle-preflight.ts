import { loadSettings } from '../lib/settings';
import { loadMapping } from '../migration/mapping';
import { describeOracleTarget, oracleOptionsFromEnv } from '../migration/oracle/config';
import { OracleSource } from '../migration/oracle/oracle-source';
import { formatPreflightReport } from '../migration/oracle/preflight';

/**
 * 预检 Oracle preflight from the command line, before the weekend: npm run oracle:preflight [-- rowsPerChunk].
 * The legacy Oracle from LEGACY_DATABASE_URL (oracle://…) or ORACLE_URL / ORACLE_* settings, the mapping
 * from MAPPING_FILE. Prints every problem with its action; exits 1 when there is any, 2 on bad settings.
 */
async function main(): Promise<number> {
  const settings = loadSettings(process.env, { signing: false }); // checks the mapping only: no decision to sign
  const env = { ...process.env };
  if (!env.ORACLE_URL && !env.ORACLE_CONNECT_STRING && settings.LEGACY_DATABASE_URL.startsWith('oracle:')) env.ORACLE_URL = settings.LEGACY_DATABASE_URL;
  const options = oracleOptionsFromEnv(env);
  if (!options) {
    process.stderr.write('no Oracle legacy configured: set LEGACY_DATABASE_URL=oracle://… or ORACLE_URL\n');
    return 2;
  }
  const rowsPerChunk = process.argv[2] ? Number(process.argv[2]) : 100_000;
  if (!Number.isInteger(rowsPerChunk) || rowsPerChunk < 1) {
    process.stderr.write(`rowsPerChunk must be a positive integer, got "${process.argv[2]}"\n`);
    return 2;
  }
  const mapping = loadMapping(settings.MAPPING_FILE);
  const source = new OracleSource(options);
  try {
    const problems = await source.preflight(mapping, rowsPerChunk);
    process.stdout.write(formatPreflightReport(describeOracleTarget(options), problems));
    return problems.length ? 1 : 0;
  } finally {
    await source.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  },
);
