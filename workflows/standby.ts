import { ApplicationFailure, condition, proxyActivities, RetryPolicy, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { StandbySegmentResult } from '../standby/consistency';
import { tableAgreement } from '../standby/agreement';
import { decideGateSignal } from './cutover-messages';
import { signedMessageSchema } from './kit/admission';
import { applyGateDecision, gateRefusal, keepDecision, keepRefused, signedHandler, signedInbox } from './kit/decisions';
import { publisher } from './kit/publish';
import { CheckSummary, StandbyInput, StandbyState, standbyStateQuery } from './standby-messages';
import { inLanes } from './kit/lanes';

const GATE_DECISION = signedMessageSchema(['approve', 'reject']);

/**
 * 备点库 The standby run: the process lives here, the machinery in standby/ and activities/standby.ts.
 * - setup 配置: record 备份的数据内容范围/频率/路径, build or re-attach the replicas, prove both copies
 *   stream, put the check on a Temporal Schedule (every N minutes, overlap skip);
 * - check 巡检: lag and retained WAL of the standby and the DR copy, alerts (each with what to do),
 *   consistency of every table at a primary position the copy replayed past, one activity per segment;
 * - drill 容灾演练: restore the off-site copy into a fresh instance, four-eyes gate, promote, verify it
 *   against the primary, RTO/RPO.
 * Every action ends with a report (Markdown/HTML/JSON) and, for checks, a row in the lag trend.
 */
const RETRY: RetryPolicy = { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 5 };
const MISMATCHES_KEPT = 20;

export async function standby(input: StandbyInput): Promise<StandbyState> {
  const wfId = workflowInfo().workflowId;
  const now = () => new Date().toISOString();
  /** a long one heartbeats: `heartbeatSeconds` (the check's, from the config) or a minute */
  const act = (summary: string, long = false, heartbeatSeconds = 60) =>
    proxyActivities<Activities>({ startToCloseTimeout: long ? '2 hours' : '15 minutes', heartbeatTimeout: long ? `${heartbeatSeconds} seconds` : undefined, retry: RETRY, summary });
  const state: StandbyState = {
    runId: input.runId,
    action: input.action,
    requestedBy: input.requestedBy,
    status: 'running',
    phase: input.action,
    copy: input.copy ?? (input.action === 'drill' ? 'dr' : 'standby'),
    alerts: [],
    gates:
      input.action === 'drill'
        ? [{ name: 'promote' as never, title: '容灾演练提升审批 Approve promoting the restored DR copy', roles: ['approver', 'admin'], approvals: 1, escalateAfterMinutes: 30, status: 'waiting', approvedBy: [], escalations: 0 }]
        : [],
    decisions: [],
    progress: { done: 0, total: 0 },
  };
  setHandler(standbyStateQuery, () => state);
  const checkDecision = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: RETRY, summary: '审批核验 verify decision signature' });
  // The same gate rules as the cutover's (workflows/kit/decisions.ts) after the shared admission
  // (workflows/kit/admission.ts): the payload's shape, the API's signature bound to this run, a one-time
  // nonce; then the gate open, four-eyes, the gate's roles, distinct approvers. No message, however
  // malformed, can fail the run: a bad one is a recorded refusal.
  setHandler(
    decideGateSignal,
    signedHandler(GATE_DECISION, signedInbox(checkDecision, wfId), {
      refused: (shown, refusal) => {
        keepRefused(state.decisions, { ...shown, role: shown.role ?? '?' }, now(), refusal);
        publish();
      },
      admitted: (d) => {
        const { gate, refusal } = gateRefusal(state.gates, d, input.requestedBy, { runNoun: 'drill' });
        keepDecision(state.decisions, d, now(), refusal);
        if (!refusal && gate) applyGateDecision(gate, d, now());
        publish();
      },
    }),
  );

  const publish = publisher('standby', () => {
    const c = state.check ?? state.drill?.verify;
    return {
      phase: state.phase,
      status: state.status,
      details: [
        `### 备点库 Standby ${input.action} ${input.runId}: ${state.phase} (${state.status})`,
        state.health?.map((h) => `- ${h.streaming ? '✅ streaming' : '❌ NOT streaming'}, lag ${h.lagBytes ?? '?'} B / ${h.lagSeconds ?? '?'} s, slot ${h.slot.name} retains ${h.slot.retainedWalBytes ?? '?'} B`).join('\n') ?? '',
        state.progress.total ? `- segments ${state.progress.done}/${state.progress.total}` : '',
        c ? `- consistency: ${c.consistent ? '一致 consistent' : `不一致 ${c.differingSegments} segments differ`}` : '',
        ...state.alerts.map((a) => `- ⚠ ${a.subject} — ${a.action}`),
      ]
        .filter(Boolean)
        .join('\n'),
    };
  });
  publish();

  /** Lag, slot and alerts of one copy; alerts go out through the notification path. */
  async function healthOf(copy: 'standby' | 'dr') {
    const h = await act(`复制状态 replication health (${copy})`).standbyHealth({ copy });
    state.health = [...(state.health ?? []), h.health];
    for (const a of h.alerts) {
      state.alerts.push({ ...a, copy });
      await act(`告警 alert ${a.kind}`).notifyPlan({ key: `${wfId}/alert/${copy}/${a.kind}`, kind: 'escalation', workflowId: wfId, planId: input.runId, subject: `${a.subject} — 处置 ${a.action}`, ownerRole: 'operator', waitingFor: 'operator' });
    }
    publish();
    return h;
  }

  /** Every segment of every table at one primary position, a few at a time, against the copy. */
  async function consistency(copy: 'standby' | 'dr' | number, label: string): Promise<CheckSummary> {
    state.phase = 'consistency';
    publish();
    const plan = await act(`一致性计划 plan segments (${label})`).standbyPlan({ tables: input.tables });
    state.progress = { done: 0, total: plan.segments.length };
    const catchUp = await act(`追平 wait until ${label} replayed past ${plan.point}`, true, plan.heartbeatSeconds).standbyCatchUp({ copy, point: plan.point });
    const started = Date.now();
    const results: StandbySegmentResult[] = [];
    await inLanes(plan.segments, plan.concurrency, async ({ table, segment }, n) => {
      const r = await act(`一致性校验 ${table} · segment ${segment.id} (${n + 1}/${plan.segments.length})`, true, plan.heartbeatSeconds).standbySegment({ copy, table, segment, point: plan.point });
      results.push(r.ok ? { ...r, differences: [] } : r);
      state.progress.done++;
      publish();
    });
    const bad = results.filter((r) => !r.ok);
    return {
      point: plan.point,
      catchUp,
      segments: results.length,
      differingSegments: bad.length,
      clearedOnRecheck: results.filter((r) => r.clearedOnRecheck).length,
      rowsCompared: results.reduce((n, r) => n + r.primaryRows, 0),
      tables: tableAgreement(results),
      mismatches: bad.slice(0, MISMATCHES_KEPT),
      consistent: bad.length === 0 && (catchUp.reached || catchUp.promoted),
      contentMs: Date.now() - started,
    };
  }

  async function report() {
    state.phase = 'report';
    publish();
    const { text: _text, ...files } = await act('备点库报告 write report').writeStandbyReport({ state, workflowId: wfId });
    state.report = files;
    state.reportId = wfId;
  }

  try {
    if (input.action === 'setup') {
      state.config = await act('配置记录 record scope, frequency and paths').standbyConfigRecord({ tables: input.tables, checkEveryMinutes: input.checkEveryMinutes });
      state.phase = 'build';
      publish();
      state.setupActions = (await act('建立或接管备点库 build or re-attach the standby and the DR copy').standbyBuild()).actions;
      state.phase = 'prove';
      publish();
      state.proof = await act('同步证明 prove both copies stream').standbyProveStreaming({});
      await healthOf('standby');
      await healthOf('dr');
      const every = input.checkEveryMinutes ?? state.config.frequency.checkEveryMinutes;
      if (every > 0) {
        state.phase = 'schedule';
        publish();
        state.scheduleId = (await act(`定时巡检 schedule the check every ${every} min`).standbySchedule({ scheduleId: `standby-check-${input.runId}`, everyMinutes: every, requestedBy: input.requestedBy })).scheduleId;
      }
      state.status = state.alerts.length ? 'alerting' : 'completed';
    } else if (input.action === 'check') {
      const h = await healthOf(state.copy);
      if (state.copy === 'standby') await healthOf('dr');
      if (h.health.standby.reachable && h.health.standby.inRecovery) {
        state.check = await consistency(state.copy, state.copy);
        if (!state.check.consistent) {
          const m = state.check.mismatches[0];
          const alert = state.check.catchUp.reached
            ? {
                kind: 'mismatch' as const,
                subject: `备点库数据不一致 ${state.check.differingSegments} segments differ between primary and ${state.copy} after re-checks${m ? ` (first: ${m.table} segment ${m.segmentId}, key ${m.differences[0]?.key ?? '?'})` : ''}`,
                action: 'Read the report for the keys and fields; a row that differs on the standby alone means the copy is not a faithful replica: stop relying on it for failover and rebuild it (setup) after finding the cause.',
              }
            : {
                kind: 'catch_up_timeout' as const,
                subject: `备点库未追平 ${state.copy} did not replay past ${state.check.point} within the timeout: consistency not established`,
                action: 'See the lag figures; fix what holds replay back, then run a check again.',
              };
          state.alerts.push({ ...alert, copy: state.copy });
          await act(`告警 alert ${alert.kind}`).notifyPlan({ key: `${wfId}/alert/${state.copy}/${alert.kind}`, kind: 'escalation', workflowId: wfId, planId: input.runId, subject: `${alert.subject} — 处置 ${alert.action}`, ownerRole: 'operator', waitingFor: 'operator' });
        }
      }
      state.status = state.alerts.length ? 'alerting' : 'healthy';
    } else {
      const name = `drill_${input.runId.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(-12)}`;
      const port = input.drillPort ?? 25440;
      state.phase = 'restore';
      publish();
      const restored = await act(`恢复 restore the DR copy into a fresh instance ${name}`, true).standbyDrillRestore({ name, port });
      const startedMs = Date.parse(restored.startedAt);
      const gate = state.gates[0];
      gate.status = 'open';
      gate.openedAt = now();
      state.status = 'waiting_approval';
      state.phase = 'gate-promote';
      publish();
      const openedMs = Date.now();
      await condition(() => gate.status !== 'open');
      const decisionMs = Date.now() - openedMs;
      state.status = 'running';
      if ((gate.status as string) === 'rejected') {
        state.status = 'rejected';
        state.phase = 'cleanup';
        await act('清理 remove the drill instance').standbyDrillRemove({ name });
        state.drill = { instance: name, port, restorePoint: null, primaryLsn: null, rpoBytes: null, rpoSeconds: null, rtoSeconds: null, rtoWallSeconds: null, decisionWaitSeconds: Math.round(decisionMs / 1000), actions: restored.actions, kept: false };
      } else {
        state.phase = 'promote';
        publish();
        const p = await act(`提升 promote ${name}`).standbyDrillPromote({ name, port });
        const promotedMs = Date.parse(p.promotedAt);
        state.drill = {
          instance: name,
          port,
          restorePoint: p.restorePoint,
          primaryLsn: p.primaryLsn,
          rpoBytes: p.rpoBytes,
          rpoSeconds: p.rpoSeconds,
          rtoSeconds: Math.round((promotedMs - startedMs - decisionMs) / 100) / 10,
          rtoWallSeconds: Math.round((promotedMs - startedMs) / 100) / 10,
          decisionWaitSeconds: Math.round(decisionMs / 100) / 10,
          actions: [...restored.actions, ...p.actions],
          kept: Boolean(input.keepDrillInstance),
        };
        state.drill.verify = await consistency(port, `drill copy ${name}`);
        if (!input.keepDrillInstance) state.drill.actions.push(...(await act('清理 remove the drill instance').standbyDrillRemove({ name })).actions);
        state.status = state.drill.verify.consistent ? 'completed' : 'alerting';
      }
    }
  } catch (err) {
    state.status = 'failed';
    state.error = err instanceof ApplicationFailure || err instanceof Error ? (err.cause as Error | undefined)?.message ?? err.message : String(err);
    publish();
    await report().catch(() => undefined);
    throw err;
  }
  await report();
  state.phase = 'finished';
  publish();
  return state;
}
