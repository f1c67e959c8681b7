import { activityInfo, ApplicationFailure, Context } from '@temporalio/activity';
import { withTarget } from '../lib/statement-audit';
import { ChunkResult, copyChunk } from '../migration/chunk-copy';
import { findTable, LoadStep, loadSteps } from '../migration/mapping';
import type { Chunk } from '../migration/source';
import { ensureTargetSchema } from '../migration/target-schema';
import { countTable, TableCountCheck } from '../verification/counts';
import type { ActivityDeps } from './deps';
import { whileBeating } from './heartbeat';
import { applyApprovedCorrections } from './remediation';
import { runReadPoint } from './read-point';
import { configErrorFromSql } from './preflight';

/** 上线步骤3 正式迁移: the engine's activities — plan a table into chunks, copy one chunk. */
export interface TablePlan {
  table: string;
  chunks: Chunk[];
  readPoint: string | null;
}

/** 迁移对账 A table's migration as the target holds it, reconciled with the source and the chunk ledger. */
export interface TableReconciliation extends TableCountCheck {
  /** rows the chunks reported loaded (their sum), which the target's own count must equal (with the corrected ones) */
  chunksLoaded: number;
  /** 整改沿用 rows held again that approved corrections of earlier rehearsals brought in */
  corrected?: number;
}

export function migrateActivities(deps: ActivityDeps) {
  const source = deps.legacySource;

  return {
    /** 迁移计划: the mapped tables in the seed's load order (entities, history, approvals), each with the tables it waits for. */
    async listTables(): Promise<LoadStep[]> {
      return loadSteps(deps.mapping);
    },

    /** runId: the table is planned and read at the run's one read point (read-point.ts); without it, at its own. */
    async planTable(input: { table: string; rowsPerChunk: number; runId?: string }): Promise<TablePlan> {
      const table = findTable(deps.mapping, input.table);
      return whileBeating(async () => {
        await withTarget(deps.settings, (target) => ensureTargetSchema(target, deps.mapping));
        const readPoint = input.runId ? (await runReadPoint(deps, input.runId)).readPoint : await source.readPoint();
        const chunks = await source.planChunks(table, input.rowsPerChunk, readPoint);
        return { table: table.name, chunks, readPoint };
      }).catch((err) => Promise.reject(configErrorFromSql(err)));
    },

    async copyChunk(input: { runId: string; table: string; chunk: Chunk; readPoint: string | null }): Promise<ChunkResult> {
      const table = findTable(deps.mapping, input.table);
      const result = await withTarget(deps.settings, (target) =>
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
      if (result.orphanReadFallback) deps.logger.warn({ runId: input.runId, table: result.table, chunkId: result.chunkId, reason: result.orphanReadFallback }, "orphans' legacy rows read by reading the chunk again");
      return result;
    },

    /**
     * 迁移对账 After a table's last chunk, before the step may say done: the rows the target holds — as the
     * target itself reported storing them, chunk by chunk in the transaction that committed them (the
     * counts of its COPY commands, less the orphans taken out: `chunksStored`), not the engine's own tally
     * of what it sent — source = loaded + quarantined (counted in the target's quarantine), no quarantined
     * key loaded, and the target's count equal to what the chunks sent. A mismatch is not transient: the
     * step fails, naming the table and the numbers, and the operator decides. The table is counted whole
     * here only when a chunk's count is missing (a result from an older worker) or it is a union member;
     * otherwise the whole-table count is the verify step's (记录数核对), which also finds a row taken out by
     * someone else after its chunk committed. (Reading every freshly loaded page again here cost the
     * step more than a tenth of its time: bench:migrate.) Loaded orphans are the chunks' own check.
     */
    async reconcileTable(input: { table: string; readPoint: string | null; chunksLoaded: number; chunksStored?: number }): Promise<TableReconciliation> {
      const table = findTable(deps.mapping, input.table);
      const corrected = await whileBeating(() => applyApprovedCorrections(deps, table.name, activityInfo().workflowExecution!.workflowId));
      const loaded = input.chunksStored === undefined ? {} : { loaded: input.chunksStored + corrected };
      const check = await whileBeating(() => withTarget(deps.settings, (target) => countTable(source, input.readPoint, target, table, undefined, loaded)));
      const problems = [...check.problems];
      const expected = input.chunksLoaded + corrected;
      if (check.loaded !== expected) problems.push(`the target holds ${check.loaded} rows but its chunks reported ${input.chunksLoaded} loaded${corrected ? ` and ${corrected} were corrected` : ''} (difference ${check.loaded - expected})`);
      const result = { ...check, chunksLoaded: input.chunksLoaded, ...(corrected ? { corrected } : {}), ok: problems.length === 0, problems };
      if (!result.ok) {
        throw ApplicationFailure.nonRetryable(`迁移对账失败 migration of ${table.name} does not reconcile: ${problems.join('; ')}`, 'MigrationReconciliation', result);
      }
      return result;
    },
  };
}
