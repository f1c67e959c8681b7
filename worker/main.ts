import fs from 'node:fs';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createLogger } from '../lib/logger';
import { loadPlanDefinition } from '../plan/definition';
import { loadConnectedSystems, loadNetworkFlows } from '../environment/probe-targets';
import { loadServices } from '../environment/services';
import { loadMemoryDb } from '../environment/memory-db';
import { loadStandbyConfig } from '../standby/config';
import { loadSettings } from '../lib/settings';
import { temporalConnectionOptions } from '../lib/temporal-connection';
import { legacyMappingSchema, openLegacySource } from '../migration/legacy-source';
import { loadMappingFrom } from '../migration/mapping';
import { sdkLoggerFromPino } from './temporal-logger';

/**
 * The worker process: runs the runbook's workflows and activities on the task queue.
 * Configured by environment (lib/settings.ts); the mapping is validated before it polls for work,
 * as are the project plan and the checks' targets, so a bad file stops the worker instead of failing
 * the first migration hours later.
 */
async function main(): Promise<void> {
  const settings = loadSettings();
  const logger = createLogger('worker', settings.LOG_LEVEL);
  Runtime.install({ logger: sdkLoggerFromPino(logger.child({ component: 'temporal-sdk' })) });
  const legacySource = openLegacySource(settings.LEGACY_DATABASE_URL, settings.LEGACY_SCHEMA);
  // Code tables kept in the legacy database are read once, before the worker takes any work.
  const mapping = await loadMappingFrom(settings.MAPPING_FILE, legacySource, { legacySchema: legacyMappingSchema(settings.LEGACY_DATABASE_URL, settings.LEGACY_SCHEMA) });
  const project = {
    plan: loadPlanDefinition(settings.PLAN_FILE),
    flows: loadNetworkFlows(settings.NETWORK_FLOWS_FILE),
    systems: loadConnectedSystems(settings.CONNECTED_SYSTEMS_FILE),
  };
  const connection = await NativeConnection.connect(temporalConnectionOptions(settings));
  // Deployments bundle the workflows at build time (scripts/bundle-workflows.ts); development bundles at start.
  const bundle = settings.WORKFLOW_BUNDLE;
  if (bundle && !fs.existsSync(bundle)) throw new Error(`invalid environment settings — WORKFLOW_BUNDLE: ${bundle} does not exist (node dist/scripts/bundle-workflows.js makes it)`);
  const worker = await Worker.create({
    connection,
    namespace: settings.TEMPORAL_NAMESPACE,
    taskQueue: settings.TASK_QUEUE,
    ...(bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve('../workflows') }),
    // On SIGTERM, let running chunks finish (or heartbeat their place) before exiting; the container's or unit's
    // stop timeout must be longer (docker-compose.yml stop_grace_period, deploy/systemd TimeoutStopSec).
    shutdownGraceTime: settings.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
    activities: createActivities({ settings, mapping, logger, legacySource, project, services: loadServices(settings.SERVICES_FILE), memoryDb: loadMemoryDb(settings.MEMORY_DB_FILE), standby: loadStandbyConfig(settings.STANDBY_FILE) }),
    // Two cores here: a couple of concurrent copies keep both busy without thrashing the databases.
    maxConcurrentActivityTaskExecutions: Number(process.env.WORKER_MAX_ACTIVITIES ?? 4),
  });
  logger.info(
    { taskQueue: settings.TASK_QUEUE, temporal: settings.TEMPORAL_ADDRESS, tables: mapping.tables.map((t) => t.name) },
    'worker ready 工作进程就绪',
  );
  // Liveness for a container healthcheck: the file is touched while the worker is running (WORKER_HEALTH_FILE).
  const healthFile = settings.WORKER_HEALTH_FILE;
  let healthWarned = false;
  const touch = () => {
    if (worker.getState() !== 'RUNNING' && worker.getState() !== 'INITIALIZED') return;
    try {
      fs.writeFileSync(healthFile, `${new Date().toISOString()}\n`);
    } catch (err) {
      // A healthcheck that cannot be written must not stop the work: the container reads as unhealthy instead.
      if (!healthWarned) logger.warn({ err, healthFile }, 'cannot write the worker health file');
      healthWarned = true;
    }
  };
  if (healthFile) touch();
  const alive = healthFile ? setInterval(touch, 10_000) : undefined;
  await worker.run();
  if (alive) clearInterval(alive);
  await legacySource.close();
  await connection.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
