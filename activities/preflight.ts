import { ApplicationFailure } from '@temporalio/activity';
import { withClient } from '../lib/db';
import type { MemoryDbConfig } from '../environment/memory-db';
import { Mapping, targetColumns } from '../migration/mapping';
import { formatPreflight, PreflightReport, runPreflight } from '../migration/preflight';
import type { PreflightProblem } from '../migration/source';
import type { ActivityDeps } from './deps';
import { whileBeating } from './heartbeat';

/**
 * 预检 The cutover's first step: the mapping against the live legacy and target catalogs. Problems are
 * configuration errors — retrying cannot fix them — so they fail the step at once, non-retryable, with
 * every problem in the message the operator reads (API state, CLI, checklist).
 */
export const CONFIG_ERROR = 'ConfigError';

export function preflightActivities(deps: ActivityDeps) {
  return {
    async preflightMapping(input: { runId: string }): Promise<PreflightReport> {
      const report = await whileBeating(() =>
        withClient(deps.settings.TARGET_DATABASE_URL, (target) => runPreflight({ mapping: deps.mapping, source: deps.legacySource, target })),
      );
      report.errors.push(...memoryDbWarmUpProblems(deps.mapping, deps.memoryDb));
      deps.logger.info({ runId: input.runId, errors: report.errors, warnings: report.warnings.length }, 'preflight 预检');
      if (report.errors.length) throw ApplicationFailure.nonRetryable(formatPreflight(report), CONFIG_ERROR, report);
      return report;
    },
  };
}

/**
 * The in-memory database's warm-up list (内存数据库预热) reads target tables the mapping creates: a table or
 * column it names that the mapping does not load is found here, before the migration, not after it.
 */
export function memoryDbWarmUpProblems(mapping: Mapping, memoryDb: MemoryDbConfig | undefined): PreflightProblem[] {
  if (!memoryDb?.enabled) return [];
  const problems: PreflightProblem[] = [];
  memoryDb.warmUp.forEach((w, i) => {
    const table = mapping.tables.find((t) => t.target.table === w.table);
    if (!table) {
      problems.push({ where: `memory-db warmUp[${i}].table`, problem: `"${w.table}" is no target table of the mapping (${mapping.tables.map((t) => t.target.table).join(', ')}) 预热表不在映射中`, action: 'fix MEMORY_DB_FILE\'s warm-up list' });
      return;
    }
    const columns = new Set(targetColumns(table).map((c) => c.target));
    const missing = [...new Set([...w.columns, w.keyColumn, ...(w.orderBy ? [w.orderBy] : []), ...Object.keys(w.filter ?? {})])].filter((c) => !columns.has(c));
    if (missing.length) problems.push({ where: `memory-db warmUp[${i}].columns`, problem: `${w.table} has no mapped column ${missing.join(', ')} 预热列不在映射中`, action: 'fix MEMORY_DB_FILE\'s warm-up list' });
  });
  return problems;
}

/**
 * A legacy or target statement the server refused as wrong (SQLSTATE class 42: no such table or column,
 * no such operator, no privilege) will be refused the same way on every retry: it fails at once as a
 * configuration error with the server's own words, instead of retrying for a quarter of an hour.
 */
export function configErrorFromSql(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^42[0-9A-Z]{3}$/.test(code)) return err;
  return ApplicationFailure.nonRetryable(`${(err as Error).message} (SQLSTATE ${code}); the mapping does not fit the database: run npm run mapping:check`, CONFIG_ERROR);
}
