import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CorrectionProblem, CorrectionSheet } from '../migration/corrections';
import type { DataQualityFilter, DataQualityRow } from '../migration/data-quality';

const check = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', maximumInterval: '10 seconds', maximumAttempts: 5 },
  summary: '整改校验 Check a corrections sheet against the mapping and the held rows',
});

/**
 * 整改校验 The API asks the worker (which holds the mapping and reaches the target) whether a corrections
 * sheet would pass the migration's rules, before it stores the sheet. Changes nothing.
 */
export async function remediationCheck(input: { sheet: CorrectionSheet }): Promise<{ problems: CorrectionProblem[]; rows: number }> {
  return check.checkCorrections(input);
}

/** 问题数据清单 The API asks the worker for the held rows and data-quality issues (it reaches the target; the API does not). Reads only. */
export async function remediationHeld(input: { filter: DataQualityFilter; limit: number }): Promise<DataQualityRow[]> {
  return check.listDataQuality(input);
}
