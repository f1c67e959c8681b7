import type { Logger } from 'pino';
import type { Settings } from '../lib/settings';
import type { Mapping } from '../migration/mapping';
import type { SourceAdapter } from '../migration/source';

/** What every activity needs, built once per worker process (worker/main.ts). */
export interface ActivityDeps {
  settings: Settings;
  mapping: Mapping;
  logger: Logger;
  /** the legacy database the engine reads (migration/legacy-source.ts) */
  legacySource: SourceAdapter;
}
