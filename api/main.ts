import { Client, Connection } from '@temporalio/client';
import { ensureDatabase, resilientPool, withClient } from '../lib/db';
import { appRoleUrl, ensureRunbookSchema } from '../lib/runbook-db';
import { loadSettings } from '../lib/settings';
import { temporalConnectionOptions } from '../lib/temporal-connection';
import { buildApp } from './app';

/** The API process: HTTP on API_HOST:API_PORT, talking to Temporal and the runbook database. */
async function main(): Promise<void> {
  const settings = loadSettings();
  await ensureDatabase(settings.RUNBOOK_DATABASE_URL);
  await withClient(settings.RUNBOOK_DATABASE_URL, ensureRunbookSchema);
  const connection = await Connection.connect(temporalConnectionOptions(settings));
  const temporal = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
  // A runbook-database session that drops (terminated, restarted) fails its request, never the process.
  let onPoolError: (err: Error, where: string) => void = (err, where) => console.error(`runbook database ${where}: ${err.message}`);
  // The API works as the application role: it may append to the audit trail, never rewrite it (lib/runbook-db.ts).
  const appUrl = settings.RUNBOOK_APP_DATABASE_URL || appRoleUrl(settings.RUNBOOK_DATABASE_URL);
  const pool = resilientPool({ connectionString: appUrl, max: 10 }, (err, where) => onPoolError(err, where));
  const app = await buildApp({
    temporal,
    pool,
    taskQueue: settings.TASK_QUEUE,
    uiBaseUrl: process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233',
    signingKey: settings.APPROVAL_SIGNING_KEY,
    reportsDir: settings.REPORTS_DIR,
    logLevel: settings.LOG_LEVEL,
  });
  onPoolError = (err, where) => app.log.warn({ err: err.message, where }, 'runbook database session lost 运行手册库连接断开');
  const close = async () => {
    await app.close();
    await pool.end();
    await connection.close();
    process.exit(0);
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
  const url = await app.listen({ host: settings.API_HOST, port: settings.API_PORT });
  // A fixed line to wait for (tests, scripts), with the real port when API_PORT=0 picked one.
  app.log.info({ url, docs: `${url}/docs` }, 'api ready 接口就绪');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
