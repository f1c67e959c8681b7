import type { Logger } from 'pino';
import type { MemoryDbConfig } from '../environment/memory-db';
import type { PlanDefinition } from '../plan/definition';
import type { ConnectedSystems, NetworkFlows } from '../environment/probe-targets';
import type { ServicesConfig } from '../environment/services';
import type { Settings } from '../lib/settings';
import type { Mapping } from '../migration/mapping';
import type { StandbyConfig } from '../standby/config';
import type { SourceAdapter } from '../migration/source';

/** What every activity needs, built once per worker process (worker/main.ts). */
export interface ActivityDeps {
  settings: Settings;
  mapping: Mapping;
  logger: Logger;
  /** the legacy database the engine reads (migration/legacy-source.ts) */
  legacySource: SourceAdapter;
  /** 项目实施进度安排: the plan and what its automated checks probe */
  project: { plan: PlanDefinition; flows: NetworkFlows; systems: ConnectedSystems };
  /** 应用服务控制: how each side's services stop and start, and the legacy smoke tests */
  services: ServicesConfig;
  /** 内存数据库: the new system's Redis (environment/memory-db.ts); absent or enabled: false = none at this site */
  memoryDb?: MemoryDbConfig;
  /** 备点库: config/standby.json, loaded and validated at worker start (else on first use) */
  standby?: StandbyConfig;
}
