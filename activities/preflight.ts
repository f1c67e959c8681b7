import { ApplicationFailure } from '@temporalio/activity';
import { withClient } from '../lib/db';
import { formatPreflight, PreflightReport, runPreflight } from '../migration/preflight';
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
      deps.logger.info({ runId: input.runId, errors: report.errors, warnings: report.warnings.length }, 'preflight 预检');
      if (report.errors.length) throw ApplicationFailure.nonRetryable(formatPreflight(report), CONFIG_ERROR, report);
      return report;
    },
  };
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
