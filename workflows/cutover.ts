import {
  ActivityFailure,
  ActivityOptions,
  ApplicationFailure,
  ChildWorkflowFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { TableChecksum } from '../activities/target';
import type { LoadStep } from '../migration/mapping';
import type { PreflightReport } from '../migration/preflight';
import { CutoverInput, CutoverState, cutoverStateQuery, decideGateSignal, GATE_DEFINITIONS, GATES, operatorActionSignal, RunStatus, StepKey } from './cutover-messages';
import { renderCutoverChecklist } from './cutover-report';
import { choicesAfterFailure, GATE_STEP, STEP_KEYS, stepLabel, stepTitle } from './cutover-steps';
import { signedStartRefusal } from './kit/admission';
import { DEFAULTS } from './kit/defaults';
import { signedInbox } from './kit/decisions';
import { publisher } from './kit/publish';
import { FallBack, runbook } from './kit/runbook';
import { leaseHold } from './kit/target-lease';
import { fallback } from './fallback';
import { inLoadOrder } from './load-order';
import { migrateTable } from './migrate-table';
import { verification } from './verification';

/**
 * 系统上线 · the go-live cutover in the seed's order: back up the legacy data, wipe the target's test data
 * (gate first), migrate, verify, go/no-go, snapshot → business tests → rollback → prove, test the official
 * addresses, switch the connected systems (gate first), evidence pack. A rejected gate or the operator's
 * choice after a failed step starts the fallback (回退) as a child. Every side effect is an activity;
 * this function only decides order. The machinery around the steps (the operator's choices on a failed step,
 * the gates, the signed messages, the projection) is the runbook kit's (workflows/kit/runbook.ts).
 */

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
function act(key: StepKey, note?: string, options: ActivityOptions = BASE_OPTIONS): Activities {
  return proxyActivities<Activities>({
    ...options,
    summary: `${stepLabel(key)} · ${stepTitle(key)}${note ? ' · ' + note : ''}`,
  });
}

/** Destructive or environment-facing steps retry less: a failure there wants a person soon, not in an hour. */
const FEW_RETRIES: ActivityOptions = { ...BASE_OPTIONS, retry: { initialInterval: '2s', maximumInterval: '20 seconds', maximumAttempts: 3 } };

export async function cutover(input: CutoverInput): Promise<CutoverState> {
  const wfId = workflowInfo().workflowId;
  const state: CutoverState = {
    runId: input.runId,
    mode: input.mode,
    requestedBy: input.requestedBy,
    status: 'running',
    phase: 'plan',
    steps: STEP_KEYS.map((key) => ({ key, title: stepTitle(key), status: 'pending', plannedMinutes: input.plannedMinutes?.[key] })),
    gates: GATES.map((name) => ({ ...GATE_DEFINITIONS[name], ...input.gates?.[name], status: 'waiting', approvedBy: [], escalations: 0 })),
    decisions: [],
    operatorActions: [],
    tables: [],
    maintenanceWindow: input.maintenanceWindow,
  };
  const publish = publisher('cutover', () => ({ phase: state.phase, status: state.status, details: renderCutoverChecklist(state, wfId) }));
  const run = runbook(state, { runId: input.runId, runNoun: 'cutover', gateStep: (g) => GATE_STEP[g], choicesAfterFailure, publish });
  const now = run.now;

  setHandler(cutoverStateQuery, () => state);
  run.takeSignedMessages(signedInbox(checkDecision, wfId), { gateDecision: decideGateSignal, operatorChoice: operatorActionSignal }, { gateLabel: (g) => (g === 'go-no-go' ? 'go/no-go' : g) });

  const end = async (status: RunStatus, failure?: string): Promise<CutoverState> => {
    state.status = status;
    state.phase = 'finished';
    state.failure = failure;
    // 证据包: every run ends with one, whatever its outcome; a pack that cannot be written waits for the operator.
    await run.step(
      'evidence',
      async () => {
        state.status = status;
        state.evidence = await act('evidence').writeEvidencePack({ state });
        return state.evidence.markdown;
      },
      status,
    );
    state.status = status;
    state.phase = 'finished';
    await lease.release(status);
    publish();
    await condition(allHandlersFinished);
    return state;
  };
  /** 目标库租约 released once, at the run's end (completed, failed, fallen back, cancelled); nothing when none was taken. */
  const lease = leaseHold(state);

  /** A start the run refuses as its first acts: audited, nothing touched, ended with its evidence pack. */
  const refuseStart = async (failure: string, audit: { refusal: string; action?: 'start refused by the run: target held by another run' }): Promise<CutoverState> => {
    await checkDecision.auditRefusedStart({ workflowId: wfId, runId: workflowInfo().runId, requestedBy: String(input.requestedBy), ...audit });
    run.cancelAllBut('evidence');
    return end('failed', failure);
  };

  try {
    // 签名启动 The initiator is signed: a run started around the API (no or a forged signature, another
    // initiator than the one signed) is refused as its first act, recorded, and ends without touching anything.
    // A plan's cutover child is started by the plan workflow itself, which Temporal names as its parent.
    const unsigned = await signedStartRefusal(checkDecision, input.start, input.requestedBy);
    if (unsigned) return await refuseStart(`未经接口签名的启动 start refused: ${unsigned}`, { refusal: unsigned });

    // 目标库租约 One run per target database: taken before anything reads or changes it, released by end().
    // A start around the API (or two API starts racing) on a held target is refused here and recorded.
    if (patched('target-lease')) {
      const held = await lease.take('cutover', input.requestedBy);
      if (held) return await refuseStart(held, { refusal: held, action: 'start refused by the run: target held by another run' });
    }

    // 预检 first: a misspelt column or a missing table is named before anything is backed up or wiped.
    // Runs started before this step existed replay without it.
    await run.patchedStep('cutover-preflight-step', 'preflight', async () => {
      try {
        state.preflight = await act('preflight', undefined, FEW_RETRIES).preflightMapping({ runId: input.runId });
      } catch (err) {
        const cause = err instanceof ActivityFailure ? err.cause : undefined;
        if (cause instanceof ApplicationFailure && cause.type === 'ConfigError' && cause.details?.[0]) state.preflight = cause.details[0] as PreflightReport;
        throw err;
      }
      const { warnings, checked } = state.preflight;
      return `${checked.tables} tables, ${checked.columns} columns, ${checked.codeColumns} code columns checked${warnings.length ? `; ${warnings.length} warnings 提示: ${warnings.map((w) => `${w.where}: ${w.problem}`).join('; ')}` : ''}`;
    }, '未执行 not run: the run started before the preflight step existed');

    // 关停: the legacy application stays stopped for the weekend (until a fallback starts it), so nothing
    // written after the backup and the migration's read point can be missing from the new system.
    await run.patchedStep('legacy-shutdown-step', 'shutdown-legacy', async () => {
      const r = await act('shutdown-legacy', undefined, FEW_RETRIES).shutDownLegacy({ runId: input.runId });
      state.legacyShutdown = r;
      const stopped = r.stopped.length ? `stopped ${r.stopped.map((s) => s.name).join(', ')}` : 'no legacy service under the runbook’s control';
      return r.handedOver
        ? `${stopped}; ${r.handedOver}`
        : `${stopped}; no session of ${r.roles.join(', ') || '(no application role declared)'}; ${r.tables.length} legacy tables unchanged over ${r.quietSeconds} s`;
    });

    let tables: LoadStep[] = [];
    await run.step('plan', async () => {
      tables = await act('plan').listTables();
      return tables.map((t) => t.table).join(', ');
    });

    await run.step('backup', async () => {
      // The backup heartbeats like the migration's chunks: the run's heartbeat window applies to both.
      const backup = await act('backup', undefined, { ...BASE_OPTIONS, heartbeatTimeout: (input.migration?.heartbeatSeconds ?? DEFAULTS.heartbeatSeconds) * 1000 }).backupLegacy({ runId: input.runId });
      state.backup = { dir: backup.dir, files: backup.files.length, rows: backup.files.reduce((n, f) => n + f.rows, 0), readPoint: backup.readPoint ?? null };
      return `${state.backup.rows} rows in ${state.backup.files} files${backup.readPoint ? ` · 读取点 read point SCN ${backup.readPoint}` : ''}`;
    });

    // 只可查询，不可修改: from the backup on, the legacy data may be read, never changed.
    await run.patchedStep('legacy-readonly-step', 'legacy-readonly', async () => {
      const r = (state.legacyReadOnly ??= await act('legacy-readonly', undefined, FEW_RETRIES).makeLegacyReadOnly({ runId: input.runId }));
      const a = (state.legacyArchive = await act('legacy-readonly', '查询库 archive', FEW_RETRIES).buildLegacyArchive({ runId: input.runId }));
      return `${r.handedOver ?? r.roles.map((x) => x.proof).join('; ')}; 查询库 ${a.database}: ${a.tables.length} tables equal to the backup manifest, ${a.readOnlyProof}`;
    });

    const wipeGate = await run.gate('wipe');
    await run.step('wipe', async () => {
      const r = await act('wipe', undefined, FEW_RETRIES).wipeTargetTestData({ runId: input.runId, actor: wipeGate.decidedBy! });
      state.wiped = r.tables;
      return r.tables.length ? `emptied ${r.tables.map((t) => `${t.table} (${t.rows})`).join(', ')}` : 'the target held no test data';
    });

    await run.step('migrate', async () => {
      // Tables in the seed's load order (parents first; entity, history, approval data), a few side by
      // side where the order allows it; each table's chunks in parallel lanes.
      await inLoadOrder(tables, input.migration?.tablesInParallel ?? DEFAULTS.tablesInParallel, async (table) => {
        if (state.tables.some((t) => t.table === table)) return; // done before an operator's retry
        const r = await executeChild(migrateTable, {
          workflowId: `${wfId}/migrate/${table}`,
          args: [
            {
              runId: input.runId,
              table,
              rowsPerChunk: input.migration?.rowsPerChunk ?? DEFAULTS.rowsPerChunk,
              concurrency: input.migration?.concurrency ?? DEFAULTS.chunkConcurrency,
              heartbeatSeconds: input.migration?.heartbeatSeconds ?? DEFAULTS.heartbeatSeconds,
              stepLabel: stepLabel('migrate'),
            },
          ],
          staticSummary: `数据迁移 Migrate ${table} (run ${input.runId})`,
        });
        state.tables.push(r);
        // Reports list tables in the load order, whatever order they finished in.
        state.tables.sort((a, b) => tables.findIndex((t) => t.table === a.table) - tables.findIndex((t) => t.table === b.table));
        publish();
      });
      const moved = state.tables.reduce((n, t) => n + t.rowsLoaded, 0);
      const held = state.tables.reduce((n, t) => n + t.rowsQuarantined, 0);
      return `${moved} rows loaded, ${held} quarantined`;
    });

    // 内存数据库: whatever the cache holds about the target is stale once the migration wrote it.
    const memoryDb: NonNullable<CutoverState['memoryDb']> = (state.memoryDb = { flushes: [] });
    const flushMemoryDb = async (key: 'cache-flush' | 'cache-warm', after: 'migration' | 'rollback') => {
      const r = await act(key, undefined, FEW_RETRIES).flushMemoryDb({ runId: input.runId, why: `after the ${after}` });
      memoryDb.flushes.push({ after, result: r });
      return 'notConfigured' in r ? r.notConfigured : `${r.total} keys deleted (${Object.entries(r.deleted).map(([p, n]) => `${p}* ${n}`).join(', ')})`;
    };
    await run.patchedStep('memory-db-steps', 'cache-flush', async () => {
      const check = (memoryDb.check = await act('cache-flush', undefined, FEW_RETRIES).checkMemoryDb());
      if ('notConfigured' in check) return check.notConfigured;
      const flushed = await flushMemoryDb('cache-flush', 'migration');
      return `Redis ${check.version} at ${check.url}, maxmemory-policy ${check.maxmemoryPolicy}, save "${check.persistence.rdbSave}", appendonly ${check.persistence.aof ? 'yes' : 'no'}${check.warnings.length ? ` (注意 ${check.warnings.join('; ')})` : ''}; ${flushed}`;
    });

    // 迁移结果验证: the verification workflow as a child, through the same failure path as every step: a
    // verification that fails after its retries (the target unreachable, its database gone) waits for the
    // operator's choice; a failed verdict starts the fallback. The commands are those of the earlier
    // begin/executeChild/finish sequence, so running workflows replay unchanged.
    const verificationId = `${wfId}/verify`;
    await run.step('verify', async () => {
      const { markdown: _markdown, ...verified } = await executeChild(verification, {
        workflowId: verificationId,
        args: [{ runId: input.runId, ...input.verification, stepLabel: stepLabel('verify'), requestedBy: input.requestedBy }],
        staticSummary: `迁移结果验证 Verify migration (run ${input.runId})`,
      });
      state.verification = { ...verified, workflowId: verificationId };
      for (const c of verified.counts) {
        const t = state.tables.find((x) => x.table === c.table);
        if (t) t.countsReconciled = c.ok;
      }
      if (verified.verdict === 'failed') {
        const detail = verified.reasons.join('; ');
        run.finish('verify', 'failed', detail);
        throw new FallBack('failed', `verification failed 验证不通过 — ${detail}`);
      }
      // "incomplete" (e.g. no business interface configured) goes to the approvers, said plainly.
      return `${verified.verdict === 'passed' ? '通过 passed' : `未完成 incomplete: ${verified.reasons.join('; ')}`} — ${verified.rowsVerified} rows in ${verified.segments} segments equal, ${verified.sampled} entities sampled, ${verified.businessCases} business tests; report ${verified.reportFiles.markdown}`;
    });

    // 主体缺失: the go/no-go approvers see how many businesses would be missing from the new system if it went
    // live now (rows of the entity tables — entityDetail — held in quarantine, as reconciled from the target); state only, no command.
    const entityTables = new Set(tables.filter((t) => t.entity).map((t) => t.table));
    if (entityTables.size) {
      const missing = state.tables.filter((t) => entityTables.has(t.table)).reduce((n, t) => n + t.rowsQuarantined, 0);
      const flagged = state.tables.reduce((n, t) => n + Object.values(t.flaggedByRule ?? {}).reduce((a, b) => a + b, 0), 0);
      state.gates.find((g) => g.name === 'go-no-go')!.note = `主体缺失 entities missing if it went live now: ${missing}; 问题数据 rows loaded flagged: ${flagged} (data-quality issues)`;
    }
    await run.gate('go-no-go');

    let before: TableChecksum[] = [];
    // The new system's application holds sessions on the target: the snapshot (CREATE DATABASE … TEMPLATE)
    // and the rollback (drop and recreate) are taken with it stopped, and it starts again after each.
    const newAppStopped = patched('new-app-stopped-around-snapshot');
    const withNewAppStopped = async (key: 'snapshot' | 'rollback', body: () => Promise<string>): Promise<string> => {
      if (!newAppStopped) return body();
      const stopped = await act(key, '停止新系统应用 stop the new application', FEW_RETRIES).controlServices({ side: 'new', action: 'stop', runId: input.runId, kind: 'app' });
      const detail = await body();
      const started = await act(key, '启动新系统应用 start the new application', FEW_RETRIES).controlServices({ side: 'new', action: 'start', runId: input.runId, kind: 'app' });
      return stopped.length ? `${detail} (new application ${stopped.map((s) => s.name).join(', ')} stopped before, started after: ${started.map((s) => s.detail).join('; ')})` : detail;
    };
    await run.step('snapshot', () =>
      withNewAppStopped('snapshot', async () => {
        const r = await act('snapshot', undefined, FEW_RETRIES).snapshotTarget({ runId: input.runId });
        state.snapshot = r.snapshot;
        before = r.checksums;
        return `${r.snapshot}: ${r.checksums.map((c) => `${c.table} ${c.rows}`).join(', ')}`;
      }),
    );
    let businessSkipped: string | undefined;
    await run.step('business-tests', async () => {
      const entities = input.verification?.businessTests?.entities ?? 2;
      const r = entities > 0 ? await act('business-tests').cutoverBusinessTests({ runId: input.runId, entities, date: now().slice(0, 10), candidates: state.verification?.sampleForBusinessTests?.length ? state.verification.sampleForBusinessTests : undefined }) : { skipped: 'not requested (businessTests.entities = 0)' };
      state.businessTests = r;
      if ('skipped' in r) {
        businessSkipped = r.skipped;
        return `未执行 not run: ${r.skipped}`;
      }
      const failed = r.cases.filter((c) => !c.ok);
      if (!r.cases.length || failed.length) {
        throw ApplicationFailure.create({ message: `business tests failed 业务测试不通过: ${r.cases.length ? failed.map((c) => `${c.title} on ${c.pripid}: ${c.detail}`).join('; ') : 'no active entity to test on'}` });
      }
      return r.cases.map((c) => `${c.title} on ${c.pripid} ✓`).join(', ');
    });
    // Nothing was tested: the checklist must not read as if it had been.
    if (businessSkipped) Object.assign(run.stepState('business-tests'), { status: 'skipped', operatorNote: `未执行 not run: ${businessSkipped}` });
    await run.step('rollback', () =>
      withNewAppStopped('rollback', async () => {
        const r = await act('rollback', undefined, FEW_RETRIES).rollbackTarget({ runId: input.runId });
        return `target recreated from ${r.snapshot}`;
      }),
    );
    await run.step('prove-rollback', async () => {
      const after = await act('prove-rollback').targetChecksums();
      const equal = JSON.stringify(after) === JSON.stringify(before);
      state.rollbackProof = { equal, before, after };
      if (!equal) throw ApplicationFailure.create({ message: 'the target after the rollback differs from the snapshot taken before the business tests' });
      return `${after.length} tables: checksums equal to before the tests`;
    });

    // The rollback replaced the target under the cache: delete what it holds, then warm it from the
    // target before any connected system is switched to the new system.
    await run.patchedStep('memory-db-steps', 'cache-warm', async () => {
      const flushed = await flushMemoryDb('cache-warm', 'rollback');
      const warm = (memoryDb.warm = await act('cache-warm').warmMemoryDb({ runId: input.runId }));
      return 'notConfigured' in warm ? warm.notConfigured : `${flushed}; warmed ${warm.total} keys (${warm.items.map((i) => `${i.name}: ${i.keys}`).join(', ')})`;
    });

    await run.step('test-addresses', async () => {
      const checks = await act('test-addresses', undefined, FEW_RETRIES).checkAddresses({ side: 'new' });
      state.addressChecks = checks;
      const bad = checks.filter((c) => !c.ok);
      if (bad.length) throw ApplicationFailure.create({ message: `official addresses not answering: ${bad.map((b) => `${b.id} ${b.url} (${b.error ?? b.status})`).join('; ')}` });
      return `${checks.length} official addresses answer`;
    });

    const switchGate = await run.gate('switch');
    await run.step('switch', async () => {
      const r = await act('switch', undefined, FEW_RETRIES).switchEndpoints({ runId: input.runId, to: 'new', actor: switchGate.decidedBy! });
      state.switched = r.switched;
      return `${r.switched.length} systems on the new addresses (${r.switched.filter((s) => s.changed).length} switched now); ${r.manual.length} switched by hand`;
    });
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled through the API (or the UI): say so in the state and the search attributes, so the
      // run leaves the pending-approvals list and reads as cancelled rather than stuck "running".
      await CancellationScope.nonCancellable(async () => {
        run.markCancelled();
        await end('cancelled', 'cancelled on request 已按请求取消');
      });
      throw err;
    }
    if (!(err instanceof FallBack)) {
      await lease.release('failed');
      throw err;
    }
    // 回退: started automatically on a rejected gate, a failed verification, or the operator's choice; a fallback
    // that fails waits for the operator to start it again or to end the run with its evidence pack.
    const fallbackId = `fallback-${input.runId}`;
    const fallingBack = () => {
      state.status = err.status;
      state.fallback = { workflowId: fallbackId, status: 'running' };
      publish();
    };
    state.failure = err.message;
    fallingBack();
    const f = await run.childWithChoices(
      'fallback',
      () =>
        executeChild(fallback, {
          workflowId: fallbackId,
          args: [{ runId: input.runId, cutoverWorkflowId: wfId, requestedBy: input.requestedBy, reason: err.message, cutover: state }],
          staticSummary: `回退 Fallback of cutover ${input.runId}: ${err.message}`.slice(0, 400),
        }),
      {
        cancelled: () => lease.release('cancelled'),
        message: (e) => `回退失败 the fallback failed: ${e instanceof ChildWorkflowFailure && e.cause ? e.cause.message : (e as Error).message}`,
        failed: () => {
          state.fallback = { workflowId: fallbackId, status: 'failed' };
        },
        again: fallingBack,
      },
    );
    state.fallback = 'result' in f ? { workflowId: fallbackId, status: f.result.status, report: f.result.report } : { workflowId: fallbackId, status: `failed; ${f.without.actor} ended the run without it: ${f.without.reason ?? ''}` };
    return end(err.status, err.message);
  }
  return end('completed');
}
