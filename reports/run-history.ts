import { optionalTsToDate, optionalTsToMs } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';

/**
 * 运行历史 What a run's Temporal event history says happened, for the failure-analysis report: every
 * failed activity attempt (also those a retry later made good — the workflow's state keeps only the
 * last error), the signals it received (gate decisions, operator choices), its timers, failed child
 * workflows and how it ended. Reads the history as the client returns it (handle.fetchHistory()); an
 * event's kind is told by which attributes it carries, so no enum table is needed.
 *
 * Signal payloads are reduced to an allow-list of fields: a decision's signature, and anything else a
 * sender put there, never reaches the report.
 */
export interface HistoryDigest {
  workflowId: string;
  workflowType?: string;
  startedAt?: string;
  outcome: { status: 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed_out' | 'continued_as_new'; at?: string; failure?: string };
  failedAttempts: { at: string; activityType: string; summary?: string; attempt: number; message: string; final: boolean; retryState?: string }[];
  signals: { at: string; name: string; gate?: string; decision?: string; actor?: string; role?: string; reason?: string }[];
  timers: { startedAt: string; id: string; summary?: string; timeout?: string; ended?: { at: string; how: 'fired' | 'cancelled' } }[];
  failedChildren: { at: string; workflowId?: string; workflowType?: string; status: 'failed' | 'timed_out' | 'cancelled' | 'terminated'; message?: string }[];
  events: number;
}

/** A workflow's history as the client's public API returns it (handle.fetchHistory()). */
type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];
type Payload = { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null } | null | undefined;
type Failure = { message?: string | null; cause?: Failure | null } | null | undefined;

