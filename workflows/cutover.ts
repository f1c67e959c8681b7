import {
  ActivityOptions,
  allHandlersFinished,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SignedDecision } from '../lib/decision-signing';
import {
  CutoverInput,
  CutoverState,
  cutoverStateQuery,
  decideGateSignal,
  GateState,
  RunStatus,
  StepKey,
  StepState,
} from './cutover-messages';
import { renderCutoverChecklist } from './cutover-report';
import { migrateTable } from './migrate-table';
import { verification } from './verification';
import { RunbookKind, RunbookPhase, RunbookStatus } from './search-attributes';

/**
 * 系统上线 · the go-live cutover: back up the legacy data, migrate, verify, then wait for the
 * business approvers' go/no-go. Every side effect is an activity; this function only decides order.
 */

const STEP_TITLES: Record<StepKey, string> = {
  plan: '迁移计划 Plan tables',
  backup: '备份旧库 Back up legacy data',
  migrate: '数据迁移 Migrate',
  verify: '迁移结果验证 Verify (counts, checksums, sampling, business tests)',
  'go-no-go': '上线决策 Go/no-go approval',
};
const STEP_ORDER: StepKey[] = ['plan', 'backup', 'migrate', 'verify', 'go-no-go'];

const BASE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10 },
};

const checkDecision = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 20, maximumInterval: '30 seconds' },
  summary: '审批核验 Verify gate decision signature',
});

/** A proxy per call, so each activity carries its own summary line in the Web UI. */
function step(key: StepKey, note?: string): Activities {
  const n = STEP_ORDER.indexOf(key) + 1;
  return proxyActivities<Activities>({
    ...BASE_OPTIONS,
    summary: `Step ${n}/${STEP_ORDER.length} · ${STEP_TITLES[key]}${note ? ' · ' + note : ''}`,
  });
}

