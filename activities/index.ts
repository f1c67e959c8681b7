import { approvalActivities } from './approvals';
import { backupActivities } from './backup';
import type { ActivityDeps } from './deps';
import { migrateActivities } from './migrate';
import { verifyActivities } from './verify';

export type { ActivityDeps } from './deps';

/** All activities of the runbook, bound to one worker's settings and mapping. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...approvalActivities(deps),
    ...backupActivities(deps),
    ...migrateActivities(deps),
    ...verifyActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