/** A payload as the default data converter writes it (json/plain); anything else is left out. */
function decodePayload(p: Payload): unknown {
  if (!p?.data || Buffer.from(p.metadata?.encoding ?? []).toString('utf8') !== 'json/plain') return undefined;
  try {
    return JSON.parse(Buffer.from(p.data).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The failure's message with its causes': the activity's own error may be one level down. */
function failureMessage(f: Failure): string {
  if (!f) return '';
  const own = f.message ?? '';
  const inner = f.cause ? failureMessage(f.cause) : '';
  return inner && inner !== own ? `${own} ← ${inner}` : own;
}

const time = (e: HistoryEvent) => optionalTsToDate(e.eventTime)?.toISOString() ?? '';
const RETRY_STATES: Record<number, string> = { 1: 'IN_PROGRESS', 2: 'NON_RETRYABLE_FAILURE', 3: 'TIMEOUT', 4: 'MAXIMUM_ATTEMPTS_REACHED', 5: 'RETRY_POLICY_NOT_SET', 6: 'INTERNAL_SERVER_ERROR', 7: 'CANCEL_REQUESTED' };
const SIGNAL_FIELDS = ['gate', 'decision', 'actor', 'role', 'reason'] as const;

export function digestHistory(workflowId: string, history: History): HistoryDigest {
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  const summaryOf = (e: HistoryEvent | undefined) => {
    const s = decodePayload(e?.userMetadata?.summary);
    return typeof s === 'string' ? s : undefined;
  };
  const activity = (scheduledEventId: unknown) => {
    const scheduled = byId.get(String(scheduledEventId));
    return { activityType: scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?', summary: summaryOf(scheduled) };
  };
  const digest: HistoryDigest = { workflowId, outcome: { status: 'running' }, failedAttempts: [], signals: [], timers: [], failedChildren: [], events: events.length };

  for (const e of events) {
    const at = time(e);
    if (e.workflowExecutionStartedEventAttributes) {
      digest.workflowType = e.workflowExecutionStartedEventAttributes.workflowType?.name ?? undefined;
      digest.startedAt = at;
    } else if (e.activityTaskStartedEventAttributes) {
      // Temporal writes one started event per activity, for its last attempt, carrying the previous
      // attempt's failure: the only trace in history of an attempt a later one made good.
      const a = e.activityTaskStartedEventAttributes;
      const attempt = a.attempt ?? 1;
      if (attempt > 1 && a.lastFailure) digest.failedAttempts.push({ at, ...activity(a.scheduledEventId), attempt: attempt - 1, message: failureMessage(a.lastFailure), final: false });
    } else if (e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes) {
      const a = (e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes)!;
      digest.failedAttempts.push({
        at,
        ...activity(a.scheduledEventId),
        attempt: byId.get(String(a.startedEventId))?.activityTaskStartedEventAttributes?.attempt ?? 1,
        message: failureMessage(a.failure),
        final: true,
        retryState: a.retryState ? RETRY_STATES[a.retryState] : undefined,
      });
    } else if (e.workflowExecutionSignaledEventAttributes) {
      const a = e.workflowExecutionSignaledEventAttributes;
      const body = decodePayload(a.input?.payloads?.[0]) as Record<string, unknown> | undefined;
      const kept: HistoryDigest['signals'][number] = { at, name: a.signalName ?? '?' };
      if (body && typeof body === 'object') for (const k of SIGNAL_FIELDS) if (typeof body[k] === 'string') kept[k] = body[k] as string;
      digest.signals.push(kept);
    } else if (e.timerStartedEventAttributes) {
      const ms = optionalTsToMs(e.timerStartedEventAttributes.startToFireTimeout);
      digest.timers.push({ startedAt: at, id: e.timerStartedEventAttributes.timerId ?? '?', summary: summaryOf(e), timeout: ms === undefined ? undefined : `${ms / 1000}s` });
    } else if (e.timerFiredEventAttributes || e.timerCanceledEventAttributes) {
      const id = (e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes)!.timerId;
      const t = digest.timers.find((x) => x.id === id && !x.ended);
      if (t) t.ended = { at, how: e.timerFiredEventAttributes ? 'fired' : 'cancelled' };
    } else if (e.childWorkflowExecutionFailedEventAttributes || e.childWorkflowExecutionTimedOutEventAttributes || e.childWorkflowExecutionCanceledEventAttributes || e.childWorkflowExecutionTerminatedEventAttributes) {
      const a = (e.childWorkflowExecutionFailedEventAttributes ?? e.childWorkflowExecutionTimedOutEventAttributes ?? e.childWorkflowExecutionCanceledEventAttributes ?? e.childWorkflowExecutionTerminatedEventAttributes)!;
      const status = e.childWorkflowExecutionFailedEventAttributes ? 'failed' : e.childWorkflowExecutionTimedOutEventAttributes ? 'timed_out' : e.childWorkflowExecutionCanceledEventAttributes ? 'cancelled' : 'terminated';
      const failure = e.childWorkflowExecutionFailedEventAttributes?.failure;
      digest.failedChildren.push({ at, workflowId: a.workflowExecution?.workflowId ?? undefined, workflowType: a.workflowType?.name ?? undefined, status, message: failure ? failureMessage(failure) : undefined });
    } else if (e.workflowExecutionCompletedEventAttributes) digest.outcome = { status: 'completed', at };
    else if (e.workflowExecutionFailedEventAttributes) digest.outcome = { status: 'failed', at, failure: failureMessage(e.workflowExecutionFailedEventAttributes.failure) };
    else if (e.workflowExecutionCanceledEventAttributes) digest.outcome = { status: 'cancelled', at };
    else if (e.workflowExecutionTerminatedEventAttributes) digest.outcome = { status: 'terminated', at, failure: e.workflowExecutionTerminatedEventAttributes.reason ?? undefined };
    else if (e.workflowExecutionTimedOutEventAttributes) digest.outcome = { status: 'timed_out', at };
    else if (e.workflowExecutionContinuedAsNewEventAttributes) digest.outcome = { status: 'continued_as_new', at };
  }
  return digest;
}
