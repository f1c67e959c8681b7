import { activityInfo, Context } from '@temporalio/activity';
import { withClient } from '../lib/db';
import { ChunkResult, copyChunk } from '../migration/chunk-copy';
import { findTable, LoadStep, loadSteps } from '../migration/mapping';
import type { Chunk } from '../migration/source';
import { ensureTargetSchema } from '../migration/target-schema';
import type { ActivityDeps } from './deps';
import { whileBeating } from './heartbeat';
import { configErrorFromSql } from './preflight';

/** 上线步骤3 正式迁移: the engine's activities — plan a table into chunks, copy one chunk. */
export interface TablePlan {
  table: string;
  chunks: Chunk[];
  readPoint: string | null;
}

export function migrateActivities(deps: ActivityDeps) {
  const source = deps.legacySource;

  return {
    /** 迁移计划: the mapped tables in the seed's load order (entities, history, approvals), each with the tables it waits for. */
    async listTables(): Promise<LoadStep[]> {
      return loadSteps(deps.mapping);
    },

    async planTable(input: { table: string; rowsPerChunk: number }): Promise<TablePlan> {
      const table = findTable(deps.mapping, input.table);
      return whileBeating(async () => {
        await withClient(deps.settings.TARGET_DATABASE_URL, (target) => ensureTargetSchema(target, deps.mapping));
        const chunks = await source.planChunks(table, input.rowsPerChunk);
        return { table: table.name, chunks, readPoint: await source.readPoint() };
      }).catch((err) => Promise.reject(configErrorFromSql(err)));
    },

    async copyChunk(input: { runId: string; table: string; chunk: Chunk; readPoint: string | null }): Promise<ChunkResult> {
      const table = findTable(deps.mapping, input.table);
      const result = await withClient(deps.settings.TARGET_DATABASE_URL, (target) =>
        copyChunk({
          source,
          target,
          mapping: deps.mapping,
          table,
          chunk: input.chunk,
          runId: input.runId,
          readPoint: input.readPoint,
          attempt: activityInfo().attempt,
          onProgress: (rowsRead) => Context.current().heartbeat({ rowsRead }),
        }),
      ).catch((err) => Promise.reject(configErrorFromSql(err)));
      deps.logger.info({ runId: input.runId, ...result }, 'chunk migrated');
      return result;
    },
  };
}
