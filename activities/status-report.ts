import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { renderStatusHtml, renderStatusMarkdown } from '../reports/plan-report';
import { chinaDay, PlanProgress } from '../workflows/plan-progress';
import type { ActivityDeps } from './deps';

/** 项目周报: writes the status report for the weekly meeting into REPORTS_DIR; same day, same file names. */
export function statusReportActivities(deps: ActivityDeps) {
  return {
    async writeStatusReport(input: { workflowId: string; progress: PlanProgress }): Promise<string[]> {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(input.workflowId)) {
        throw ApplicationFailure.nonRetryable(`workflow id "${input.workflowId}" cannot name a report folder`, 'BadWorkflowId');
      }
      const dir = path.join(deps.settings.REPORTS_DIR, input.workflowId);
      fs.mkdirSync(dir, { recursive: true });
      const base = path.join(dir, `status-${chinaDay(input.progress.asOf)}`);
      const files = [
        [`${base}.md`, renderStatusMarkdown(input.progress)],
        [`${base}.html`, renderStatusHtml(input.progress)],
      ];
      for (const [file, text] of files) {
        // Write then rename, so a reader never sees half a report.
        fs.writeFileSync(`${file}.partial`, text);
        fs.renameSync(`${file}.partial`, file);
      }
      return files.map(([file]) => file);
    },
  };
}
