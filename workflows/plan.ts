import {
  ActivityOptions,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PlanNotification } from '../activities/notify';
import type { AutomatedRun, PlanDefinition } from '../plan/definition';
import { cutover } from './cutover';
import { reporting } from './reporting';
import { standby } from './standby';
import {
  AutomatedRunRecord,
  ItemState,
  mayActFor,
  NotificationRecord,
  PLAN_DECISION_KINDS,
  PlanDecisionKind,
  PlanInput,
  planProgressQuery,
  PlanState,
  planStateQuery,
  REBASELINE_ROLE,
  rebaselineItemSignal,
  SignedPlanDecision,
  signOffItemSignal,
} from './plan-messages';
import { DAY_MS, dayToMs, dueAtIso, label, progress, refreshStatuses, renderChecklist, waitingFor } from './plan-progress';
import { keep, ShownMessage, signedMessageSchema } from './kit/admission';
import { signedHandler, signedInbox, UNREADABLE } from './kit/decisions';
import { publisher } from './kit/publish';

/**
 * 项目实施进度安排 · the 90-day project as one long-lived workflow: items complete by signed sign-off
 * or by an automated run (a check activity, a cutover child workflow) once their dependencies are
 * done; durable timers send reminders before due dates and escalate what is overdue; a weekly
 * status report is written. History stays bounded: the whole state continues as new.
 */

const DEFAULT_CONTINUE_AS_NEW_AFTER = 5000;
const REPORT_RECORDS_KEPT = 20;

const checkDecision = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 20, maximumInterval: '30 seconds' },
  summary: '签字核验 Verify sign-off signature',
});

const PLAN_DECISION = signedMessageSchema<PlanDecisionKind>(PLAN_DECISION_KINDS);

function act(summary: string, options: Partial<ActivityOptions> = {}): Activities {
  return proxyActivities<Activities>({
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '5s', maximumInterval: '1 minute', maximumAttempts: 5 },
    summary,
    ...options,
  });
}

