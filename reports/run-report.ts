import type { CutoverState, DecisionRecord } from '../workflows/cutover-messages';
import type { FallbackState } from '../workflows/fallback-messages';
import type { HistoryDigest } from './run-history';

/**
 * The documents a run leaves behind: the cutover's 证据包 evidence pack, rendered from the workflow's
 * state, and the fallback's 失败原因分析 failure-analysis report, rendered from the runs' Temporal event
 * histories (reports/run-history.ts) beside their state. Markdown for people; the JSON beside it carries
 * the same facts for tools.
 */
const cell = (v: unknown) => String(v ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const table = (head: string[], rows: unknown[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

function decisionsTable(ds: DecisionRecord[]): string {
  if (!ds.length) return '无 None.';
  return table(
    ['时间 At', '关口 Gate/step', '决定 Decision', '人 Who', '角色 Role', '理由 Reason', '接受 Accepted'],
    ds.map((d) => [d.at, d.gate, d.decision, d.actor, d.role, d.reason, d.accepted ? 'yes' : `no — ${d.refusal}`]),
  );
}

function timeline(c: CutoverState): string {
  return table(
    ['序号 No.', '步骤 Step', '状态 Status', '开始 Started', '结束 Finished', '计划 Planned (min)', '实际 Actual (min)', '说明 Detail'],
    // Numbered by place in the run's list: the step table's order (workflows/cutover-steps.ts) when the run started.
    c.steps.map((s, i) => [`${i + 1}/${c.steps.length}`, s.title, s.status, s.startedAt, s.finishedAt, s.plannedMinutes, s.actualMs === undefined ? '' : (s.actualMs / 60000).toFixed(2), s.error ?? s.operatorNote ?? s.detail]),
  );
}

export interface EvidenceJson {
  kind: 'evidence-pack';
  runId: string;
  mode: string;
  status: string;
  requestedBy: string;
  steps: CutoverState['steps'];
  decisions: DecisionRecord[];
  operatorActions: DecisionRecord[];
  tables: CutoverState['tables'];
  backup?: CutoverState['backup'];
  legacyShutdown?: CutoverState['legacyShutdown'];
  memoryDb?: CutoverState['memoryDb'];
  legacyReadOnly?: CutoverState['legacyReadOnly'];
  legacyArchive?: CutoverState['legacyArchive'];
  businessTests?: CutoverState['businessTests'];
  rollbackProof?: CutoverState['rollbackProof'];
  switched?: CutoverState['switched'];
  projection?: CutoverState['projection'];
  fallback?: CutoverState['fallback'];
  targetLease?: CutoverState['targetLease'];
}

export function renderEvidence(c: CutoverState): { markdown: string; json: EvidenceJson } {
  const json: EvidenceJson = {
    kind: 'evidence-pack',
    runId: c.runId,
    mode: c.mode,
    status: c.status,
    requestedBy: c.requestedBy,
    steps: c.steps,
    decisions: c.decisions,
    operatorActions: c.operatorActions,
    tables: c.tables,
    backup: c.backup,
    legacyShutdown: c.legacyShutdown,
    memoryDb: c.memoryDb,
    legacyReadOnly: c.legacyReadOnly,
    legacyArchive: c.legacyArchive,
    businessTests: c.businessTests,
    rollbackProof: c.rollbackProof,
    switched: c.switched,
    projection: c.projection,
    fallback: c.fallback,
    targetLease: c.targetLease,
  };
  const md = [
    `# 割接证据包 Cutover evidence pack — ${c.runId}`,
    '',
    `- 模式 Mode: ${c.mode === 'live' ? '正式 live' : '彩排 rehearsal'}`,
    `- 状态 Status: ${c.status}`,
    `- 发起人 Started by: ${c.requestedBy}`,
    c.targetLease
      ? `- 目标库租约 Target lease: ${c.targetLease.targetKey} (${c.targetLease.how}${c.targetLease.recoveredFrom ? ` from ${c.targetLease.recoveredFrom.workflowId}, run ${c.targetLease.recoveredFrom.runId}, ${c.targetLease.recoveredFrom.execution}` : ''}; released when the run ends, right after this pack)`
      : '',
    c.projection ? `- 预计完成 Projected finish: ${c.projection.projectedFinish}${c.projection.windowEnd ? ` (window ends ${c.projection.windowEnd}: ${c.projection.fitsWindow ? 'fits 可按时完成' : 'OVERRUNS 超出窗口'})` : ''}` : '',
    '',
    '## 时间线 Timeline',
    timeline(c),
    '',
    '## 审批 Decisions',
    decisionsTable(c.decisions),
    '',
    '## 操作员选择 Operator actions',
    decisionsTable(c.operatorActions),
    '',
    '## 关停旧系统 Legacy application shut down',
    !c.legacyShutdown
      ? '未执行 Not run.'
      : [
          `停止 Stopped: ${c.legacyShutdown.stopped.map((s) => `${s.name} (${s.detail})`).join('; ') || '无 none under the runbook’s control'}`,
          c.legacyShutdown.handedOver
            ? `交DBA确认 Handed to the DBA: ${c.legacyShutdown.handedOver}`
            : `无写入 Nothing writes: no session of ${c.legacyShutdown.roles.join(', ') || '(no application role declared)'}; change counters over ${c.legacyShutdown.quietSeconds} s:\n\n${table(['表 Table', 'before', 'after'], c.legacyShutdown.tables.map((t) => [t.table, t.before, t.after]))}`,
        ].join('\n\n'),
    '',
    '## 旧库只读 Legacy database query-only (只可查询，不可修改)',
    !c.legacyReadOnly
      ? '未执行 Not run.'
      : c.legacyReadOnly.handedOver
        ? `交DBA Handed over: ${c.legacyReadOnly.handedOver}`
        : table(['角色 Role', '收回的权限 Revoked', '证明 Proof'], c.legacyReadOnly.roles.map((r) => [r.role, r.revoked.map((g) => `${g.table}: ${g.privileges.join(' ')}`).join('; '), r.proof])),
    '',
    '## 查询库 Legacy archive (the backup, read-only, for 问题分析和追溯)',
    c.legacyArchive
      ? `${c.legacyArchive.database}: ${c.legacyArchive.readOnlyProof}\n\n${table(['表 Table', '行 Rows', 'SHA-256', '与备份一致 Equal to the backup'], c.legacyArchive.tables.map((t) => [t.table, t.rows, t.sha256, t.ok]))}`
      : '未建 Not built.',
    '',
    '## 内存数据库 In-memory database',
    memoryDbSection(c.memoryDb),
    '',
    '## 记录数 Counts',
    c.tables.length ? table(['表 Table', '读 Read', '载入 Loaded', '隔离 Quarantined', '核对 Reconciled'], c.tables.map((t) => [t.table, t.rowsRead, t.rowsLoaded, t.rowsQuarantined, t.countsReconciled])) : '无 None.',
    '',
    '## 业务测试 Business tests (变更 change, 注销 cancellation) on the snapshot',
    !c.businessTests
      ? '未执行 Not run.'
      : 'skipped' in c.businessTests
        ? `未执行 Not run: ${c.businessTests.skipped}`
        : table(['主体 Entity', '操作 Operation', 'HTTP', '已落库 Persisted', '通过 OK', '说明 Detail'], c.businessTests.cases.map((t) => [t.pripid, t.title, t.httpStatus, t.persisted, t.ok, t.detail])),
    '',
    '## 回滚验证 Rollback proof',
    c.rollbackProof ? `${c.rollbackProof.equal ? '一致 checksums equal to before the tests' : '不一致 CHECKSUMS DIFFER'}\n\n${table(['表 Table', 'rows before', 'md5 before', 'rows after', 'md5 after'], c.rollbackProof.before.map((b, i) => [b.table, b.rows, b.md5, c.rollbackProof!.after[i]?.rows, c.rollbackProof!.after[i]?.md5]))}` : '未执行 Not run.',
    '',
    '## 切换 Endpoint switches',
    c.switched?.length ? table(['系统 System', 'driver', 'from', 'to', 'changed', 'verified by'], c.switched.map((s) => [s.id, s.driver, s.from, s.to, s.changed, s.verifiedBy])) : '无 None.',
    '',
    '## 回退 Fallback',
    c.fallback ? `${c.fallback.workflowId}: ${c.fallback.status}${c.fallback.report ? ` — report ${c.fallback.report.markdown}` : ''}` : '未回退 No fallback.',
    c.failure ? `\n失败 Failure: ${c.failure}` : '',
    '',
  ];
  return { markdown: md.join('\n'), json };
}

function memoryDbSection(m: CutoverState['memoryDb']): string {
  if (!m) return '未执行 Not run.';
  const check = m.check;
  const lines = [
    !check
      ? '检查 Check: not run.'
      : 'notConfigured' in check
        ? `未配置 ${check.notConfigured}`
        : `检查 Check: Redis ${check.version} (${check.mode}) at ${check.url}; maxmemory ${check.maxmemory}, maxmemory-policy ${check.maxmemoryPolicy}; persistence: save "${check.persistence.rdbSave}", appendonly ${check.persistence.aof ? 'yes' : 'no'}, appendfsync ${check.persistence.appendfsync}${check.warnings.length ? `\n\n注意 Warnings: ${check.warnings.join('; ')}` : ''}`,
  ];
  const rows = m.flushes.flatMap((f) => ('notConfigured' in f.result ? [] : Object.entries(f.result.deleted).map(([p, n]) => [`清理 flush after the ${f.after}`, `${p}*`, n])));
  if (m.warm && !('notConfigured' in m.warm)) rows.push(...m.warm.items.map((i) => [`预热 warm-up: ${i.name}`, i.table, i.keys]));
  if (rows.length) lines.push(table(['操作 Action', '前缀/表 Prefix / table', '键数 Keys'], rows));
  return lines.join('\n\n');
}

const OUTCOME: Record<HistoryDigest['outcome']['status'], string> = {
  running: '运行中 still running (a cutover ends after its fallback, with the status above)',
  completed: '完成 completed',
  failed: '失败 failed',
  cancelled: '已取消 cancelled',
  terminated: '已终止 terminated',
  timed_out: '超时 timed out',
  continued_as_new: '续作 continued as new',
};

function historySection(h: HistoryDigest): string {
  return [
    `### ${h.workflowType ?? 'workflow'} ${h.workflowId}`,
    '',
    `- 开始 Started: ${h.startedAt ?? '?'} · 结果 Outcome: ${OUTCOME[h.outcome.status]}${h.outcome.at ? ` at ${h.outcome.at}` : ''}${h.outcome.failure ? ` — ${h.outcome.failure}` : ''} · ${h.events} events`,
    '',
    '#### 失败的尝试 Failed activity attempts',
    h.failedAttempts.length
      ? table(
          ['时间 At', '活动 Activity', '步骤 Step', '尝试 Attempt', '错误 Error', '最终 Final'],
          h.failedAttempts.map((a) => [a.at, a.activityType, a.summary, a.attempt, a.message, a.final ? `yes${a.retryState ? ` (${a.retryState})` : ''}` : 'no — retried']),
        )
      : '无 None.',
    '',
    '#### 失败的子流程 Failed child workflows',
    h.failedChildren.length ? table(['时间 At', '子流程 Child', '类型 Type', '状态 Status', '错误 Error'], h.failedChildren.map((c) => [c.at, c.workflowId, c.workflowType, c.status, c.message])) : '无 None.',
    '',
    '#### 收到的信号 Signals received (decisions)',
    h.signals.length ? table(['时间 At', '信号 Signal', '关口 Gate/step', '决定 Decision', '人 Who', '角色 Role', '理由 Reason'], h.signals.map((s) => [s.at, s.name, s.gate, s.decision, s.actor, s.role, s.reason])) : '无 None.',
    '',
    '#### 计时器 Timers',
    h.timers.length ? table(['开始 Started', '计时器 Timer', '说明 Summary', '时长 Timeout', '结束 Ended'], h.timers.map((t) => [t.startedAt, t.id, t.summary, t.timeout, t.ended ? `${t.ended.how} ${t.ended.at}` : 'open'])) : '无 None.',
  ].join('\n');
}

export function renderFailureAnalysis(f: FallbackState, c: CutoverState | undefined, histories: HistoryDigest[]): { markdown: string; json: unknown } {
  const failedSteps = c?.steps.filter((s) => s.status === 'failed' || s.status === 'rejected') ?? [];
  const json = {
    kind: 'failure-analysis',
    runId: f.runId,
    reason: f.reason,
    cutoverStatus: c?.status,
    cutoverFailure: c?.failure,
    failedSteps,
    decisions: c?.decisions ?? [],
    operatorActions: c?.operatorActions ?? [],
    fallbackSteps: f.steps,
    fallbackDecisions: f.decisions,
    legacyModified: f.legacyModified ?? [],
    legacyProof: f.legacyProof,
    switchedBack: f.switchedBack,
    smoke: f.smoke,
    histories,
  };
  const md = [
    `# 割接失败原因分析 Failure analysis — ${f.runId}`,
    '',
    `- 回退原因 Why the fallback ran: ${f.reason}`,
    c ? `- 割接状态 Cutover status: ${c.status}${c.failure ? ` — ${c.failure}` : ''}` : '- 手动发起 Started by hand (no cutover state).',
    '',
    '## 失败步骤 What failed, when',
    failedSteps.length ? table(['步骤 Step', '状态 Status', '时间 At', '错误 Error / detail'], failedSteps.map((s) => [s.title, s.status, s.finishedAt ?? s.startedAt, s.error ?? s.detail])) : '无失败步骤 No failed step recorded.',
    '',
    '## 审批与操作 Decisions',
    decisionsTable([...(c?.decisions ?? []), ...(c?.operatorActions ?? [])]),
    '',
    '## 回退步骤 Fallback steps',
    table(['步骤 Step', '状态 Status', '开始 Started', '结束 Finished', '说明 Detail'], f.steps.map((s) => [s.title, s.status, s.startedAt, s.finishedAt, s.error ?? s.detail])),
    '',
    '## 旧库数据 Legacy data',
    f.legacyModified?.length ? `被修改并已从备份恢复 Modified and restored from the backup: ${f.legacyModified.join(', ')}` : '未受影响 Untouched: every table matches the pre-migration backup.',
    '',
    '## 运行历史 From the runs’ Temporal event histories',
    histories.length ? histories.map(historySection).join('\n\n') : '无 None.',
    '',
    '## 改进 Improvements to the cutover plan',
    '由复盘会议填写 To be completed by the review meeting, starting from the failed steps and decisions above.',
    '',
  ];
  return { markdown: md.join('\n'), json };
}
