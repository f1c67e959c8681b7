import { condition, isCancellation, patched, proxyActivities, setHandler, SignalDefinition, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { SignedDecision } from '../../lib/decision-signing';
import type { StepRecord } from '../cutover-messages';
import type { StepStatus } from '../cutover-steps';
import { signedMessageSchema } from './admission';
import { operatorWait, rootMessage, runStep } from './step';
import { applyGateDecision, DecidableGate, gateRefusal, KeptDecision, keepDecision, pendingChoiceRefusal, refusalsInto, signedHandler, SignedInbox } from './decisions';

/**
 * 运行手册 The runbook's machinery around its steps, for a workflow whose state lists steps and gates (the
 * cutover; the coming standby and reporting runs): a step that runs its body and, when the body fails after its
 * retries, parks the run for the operator's signed choice (retry, skip, continue after a manual fix, fall back);
 * a gate that opens, escalates each time its timeout passes and closes on its approvals or a rejection; the
 * handlers that take gate decisions and operator choices through admission (admission.ts) and the rules
 * (decisions.ts); the projection of the finish against the maintenance window. The workflow keeps its process:
 * which steps, in which order, doing what. Nothing here schedules a command a workflow did not write itself
 * before: the commands are those of the workflow's own body, its gates' escalation notices and its handlers'
 * signature checks, in the order the workflow's own closures gave them.
 */

/** What the operator may choose when a step failed after its retries. */
export type StepChoice = 'retry' | 'skip' | 'continue' | 'fallback';

/** A step as the run's state shows it. */
export type RunStep<K extends string = string> = StepRecord<K>;

/** A gate as the run's state shows it: the rules' view (decisions.ts) plus its title, opening and escalations. */
export interface RunGate extends DecidableGate {
  title: string;
  escalateAfterMinutes: number;
  openedAt?: string;
  escalations: number;
}

/** The part of a run's state the machinery keeps; the workflow's state has it and more. */
export interface RunbookState<K extends string, G extends RunGate = RunGate> {
  status: string;
  phase: string;
  requestedBy: string;
  steps: RunStep<K>[];
  gates: G[];
  decisions: KeptDecision[];
  operatorActions: KeptDecision[];
  pendingFailure?: { step: K | 'fallback'; error: string; at: string; choices: StepChoice[] };
  maintenanceWindow?: { start: string; end: string };
  projection?: { at: string; projectedFinish: string; windowEnd?: string; fitsWindow?: boolean; plannedRemainingMinutes: number };
}

/** Thrown inside the workflow when the run must stop and fall back; carries the status to end with. */
export class FallBack extends Error {
  constructor(
    readonly status: 'rejected' | 'failed' | 'fell_back',
    message: string,
  ) {
    super(message);
  }
}

const notify = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 10, maximumInterval: '1 minute' },
  summary: '督办 Escalate an undecided gate',
});

const GATE_DECISION = signedMessageSchema(['approve', 'reject']);
const OPERATOR_CHOICE = signedMessageSchema<StepChoice>(['retry', 'skip', 'continue', 'fallback']);

export interface RunbookOptions<K extends string, G extends RunGate> {
  /** the run's id as its people know it (the escalation notice's plan id) and what it is called there */
  runId: string;
  runNoun: string;
  /** the step a gate's decision is shown as */
  gateStep(gate: G['name']): K;
  /** what the operator may choose when the step failed after its retries */
  choicesAfterFailure(step: K): StepChoice[];
  /** shows the state: search attributes and the current details */
  publish(): void;
}

export type OperatorDecision = { choice: StepChoice; reason?: string; actor: string };

export { rootMessage };