export async function plan(input: PlanInput): Promise<PlanState> {
  const workflowId = workflowInfo().workflowId;
  const iso = (ms = Date.now()) => new Date(ms).toISOString(); // replay-safe: the SDK makes Date deterministic in workflows
  const state = input.carried ?? initialState(input, await act('计划载入 Load the plan').loadPlan(), iso());
  const definition = state.definition;
  const running = new Set<string>();
  let wake = false;

  setHandler(planStateQuery, () => state);
  setHandler(planProgressQuery, () => progress(state, Date.now()));

  const openDependencies = (item: ItemState) => item.dependsOn.filter((d) => state.items.find((i) => i.id === d)?.status !== 'done');

  // Admission (workflows/kit/admission.ts: shape in the workflow, then the signature, a one-time nonce) and the
  // handler that never throws (workflows/kit/decisions.ts); the item rules below are the plan's own.
  const inbox = signedInbox(checkDecision, workflowId);

  /** The rules every signed request shares: the kind of request, a known item, not done already. */
  function itemRefusal(d: SignedPlanDecision, kind: PlanDecisionKind): { item?: ItemState; refusal?: string } {
    if (d.decision !== kind) return { refusal: `a "${d.decision}" decision is not a ${kind}` };
    const item = state.items.find((i) => i.id === d.gate);
    if (!item) return { refusal: `unknown plan item "${d.gate}"` };
    if (item.status === 'done') return { item, refusal: `item "${item.id}" is already done (${item.doneBy} at ${item.doneAt})` };
    return { item };
  }

  function record(d: Pick<SignedPlanDecision, 'gate' | 'decision' | 'actor' | 'role' | 'reason' | 'dueDate'>, refusal?: string) {
    keep(state.decisions, { item: d.gate, decision: d.decision, actor: d.actor, role: d.role, reason: d.reason, dueDate: d.dueDate, at: iso(), accepted: !refusal, refusal });
    wake = true;
  }
  /** A request refused before its rules: what could be read of it (a handler that threw names the signal's kind). */
  const refused = (kind: PlanDecisionKind) => (shown: ShownMessage, refusal: string) =>
    record({ gate: shown.gate, decision: shown === UNREADABLE ? kind : (shown.decision as PlanDecisionKind), actor: shown.actor, role: shown.role ?? '?', reason: shown.reason }, refusal);

  setHandler(
    signOffItemSignal,
    signedHandler(PLAN_DECISION, inbox, {
      refused: refused('signoff'),
      admitted: (d) => {
        const { item, refusal: early } = itemRefusal(d, 'signoff');
        const blockers = item ? openDependencies(item) : [];
        const refusal =
          early ??
          (item!.completion.kind !== 'signoff'
            ? `item "${item!.id}" completes by its automated run, not by sign-off`
            : blockers.length
              ? `item "${item!.id}" is blocked by unfinished dependencies: ${blockers.join(', ')}`
              : !mayActFor(d.role, item!.ownerRole)
                ? `role ${d.role} may not sign off "${item!.id}"; its owner role is ${item!.ownerRole}`
                : undefined);
        record(d, refusal);
        if (refusal) return;
        Object.assign(item!, { status: 'done', doneAt: iso(), doneBy: d.actor, note: d.reason });
      },
    }),
  );

  setHandler(
    rebaselineItemSignal,
    signedHandler(PLAN_DECISION, inbox, {
      refused: refused('rebaseline'),
      admitted: (d) => {
        const { item, refusal: early } = itemRefusal(d, 'rebaseline');
        const to = d.dueDate && /^\d{4}-\d{2}-\d{2}$/.test(d.dueDate) && !Number.isNaN(dayToMs(d.dueDate)) ? dueAtIso(d.dueDate, 0) : undefined;
        const refusal =
          early ??
          (!mayActFor(d.role, REBASELINE_ROLE)
            ? `role ${d.role} may not re-baseline "${item!.id}"; re-baselining is for ${REBASELINE_ROLE}`
            : !to
              ? `dueDate "${d.dueDate ?? ''}" is not a date (YYYY-MM-DD)`
              : to < dueAtIso(state.t0, 0)
                ? `dueDate ${d.dueDate} lies before T0 ${state.t0}`
                : !d.reason?.trim()
                  ? 'a re-baseline needs a reason'
                  : undefined);
        record(d, refusal);
        if (refusal) return;
        state.rebaselines.push({ item: item!.id, from: item!.dueAt, to: to!, by: d.actor, role: d.role, reason: d.reason!, at: iso() });
        item!.dueAt = to!;
      },
    }),
  );

  function launch(item: ItemState, run: AutomatedRun) {
    const attempt = item.runs.length + 1;
    const kind = run === 'reporting-joint-test' ? 'reporting' : run.startsWith('standby-') ? 'standby' : 'cutover';
    const childId = `${kind}-${state.planId}-${item.id}-${attempt}`;
    const record: AutomatedRunRecord = { attempt, ref: run.startsWith('cutover-') || kind !== 'cutover' ? childId : `${run} #${attempt}`, startedAt: iso() };
    item.runs.push(record);
    item.status = 'running';
    item.retryAt = undefined;
    running.add(item.id);
    void runAutomated(item, run, childId)
      .catch((err: Error): Partial<AutomatedRunRecord> => ({ ok: false, summary: '运行出错 run failed', problems: [failureMessage(err)] }))
      .then((outcome) => {
        Object.assign(record, outcome, { finishedAt: iso() });
        if (record.ok) Object.assign(item, { status: 'done', doneAt: record.finishedAt, doneBy: `automated ${record.ref}` });
        else Object.assign(item, { status: 'failed', retryAt: iso(Date.now() + definition.retryAutomatedAfterHours * 3600_000) });
        running.delete(item.id);
        wake = true;
      });
  }

  async function runAutomated(item: ItemState, run: AutomatedRun, childId: string): Promise<Partial<AutomatedRunRecord>> {
    const title = label(item.title);
    switch (run) {
      case 'network-policy-check': {
        const r = await act(`${title} · ${item.id}`, { retry: { maximumAttempts: 3 } }).networkPolicyCheck();
        return {
          ok: r.closed === 0,
          summary: `${r.open}/${r.flows.length} 网络策略已通 flows open`,
          problems: r.flows.filter((f) => f.state === 'closed').map((f) => `${f.name} ${f.host}:${f.port} (${f.side}): ${f.reason}`),
        };
      }
      case 'joint-test-check': {
        const r = await act(`${title} · ${item.id}`, { retry: { maximumAttempts: 3 } }).jointTestCheck();
        return {
          ok: r.failed === 0,
          summary: `${r.passed}/${r.systems.length} 对接系统双向正常 systems answer at legacy and new addresses`,
          problems: r.systems
            .filter((s) => !s.ok)
            .map((s) => `${s.id}: ${[s.legacy, s.new].filter((e) => !e.ok).map((e) => `${e.url} ${e.status ?? e.error}`).join('; ')}`),
        };
      }
      case 'reporting-joint-test': {
        // 数据汇聚联调 a full reporting cycle — registry → provincial DB → national receiver, every batch verified.
        const r = await executeChild(reporting, {
          workflowId: childId,
          args: [{ runId: childId.replace(/^reporting-/, ''), requestedBy: state.startedBy }],
          staticSummary: `${title} · 项目计划 plan ${state.planId} · 联调 joint test`,
        });
        const verified = r.tables.filter((t) => t.state === 'verified' || t.state === 'empty');
        return {
          ok: r.verdict === 'passed',
          summary: `汇聚上报联调 reporting joint test ${r.verdict}: ${verified.length}/${r.tables.length} tables verified, ${r.tables.reduce((n, t) => n + t.rows, 0)} rows`,
          problems: r.tables.filter((t) => t.state !== 'verified' && t.state !== 'empty').map((t) => `${t.table}: ${t.state}${t.batchId ? ` (${t.batchId})` : ''}`),
        };
      }
      case 'standby-setup':
      case 'standby-check': {
        // 备点库 the standby run itself: setup proves both copies stream (and schedules the check); a check compares them.
        const action = run === 'standby-setup' ? 'setup' : 'check';
        const s = await executeChild(standby, {
          workflowId: childId,
          args: [{ runId: childId.replace(/^standby-/, ''), action, requestedBy: state.startedBy }],
          staticSummary: `${title} · 项目计划 plan ${state.planId} · 备点库 ${action}`,
        });
        const alerts = s.alerts.map((a) => `${a.copy}: ${a.subject}`);
        if (action === 'setup') {
          const streaming = s.proof?.copies.filter((c) => c.streaming && c.reached) ?? [];
          return {
            ok: s.status === 'completed' && streaming.length === (s.proof?.copies.length ?? -1),
            summary: `备点库建立 standby setup ${s.status}: ${streaming.map((c) => c.copy).join(', ') || 'no copy'} streaming`,
            problems: [...(s.error ? [s.error] : []), ...alerts, ...(s.proof?.copies.filter((c) => !c.streaming || !c.reached).map((c) => `${c.copy}: not streaming or not caught up`) ?? [])],
          };
        }
        const c = s.check;
        return {
          ok: s.status === 'healthy' && c?.consistent === true,
          summary: `备点库一致性 standby check ${s.status}: ${c ? `${c.rowsCompared} rows in ${c.segments} segments, ${c.differingSegments} differing` : 'no check'}`,
          problems: [...(s.error ? [s.error] : []), ...alerts, ...(c?.mismatches.map((m) => `${m.table} segment ${m.segmentId} differs`) ?? [])],
        };
      }
      case 'cutover-rehearsal':
      case 'cutover-live': {
        const mode = run === 'cutover-live' ? 'live' : 'rehearsal';
        const result = await executeChild(cutover, {
          workflowId: childId,
          args: [{ runId: childId.replace(/^cutover-/, ''), mode, requestedBy: state.startedBy }],
          staticSummary: `${title} · 项目计划 plan ${state.planId} · ${mode === 'live' ? '正式 live' : '彩排 rehearsal'}`,
        });
        const gate = result.gates.find((g) => g.name === 'go-no-go');
        return {
          ok: result.status === 'completed',
          summary: `割接 cutover ${result.status}${gate?.decidedBy ? ` · go/no-go ${gate.status} by ${gate.decidedBy}` : ''}`,
          problems: result.status === 'completed' ? [] : [result.failure ?? `go/no-go ${gate?.status}: ${gate?.reason ?? ''}`],
        };
      }
    }
  }

  /** Reminders, escalations and milestone news that are due and not yet sent; each is sent once, by its key. */
  async function sendDueNotifications(): Promise<void> {
    const now = Date.now();
    const sent = new Set(state.notifications.map((n) => n.key));
    const due: PlanNotification[] = [];
    const add = (n: Omit<PlanNotification, 'workflowId' | 'planId'>) => {
      if (!sent.has(n.key)) due.push({ ...n, workflowId, planId: state.planId });
    };
    for (const item of state.items) {
      if (item.status === 'done') continue;
      const dueMs = Date.parse(item.dueAt);
      const base = { ownerRole: item.ownerRole, dueAt: item.dueAt, waitingFor: waitingFor(item, state) };
      if (now >= dueMs) {
        add({ ...base, key: `${workflowId}:escalation:${item.id}:${item.dueAt}`, kind: 'escalation', subject: `逾期督办 Overdue: ${label(item.title)} (${item.id})` });
      } else if (now >= dueMs - definition.remindBeforeDays * DAY_MS) {
        add({ ...base, key: `${workflowId}:reminder:${item.id}:${item.dueAt}`, kind: 'reminder', subject: `到期提醒 Due soon: ${label(item.title)} (${item.id})` });
      }
      if (item.status === 'failed') {
        const last = item.runs[item.runs.length - 1];
        add({ ...base, key: `${workflowId}:automated-failed:${item.id}:${last.attempt}`, kind: 'automated-failed', subject: `自动检查未通过 Automated run failed: ${label(item.title)} — ${(last.problems ?? []).slice(0, 3).join('; ')}` });
      }
    }
    for (const m of state.milestones) {
      if (m.reachedAt) add({ key: `${workflowId}:milestone-reached:${m.id}`, kind: 'milestone-reached', subject: `里程碑达成 Milestone reached: ${label(m.title)}` });
      else if (now >= Date.parse(m.dueAt)) add({ key: `${workflowId}:milestone-late:${m.id}:${m.dueAt}`, kind: 'milestone-late', dueAt: m.dueAt, subject: `里程碑逾期 Milestone late: ${label(m.title)}` });
    }
    await Promise.all(
      due.map(async (n) => {
        // Recorded before sending: a notification is attempted once, however the loop is woken meanwhile.
        const rec: NotificationRecord = { key: n.key, kind: n.kind, subject: n.subject, at: iso() };
        state.notifications.push(rec);
        try {
          rec.channel = (await act(`通知 Notify · ${n.kind} · ${n.subject.slice(0, 60)}`).notifyPlan(n)).channel;
        } catch (err) {
          rec.error = failureMessage(err as Error);
        }
      }),
    );
  }

  async function writeReport(): Promise<void> {
    try {
      const files = await act('项目周报 Weekly status report').writeStatusReport({ workflowId, progress: progress(state, Date.now()) });
      state.reports.push({ at: iso(), files });
    } catch (err) {
      state.reports.push({ at: iso(), files: [], error: failureMessage(err as Error) });
    }
    if (state.reports.length > REPORT_RECORDS_KEPT) state.reports.splice(0, state.reports.length - REPORT_RECORDS_KEPT);
    let next = Date.parse(state.nextReportAt);
    while (next <= Date.now()) next += definition.reportEveryDays * DAY_MS;
    state.nextReportAt = iso(next);
  }

  /** The next moment a timer must wake the plan: a reminder, a due date, a milestone, a retry, the report. */
  function nextEventAt(): number {
    const now = Date.now();
    const times = [Date.parse(state.nextReportAt)];
    for (const item of state.items) {
      if (item.status === 'done') continue;
      const dueMs = Date.parse(item.dueAt);
      times.push(dueMs - definition.remindBeforeDays * DAY_MS, dueMs);
      if (item.retryAt) times.push(Date.parse(item.retryAt));
    }
    for (const m of state.milestones) if (!m.reachedAt) times.push(Date.parse(m.dueAt));
    return Math.min(...times.filter((t) => t > now));
  }

  const publish = publisher(
    'plan',
    () => {
      const p = progress(state, Date.now());
      return { phase: p.phase, status: state.status, progress: p.percent, details: renderChecklist(p) };
    },
    { onlyWhenChanged: true },
  );

  for (;;) {
    // Reset before the awaits below: a handler finishing during them must wake the next round.
    wake = false;
    refreshStatuses(state);
    for (const item of state.items) {
      if (item.completion.kind !== 'automated' || running.has(item.id)) continue;
      const retryDue = item.status === 'failed' && Date.now() >= Date.parse(item.retryAt!);
      if (item.status === 'ready' || retryDue) launch(item, item.completion.run);
    }
    await sendDueNotifications();
    if (Date.now() >= Date.parse(state.nextReportAt)) await writeReport();
    if (state.items.every((i) => i.status === 'done')) break;
    publish();
    const info = workflowInfo();
    // A running child or check belongs to this run: continue as new only between them.
    if (!running.size && (info.continueAsNewSuggested || info.historyLength >= (input.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER))) {
      await condition(allHandlersFinished);
      state.generation += 1;
      await continueAsNew<typeof plan>({ ...input, carried: state });
    }
    await condition(() => wake, Math.max(nextEventAt() - Date.now(), 1000));
  }

  state.status = 'completed';
  refreshStatuses(state);
  await sendDueNotifications();
  await writeReport();
  publish();
  await condition(allHandlersFinished);
  return state;
}

