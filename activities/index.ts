import { approvalActivities } from './approvals';
import { backupActivities } from './backup';
import type { ActivityDeps } from './deps';
import { endpointActivities } from './endpoints';
import { jointTestActivities } from './joint-test';
import { legacyCheckActivities } from './legacy-check';
import { legacyArchiveActivities } from './legacy-archive';
import { legacyLockActivities } from './legacy-lock';
import { memoryDbActivities } from './memory-db';
import { migrateActivities } from './migrate';
import { networkCheckActivities } from './network-check';
import { notifyActivities } from './notify';
import { planDefinitionActivities } from './plan-definition';
import { preflightActivities } from './preflight';
import { remediationActivities } from './remediation';
import { reportActivities } from './reports';
import { reportingActivities } from './reporting';
import { serviceActivities } from './services';
import { standbyActivities } from './standby';
import { statusReportActivities } from './status-report';
import { verificationActivities } from './verification';
import { targetActivities } from './target';
import { targetLeaseActivities } from './target-lease';

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
    ...endpointActivities(deps),
    ...targetActivities(deps),
    ...targetLeaseActivities(deps),
    ...legacyCheckActivities(deps),
    ...preflightActivities(deps),
    ...legacyLockActivities(deps),
    ...legacyArchiveActivities(deps),
    ...memoryDbActivities(deps),
    ...serviceActivities(deps),
    ...reportActivities(deps),
    ...remediationActivities(deps),
    ...reportingActivities(deps),
    ...standbyActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
