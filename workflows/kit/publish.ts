import { upsertSearchAttributes } from '@temporalio/workflow';
import { RunbookKind, RunbookPhase, RunbookProgress, RunbookStatus } from '../search-attributes';

/**
 * 状态发布 What a run shows ops in the Temporal Web UI besides its current details: its kind, phase and status
 * (and a plan's % complete) as search attributes they filter by. One call, one UpsertWorkflowSearchAttributes
 * command, with the attributes always in this order — the same command every workflow wrote by hand before.
 */
export type RunKindName = 'cutover' | 'fallback' | 'plan' | 'standby' | 'verification' | 'reporting';

export function runAttributes(a: { kind: RunKindName; phase: string; status: string; progress?: number }): void {
  upsertSearchAttributes([
    { key: RunbookKind, value: a.kind },
    { key: RunbookPhase, value: a.phase },
    { key: RunbookStatus, value: a.status },
    ...(a.progress === undefined ? [] : [{ key: RunbookProgress, value: a.progress }]),
  ]);
}