/** The machinery of one run over its state. Call it once, at the start of the workflow function. */
export function runbook<K extends string, G extends RunGate>(state: RunbookState<K, G>, options: RunbookOptions<K, G>) {
  const now = () => new Date().toISOString(); // replay-safe: the SDK makes Date deterministic in workflows
  const { publish } = options;
  const waiting = operatorWait<NonNullable<RunbookState<K, G>['pendingFailure']>, OperatorDecision>(state, publish);

  const stepState = (key: K): RunStep<K> => state.steps.find((s) => s.key === key)!;

  /** 彩排 projection: the planned minutes of what is left, from now, against the maintenance window. */
  const project = () => {
    const remaining = state.steps.filter((s) => s.status === 'pending' || s.status === 'running').reduce((n, s) => n + (s.plannedMinutes ?? 0), 0);
    const projectedFinish = new Date(Date.now() + remaining * 60_000).toISOString();
    const windowEnd = state.maintenanceWindow?.end;
    state.projection = { at: now(), projectedFinish, windowEnd, fitsWindow: windowEnd ? Date.parse(projectedFinish) <= Date.parse(windowEnd) : undefined, plannedRemainingMinutes: remaining };
  };

  const begin = (key: K, status = 'running') => {
    Object.assign(stepState(key), { status: 'running', startedAt: now(), error: undefined });
    state.phase = key;
    state.status = status;
    project();
    publish();
  };

  const finish = (key: K, status: StepStatus, detail?: string) => {
    const s = stepState(key);
    Object.assign(s, { status, finishedAt: now(), detail });
    if (s.startedAt) s.actualMs = Date.parse(s.finishedAt!) - Date.parse(s.startedAt);
    project();
    publish();
  };

  /** A step this run's version does not have (its patch absent from the history): shown as skipped, with why. */
  const notInThisVersion = (key: K, note = 'not part of the version this run started with') => {
    Object.assign(stepState(key), { status: 'skipped', operatorNote: note });
  };

  /** Parks the run until the operator's signed choice for what failed arrives; returns it. */
  async function operatorDecides(key: K | 'fallback', message: string, choices: StepChoice[]): Promise<OperatorDecision> {
    return waiting.decide({ step: key, error: message, at: now(), choices });
  }

  /**
   * Runs a step (step.ts); when it fails after its retries, the operator chooses by signal: retry, skip (where
   * allowed, with a reason), continue after a manual fix (with a reason), or fall back.
   */
  async function step(key: K, body: () => Promise<string>, runningStatus = 'running'): Promise<void> {
    await runStep(() => stepState(key), body, {
      begin: () => begin(key, runningStatus),
      done: (detail) => finish(key, 'done', detail),
      // A cancelled run is cancelled, not a failed step waiting for a choice (older runs replay as before).
      notAFailure: (err) => err instanceof FallBack || (isCancellation(err) && patched('cancellation-is-not-a-step-failure')),
      choose: (message) => operatorDecides(key, message, options.choicesAfterFailure(key)),
      after: (c, message) => {
        if (c.choice === 'retry') return 'retry';
        if (c.choice === 'fallback') throw new FallBack('fell_back', `step ${key} failed (${message}); ${c.actor} chose the fallback${c.reason ? `: ${c.reason}` : ''}`);
        Object.assign(stepState(key), { status: c.choice === 'skip' ? 'skipped' : 'done', operatorNote: `${c.choice === 'skip' ? '跳过 skipped' : '人工修复后继续 continued after manual fix'} by ${c.actor}: ${c.reason}` });
        state.status = 'running';
        publish();
        return 'ended';
      },
    });
  }

  /**
   * A step added in a later version: run where the history says the run has it (patched), else shown as not part
   * of the version the run started with. The patch is asked at the same point as the step, as before.
   */
  async function patchedStep(patchId: string, key: K, body: () => Promise<string>, note?: string): Promise<void> {
    if (patched(patchId)) await step(key, body);
    else notInThisVersion(key, note);
  }

  /** Opens a gate and waits for its approvals, escalating each time its timeout passes; a rejection falls back. */
  async function gate(name: G['name']): Promise<G> {
    const g = state.gates.find((x) => x.name === name)!;
    const key = options.gateStep(name);
    const wfId = workflowInfo().workflowId;
    g.status = 'open';
    g.openedAt = now();
    begin(key, 'waiting_approval');
    while (!(await condition(() => g.status !== 'open', Math.max(1000, Math.round(g.escalateAfterMinutes * 60_000))))) {
      g.escalations++;
      publish();
      await notify.notifyPlan({
        key: `${wfId}/gate/${name}/escalation/${g.escalations}`,
        kind: 'escalation',
        workflowId: wfId,
        planId: options.runId,
        subject: `督办 Gate "${g.title}" of ${options.runNoun} ${options.runId} is undecided after ${g.escalateAfterMinutes * g.escalations} min (${g.approvedBy.length}/${g.approvals} approvals)`,
        ownerRole: g.roles.join(','),
        waitingFor: g.roles.join(' or '),
      });
    }
    // The signal handler changed the status while we waited; TypeScript cannot see that.
    if ((g.status as RunGate['status']) === 'rejected') {
      finish(key, 'rejected', `rejected by ${g.decidedBy}: ${g.reason ?? ''}`);
      throw new FallBack('rejected', `gate "${name}" rejected by ${g.decidedBy}${g.reason ? `: ${g.reason}` : ''}`);
    }
    finish(key, 'done', `approved by ${g.approvedBy.map((a) => a.actor).join(', ')}`);
    return g;
  }

  /** Cancelled through the API (or the UI): running steps and undecided gates read as cancelled, not stuck. */
  function markCancelled(): void {
    for (const s of state.steps) if (s.status === 'running') Object.assign(s, { status: 'cancelled', finishedAt: now() });
    for (const g of state.gates) if (g.status === 'open' || g.status === 'waiting') g.status = 'cancelled';
  }

  /** A start the run refuses: no gate opens and no step runs but `last` (the report every run ends with). */
  function cancelAllBut(last: K): void {
    for (const s of state.steps) if (s.status === 'pending' && s.key !== last) s.status = 'cancelled';
    for (const g of state.gates) g.status = 'cancelled';
  }

  /**
   * A child the run needs to end (the fallback) goes through the failure path too: if it fails (terminated, a
   * bug), the operator chooses to start it again or to go on without it — a run never ends without a choice. A
   * cancellation is no failure: `on.cancelled` runs and the cancellation goes on up.
   */
  async function childWithChoices<T>(
    key: 'fallback',
    start: () => Promise<T>,
    on: { cancelled(): Promise<void>; failed(): void; again(): void; message(err: unknown): string },
  ): Promise<{ result: T } | { without: OperatorDecision }> {
    for (;;) {
      try {
        return { result: await start() };
      } catch (err) {
        if (isCancellation(err)) {
          await on.cancelled();
          throw err;
        }
        const message = on.message(err);
        on.failed();
        const c = await operatorDecides(key, message, ['retry', 'continue']);
        if (c.choice !== 'retry') return { without: c };
        on.again();
      }
    }
  }

  /**
   * The handlers of the run's signed messages: gate decisions (the gate rule chain, four-eyes against the run's
   * initiator) and the operator's choices on a failed step (`step:<key>`, skip and continue with a reason).
   * Every message is admitted by admission.ts and judged by the rules of decisions.ts: a malformed, unsigned,
   * forged or replayed one is a recorded refusal and never an error that could fail the run.
   */
  function takeSignedMessages(
    inbox: SignedInbox,
    signals: { gateDecision: SignalDefinition<[SignedDecision]>; operatorChoice: SignalDefinition<[SignedDecision<StepChoice>]> },
    wording: { gateLabel?: (gate: string) => string } = {},
  ): void {
    setHandler(
      signals.gateDecision,
      signedHandler(GATE_DECISION, inbox, {
        refused: refusalsInto(state.decisions, now, () => publish()),
        admitted: (d) => {
          const { gate, refusal } = gateRefusal(state.gates, d, state.requestedBy, { runNoun: 'run', gateLabel: wording.gateLabel });
          keepDecision(state.decisions, d, now(), refusal);
          if (!refusal && gate) applyGateDecision(gate, d, now());
          publish();
        },
      }),
    );
    setHandler(
      signals.operatorChoice,
      signedHandler(OPERATOR_CHOICE, inbox, {
        refused: refusalsInto(state.operatorActions, now, () => publish()),
        admitted: (d) => {
          const refusal = pendingChoiceRefusal(state.pendingFailure, d, { prefix: 'step', needReason: ['skip', 'continue'], wording: { step: 'failed step', waitsFor: 'the operator', act: 'choose how a failed step goes on' } });
          keepDecision(state.operatorActions, d, now(), refusal);
          if (!refusal) waiting.choose({ choice: d.decision, reason: d.reason, actor: d.actor });
          publish();
        },
      }),
    );
  }

  return { now, stepState, begin, finish, step, patchedStep, notInThisVersion, gate, operatorDecides, markCancelled, cancelAllBut, childWithChoices, takeSignedMessages };
}