function initialState(input: PlanInput, definition: PlanDefinition, startedAt: string): PlanState {
  return {
    planId: input.planId,
    t0: input.t0,
    startedBy: input.startedBy,
    definition,
    status: 'running',
    items: definition.packages.flatMap((p) =>
      p.items.map(
        (it): ItemState => ({
          id: it.id,
          packageId: p.id,
          title: it.title,
          ownerRole: it.ownerRole,
          dependsOn: it.dependsOn,
          deliverable: it.deliverable,
          completion: it.completion,
          dueAt: dueAtIso(input.t0, it.dueOffsetDays),
          status: 'blocked',
          runs: [],
        }),
      ),
    ),
    milestones: definition.milestones.map((m) => ({ id: m.id, title: m.title, deliverable: m.deliverable, items: m.items, dueAt: dueAtIso(input.t0, m.dueOffsetDays) })),
    decisions: [],
    rebaselines: [],
    notifications: [],
    reports: [],
    nextReportAt: startedAt,
    generation: 0,
  };
}

/** The innermost cause's message: an ActivityFailure says only "Activity task failed". */
function failureMessage(err: Error): string {
  let e: Error | undefined = err;
  while ((e as { cause?: Error }).cause) e = (e as { cause?: Error }).cause;
  return e?.message ?? String(err);
}