export async function cutover(input: CutoverInput): Promise<CutoverState> {
  const now = () => new Date().toISOString(); // replay-safe: the SDK makes Date deterministic in workflows
  const state: CutoverState = {
    runId: input.runId,
    mode: input.mode,
    requestedBy: input.requestedBy,
    status: 'running',
    phase: 'plan',
    steps: STEP_ORDER.map((key) => ({ key, title: STEP_TITLES[key], status: 'pending' })),
    gates: [{ name: 'go-no-go', title: STEP_TITLES['go-no-go'], status: 'waiting' }],
    decisions: [],
    tables: [],
  };

  setHandler(cutoverStateQuery, () => state);
  setHandler(decideGateSignal, async (d: SignedDecision) => {
    // Signals can come from anywhere that reaches Temporal: only an API-signed decision may count.
    const forged = await checkDecision.verifyDecision({ decision: d, workflowId: workflowInfo().workflowId });
    const gate = state.gates.find((g) => g.name === d.gate);
    const refusal = forged
      ? forged
      : !gate
        ? `unknown gate "${d.gate}"`
        : gate.status !== 'open'
          ? `gate "${d.gate}" is ${gate.status}, not open for decisions`
          : d.actor === input.requestedBy
            ? `four-eyes rule: ${d.actor} started this run and cannot decide its go/no-go gate`
            : undefined;
    state.decisions.push({ gate: d.gate, decision: d.decision, actor: d.actor, role: d.role, reason: d.reason, at: now(), accepted: !refusal, refusal });
    publish();
    if (refusal || !gate) return;
    gate.status = d.decision === 'approve' ? 'approved' : 'rejected';
    gate.decidedBy = d.actor;
    gate.decidedAt = now();
    gate.reason = d.reason;
  });

  const stepState = (key: StepKey): StepState => state.steps.find((s) => s.key === key)!;
  const publish = () => {
    upsertSearchAttributes([
      { key: RunbookKind, value: 'cutover' },
      { key: RunbookPhase, value: state.phase },
      { key: RunbookStatus, value: state.status },
    ]);
    setCurrentDetails(renderCutoverChecklist(state, workflowInfo().workflowId));
  };
  const begin = (key: StepKey, status: RunStatus = 'running') => {
    Object.assign(stepState(key), { status: 'running', startedAt: now() });
    state.phase = key;
    state.status = status;
    publish();
  };
  const finish = (key: StepKey, status: StepState['status'], detail?: string) => {
    Object.assign(stepState(key), { status, finishedAt: now(), detail });
    publish();
  };
  const end = async (status: RunStatus, failure?: string): Promise<CutoverState> => {
    state.status = status;
    state.phase = 'finished';
    state.failure = failure;
    publish();
    await condition(allHandlersFinished);
    return state;
  };

  try {
    return await runSteps();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled through the API (or the UI): say so in the state and the search attributes, so the
    // run leaves the pending-approvals list and reads as cancelled rather than stuck "running".
    await CancellationScope.nonCancellable(async () => {
      for (const s of state.steps) if (s.status === 'running') Object.assign(s, { status: 'cancelled', finishedAt: now() });
      for (const g of state.gates) if (g.status === 'open' || g.status === 'waiting') g.status = 'cancelled';
      await end('cancelled', 'cancelled on request 已按请求取消');
    });
    throw err;
  }

  async function runSteps(): Promise<CutoverState> {
    begin('plan');
    const tables = await step('plan').listTables();
    finish('plan', 'done', tables.join(', '));

    begin('backup');
    const backup = await step('backup').backupLegacy({ runId: input.runId });
    state.backup = {
      dir: backup.dir,
      files: backup.files.length,
      rows: backup.files.reduce((n, f) => n + f.rows, 0),
    };
    finish('backup', 'done', `${state.backup.rows} rows in ${state.backup.files} files`);

    begin('migrate');
    // Tables one after another in the mapping's order (parents before children); chunks in parallel.
    for (const table of tables) {
      const r = await executeChild(migrateTable, {
        workflowId: `${workflowInfo().workflowId}/migrate/${table}`,
        args: [
          {
            runId: input.runId,
            table,
            rowsPerChunk: input.migration?.rowsPerChunk ?? 100_000,
            concurrency: input.migration?.concurrency ?? 2,
            heartbeatSeconds: input.migration?.heartbeatSeconds ?? 60,
            stepLabel: `Step ${STEP_ORDER.indexOf('migrate') + 1}/${STEP_ORDER.length}`,
          },
        ],
        staticSummary: `数据迁移 Migrate ${table} (run ${input.runId})`,
      });
      state.tables.push(r);
      publish();
    }
    const moved = state.tables.reduce((n, t) => n + t.rowsLoaded, 0);
    const held = state.tables.reduce((n, t) => n + t.rowsQuarantined, 0);
    finish('migrate', 'done', `${moved} rows loaded, ${held} quarantined`);

    begin('verify');
    // ── verify step (issue 4): the verification workflow as a child; its verdict decides ──
    const verificationId = `${workflowInfo().workflowId}/verify`;
    const { markdown: _markdown, ...verified } = await executeChild(verification, {
      workflowId: verificationId,
      args: [{ runId: input.runId, ...input.verification, stepLabel: `Step ${STEP_ORDER.indexOf('verify') + 1}/${STEP_ORDER.length}`, requestedBy: input.requestedBy }],
      staticSummary: `迁移结果验证 Verify migration (run ${input.runId})`,
    });
    state.verification = { ...verified, workflowId: verificationId };
    for (const c of verified.counts) {
      const t = state.tables.find((x) => x.table === c.table);
      if (t) t.countsReconciled = c.ok;
    }
    if (verified.verdict === 'failed') {
      const detail = verified.reasons.join('; ');
      finish('verify', 'failed', detail);
      return end('failed', `verification failed 验证不通过 — ${detail}`);
    }
    // "incomplete" (e.g. no business interface configured) goes to the approvers, said plainly.
    finish(
      'verify',
      'done',
      `${verified.verdict === 'passed' ? '通过 passed' : `未完成 incomplete: ${verified.reasons.join('; ')}`} — ${verified.rowsVerified} rows in ${verified.segments} segments equal, ${verified.sampled} entities sampled, ${verified.businessCases} business tests; report ${verified.reportFiles.markdown}`,
    );
    // ── end verify step ──

    const gate = state.gates[0];
    gate.status = 'open';
    begin('go-no-go', 'waiting_approval');
    await condition(() => gate.status !== 'open');
    // The signal handler changed the status while we waited; TypeScript cannot see that.
    const outcome = gate.status as GateState['status'];
    if (outcome === 'rejected') {
      finish('go-no-go', 'rejected', `rejected by ${gate.decidedBy}: ${gate.reason ?? ''}`);
      return end('rejected');
    }
    finish('go-no-go', 'done', `approved by ${gate.decidedBy}`);
    return end('completed');
  }
}
