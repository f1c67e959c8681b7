import { approvalActivities } from './approvals';
import { backupActivities } from './backup';
import type { ActivityDeps } from './deps';
import { jointTestActivities } from './joint-test';
import { migrateActivities } from './migrate';
import { networkCheckActivities } from './network-check';
import { notifyActivities } from './notify';
import { planDefinitionActivities } from './plan-definition';
import { statusReportActivities } from './status-report';
import { verificationActivities } from './verification';

export type { ActivityDeps } from './deps';

/** All activities of the runbook, bound to one worker's settings and mapping. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...approvalActivities(deps),
    ...backupActivities(deps),
    ...migrateActivities(deps),
    ...verificationActivities(deps),
    ...planDefinitionActivities(deps),
    ...networkCheckActivities(deps),
    ...jointTestActivities(deps),
    ...notifyActivities(deps),
    ...statusReportActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
