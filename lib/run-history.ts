/**
 * 运行历史 What a run's Temporal event history says happened, for the failure-analysis report: every
 * failed activity attempt (also those a retry later made good — the workflow's state keeps only the
 * last error), the signals it received (gate decisions, operator choices), its timers, failed child
 * workflows and how it ended. Works on the history's proto JSON (historyToJSON), so it is pure and
 * independent of the SDK's generated types.
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

type Json = Record<string, any>;

/** "EVENT_TYPE_ACTIVITY_TASK_FAILED" and "ActivityTaskFailed" (both occur in history JSON) → "ACTIVITY_TASK_FAILED" */
const eventType = (e: Json) =>
  String(e.eventType ?? '')
    .replace(/^EVENT_TYPE_/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toUpperCase();

/** A payload as the default data converter writes it (json/plain); anything else is left out. */
function decodePayload(p: Json | undefined): unknown {
  if (!p?.data) return undefined;
  const encoding = p.metadata?.encoding ? Buffer.from(p.metadata.encoding, 'base64').toString('utf8') : '';
  if (encoding !== 'json/plain') return undefined;
  try {
    return JSON.parse(Buffer.from(p.data, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The innermost message of a failure chain: that is where the activity's own error is. */
function failureMessage(f: Json | undefined): string {
  if (!f) return '';
  const own = String(f.message ?? '');
  const inner = f.cause ? failureMessage(f.cause) : '';
  return inner && inner !== own ? `${own} ← ${inner}` : own;
}

const SIGNAL_FIELDS = ['gate', 'decision', 'actor', 'role', 'reason'] as const;

export function digestHistory(workflowId: string, history: { events?: Json[] }): HistoryDigest {
  const events = history.events ?? [];
  const byId = new Map<string, Json>(events.map((e) => [String(e.eventId), e]));
  const summaryOf = (e: Json | undefined) => {
    const s = decodePayload(e?.userMetadata?.summary);
    return typeof s === 'string' ? s : undefined;
  };
  const digest: HistoryDigest = { workflowId, outcome: { status: 'running' }, failedAttempts: [], signals: [], timers: [], failedChildren: [], events: events.length };
  const activity = (scheduledEventId: unknown) => {
    const scheduled = byId.get(String(scheduledEventId));
    return { activityType: String(scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?'), summary: summaryOf(scheduled) };
  };

  for (const e of events) {
    const at = String(e.eventTime ?? '');
    switch (eventType(e)) {
      case 'WORKFLOW_EXECUTION_STARTED':
        digest.workflowType = e.workflowExecutionStartedEventAttributes?.workflowType?.name;
        digest.startedAt = at;
        break;
      case 'ACTIVITY_TASK_STARTED': {
        // Temporal writes one started event per activity, for its last attempt, carrying the previous
        // attempt's failure: the only trace of attempts that failed before a later one ran.
        const a = e.activityTaskStartedEventAttributes ?? {};
        const attempt = Number(a.attempt ?? 1);
        if (attempt > 1 && a.lastFailure) digest.failedAttempts.push({ at, ...activity(a.scheduledEventId), attempt: attempt - 1, message: failureMessage(a.lastFailure), final: false });
        break;
      }
      case 'ACTIVITY_TASK_FAILED':
      case 'ACTIVITY_TASK_TIMED_OUT': {
        const a = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? {};
        const started = byId.get(String(a.startedEventId))?.activityTaskStartedEventAttributes;
        digest.failedAttempts.push({
          at,
          ...activity(a.scheduledEventId),
          attempt: Number(started?.attempt ?? 1),
          message: failureMessage(a.failure),
          final: true,
          retryState: a.retryState ? String(a.retryState).replace(/^RETRY_STATE_/, '') : undefined,
        });
        break;
      }
      case 'WORKFLOW_EXECUTION_SIGNALED': {
        const a = e.workflowExecutionSignaledEventAttributes ?? {};
        const body = decodePayload(a.input?.payloads?.[0]);
        const kept: HistoryDigest['signals'][number] = { at, name: String(a.signalName ?? '?') };
        if (body && typeof body === 'object') for (const k of SIGNAL_FIELDS) if (typeof (body as Json)[k] === 'string') kept[k] = (body as Json)[k];
        digest.signals.push(kept);
        break;
      }
      case 'TIMER_STARTED': {
        const a = e.timerStartedEventAttributes ?? {};
        digest.timers.push({ startedAt: at, id: String(a.timerId), summary: summaryOf(e), timeout: a.startToFireTimeout });
        break;
      }
      case 'TIMER_FIRED':
      case 'TIMER_CANCELED': {
        const a = e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes ?? {};
        const t = digest.timers.find((x) => x.id === String(a.timerId) && !x.ended);
        if (t) t.ended = { at, how: e.timerFiredEventAttributes ? 'fired' : 'cancelled' };
        break;
      }
      case 'CHILD_WORKFLOW_EXECUTION_FAILED':
      case 'CHILD_WORKFLOW_EXECUTION_TIMED_OUT':
      case 'CHILD_WORKFLOW_EXECUTION_CANCELED':
      case 'CHILD_WORKFLOW_EXECUTION_TERMINATED': {
        const type = eventType(e);
        const a =
          e.childWorkflowExecutionFailedEventAttributes ??
          e.childWorkflowExecutionTimedOutEventAttributes ??
          e.childWorkflowExecutionCanceledEventAttributes ??
          e.childWorkflowExecutionTerminatedEventAttributes ??
          {};
        const status = type.endsWith('FAILED') ? 'failed' : type.endsWith('TIMED_OUT') ? 'timed_out' : type.endsWith('CANCELED') ? 'cancelled' : 'terminated';
        digest.failedChildren.push({ at, workflowId: a.workflowExecution?.workflowId, workflowType: a.workflowType?.name, status, message: a.failure ? failureMessage(a.failure) : undefined });
        break;
      }
      case 'WORKFLOW_EXECUTION_COMPLETED':
        digest.outcome = { status: 'completed', at };
        break;
      case 'WORKFLOW_EXECUTION_FAILED':
        digest.outcome = { status: 'failed', at, failure: failureMessage(e.workflowExecutionFailedEventAttributes?.failure) };
        break;
      case 'WORKFLOW_EXECUTION_CANCELED':
        digest.outcome = { status: 'cancelled', at };
        break;
      case 'WORKFLOW_EXECUTION_TERMINATED':
        digest.outcome = { status: 'terminated', at, failure: e.workflowExecutionTerminatedEventAttributes?.reason };
        break;
      case 'WORKFLOW_EXECUTION_TIMED_OUT':
        digest.outcome = { status: 'timed_out', at };
        break;
      case 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW':
        digest.outcome = { status: 'continued_as_new', at };
        break;
    }
  }
  return digest;
}
