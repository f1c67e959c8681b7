import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';

/**
 * Integration tests need the real Temporal dev server and the real PostgreSQL. Start Temporal (the
 * script reuses a running one) and check PostgreSQL answers, so a missing service fails loudly here.
 */
export default async function globalSetup(): Promise<void> {
  execFileSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'temporal-dev.sh'), 'start'], { stdio: 'inherit' });
  const pg = new Client({ connectionString: process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  pg.on('error', () => undefined); // a dropped connection shows as the failed query below
  try {
    await pg.connect();
    await pg.query('SELECT 1');
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable for the tests (${(err as Error).message}); run scripts/pg-ensure.sh`);
  } finally {
    await pg.end().catch(() => undefined);
  }
}
