import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client } from 'pg';
import { createClient } from 'redis';

/**
 * Integration tests need the real Temporal dev server, the real PostgreSQL and the real Redis. `npm test`
 * sets them up first (scripts/test-setup.sh, its pretest); here Temporal is started when missing (the
 * script reuses a running one) and PostgreSQL and Redis must answer, so a missing service fails loudly here.
 * The workflows are bundled once for the run (as a deployment bundles them at build, scripts/bundle-workflows.ts),
 * and every worker the tests start loads that bundle (TEST_WORKFLOW_BUNDLE) instead of running webpack again.
 */
export default async function globalSetup(): Promise<void> {
  execFileSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'temporal-dev.sh'), 'start'], { stdio: 'inherit' });
  const pg = new Client({ connectionString: process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  pg.on('error', () => undefined); // a dropped connection shows as the failed query below
  try {
    await pg.connect();
    await pg.query('SELECT 1');
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable for the tests (${(err as Error).message}); run scripts/pg-ensure.sh`, { cause: err });
  } finally {
    await pg.end().catch(() => undefined);
  }
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = createClient({ url: redisUrl, socket: { connectTimeout: 3000, reconnectStrategy: false } });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not reachable for the tests at ${redisUrl} (${(err as Error).message}); run scripts/test-setup.sh (npm test does)`, { cause: err });
  } finally {
    if (redis.isOpen) await redis.quit().catch(() => undefined);
  }
  const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error };
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quiet as never });
  const bundle = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jm-test-workflows-')), 'workflow-bundle.js');
  fs.writeFileSync(bundle, code);
  process.env.TEST_WORKFLOW_BUNDLE = bundle;
}
