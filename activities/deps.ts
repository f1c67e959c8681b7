import type { Logger } from 'pino';
import type { Settings } from '../lib/settings';
import type { Mapping } from '../migration/mapping';

/** What every activity needs, built once per worker process (worker/main.ts). */
export interface ActivityDeps {
  settings: Settings;
  mapping: Mapping;
  logger: Logger;
}
