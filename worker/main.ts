import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createLogger } from '../lib/logger';
import { loadPlanDefinition } from '../lib/plan-definition';
import { loadConnectedSystems, loadNetworkFlows } from '../lib/probe-targets';
import { loadServices } from '../lib/services';
import { loadMemoryDb } from '../lib/memory-db';
import { loadSettings } from '../lib/settings';
import { openLegacySource } from '../migration/legacy-source';
import { loadMapping } from '../migration/mapping';
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
  const mapping = loadMapping(settings.MAPPING_FILE);
  const legacySource = openLegacySource(settings.LEGACY_DATABASE_URL);
  const project = {
    plan: loadPlanDefinition(settings.PLAN_FILE),
    flows: loadNetworkFlows(settings.NETWORK_FLOWS_FILE),
    systems: loadConnectedSystems(settings.CONNECTED_SYSTEMS_FILE),
  };
  const connection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: settings.TEMPORAL_NAMESPACE,
    taskQueue: settings.TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities({ settings, mapping, logger, legacySource, project, services: loadServices(settings.SERVICES_FILE), memoryDb: loadMemoryDb(settings.MEMORY_DB_FILE) }),
    // Two cores here: a couple of concurrent copies keep both busy without thrashing the databases.
    maxConcurrentActivityTaskExecutions: Number(process.env.WORKER_MAX_ACTIVITIES ?? 4),
  });
  logger.info(
    { taskQueue: settings.TASK_QUEUE, temporal: settings.TEMPORAL_ADDRESS, tables: mapping.tables.map((t) => t.name) },
    'worker ready 工作进程就绪',
  );
  await worker.run();
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
