import { Context } from '@temporalio/activity';
import { withClient } from '../lib/db';
import { copyChunk, ChunkResult } from '../migration/copy-table';
import { findTable } from '../migration/mapping';
import { ensureTargetSchema } from '../migration/target-schema';
import type { ActivityDeps } from './deps';

/** 上线步骤3 正式迁移: one table through the engine, heartbeating its progress so a stuck copy is noticed. */
export function migrateActivities(deps: ActivityDeps) {
  return {
    /** 迁移计划: the mapped tables in the seed's load order (entities, history, approvals). */
    async listTables(): Promise<string[]> {
      return deps.mapping.tables.map((t) => t.name);
    },

    async migrateTable(input: { runId: string; table: string }): Promise<ChunkResult> {
      const table = findTable(deps.mapping, input.table);
      const { LEGACY_DATABASE_URL, TARGET_DATABASE_URL } = deps.settings;
      const result = await withClient(LEGACY_DATABASE_URL, (source) =>
        withClient(TARGET_DATABASE_URL, async (target) => {
          await ensureTargetSchema(target, deps.mapping);
          return copyChunk({
            source,
            target,
            mapping: deps.mapping,
            table,
            chunk: { id: 'all', keyFrom: null, keyTo: null },
            runId: input.runId,
            onProgress: (rowsRead) => Context.current().heartbeat({ rowsRead }),
          });
        }),
      );
      deps.logger.info({ runId: input.runId, ...result }, 'table migrated');
      return result;
    },
  };
}
