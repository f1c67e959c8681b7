import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
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

/** What a run shows at a moment: its search attributes' values and its current details (markdown). */
export interface RunView {
  phase: string;
  status: string;
  progress?: number;
  details: string;
}

/**
 * 状态发布 The publisher every run calls after each change of its state: its search attributes (runAttributes) and
 * its current details from one view of the state. `onlyWhenChanged`: a run that publishes on every round of a long
 * loop (the plan) writes its attributes only when they changed, not one command per round.
 */
export function publisher(kind: RunKindName, view: () => RunView, options: { onlyWhenChanged?: boolean } = {}): () => void {
  let shown = '';
  return () => {
    const v = view();
    const attributes = JSON.stringify([v.phase, v.status, v.progress]);
    if (!options.onlyWhenChanged || attributes !== shown) {
      runAttributes({ kind, phase: v.phase, status: v.status, progress: v.progress });
      shown = attributes;
    }
    setCurrentDetails(v.details);
  };
}
