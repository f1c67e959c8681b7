/**
 * 割接步骤表 The cutover's steps as data: one row per step, in the order the cutover runs them. Everything
 * else takes its numbering and titles from here — the workflow (its state's step list, every activity's
 * "Step n/N" summary line in the Web UI, the child workflows' step labels), the API (the state's phase and
 * step enums, the step names a failed-step action may name, the planned minutes a start may give), the
 * CLI's status and the reports. Pure data with no imports: the workflow sandbox, the API and the CLI all
 * read it. Adding a row numbers, titles and lists the step everywhere; what it does is the workflow's part.
 *
 * kind: check (reads and proves, changes nothing), action (changes something, retried by its activity),
 * gate (waits for approvers, see GATE_DEFINITIONS), report (writes the evidence).
 * continuable / skippable: what the operator may choose besides retry and fallback when the step failed
 * after its retries (continue after a manual fix; skip) — both with a recorded reason.
 */
export type StepKind = 'check' | 'action' | 'gate' | 'report';

export interface StepRow {
  key: string;
  zh: string;
  en: string;
  kind: StepKind;
  /** for a gate step: the gate it waits on */
  gate?: string;
  continuable?: boolean;
  skippable?: boolean;
}

/** The gates, in the order the cutover reaches them (their roles and approvals: GATE_DEFINITIONS). */
export const GATES = ['wipe', 'go-no-go', 'switch'] as const;
export type GateName = (typeof GATES)[number];

export const CUTOVER_STEPS = [
  { key: 'preflight', zh: '预检', en: 'Preflight (mapping against the live legacy and target catalogs)', kind: 'check' },
  { key: 'shutdown-legacy', zh: '关停旧系统', en: 'Shut down the legacy application (prove nothing writes)', kind: 'action' },
  { key: 'plan', zh: '迁移计划', en: 'Plan tables', kind: 'check' },
  { key: 'backup', zh: '备份旧库', en: 'Back up legacy data', kind: 'action' },
  {
    key: 'legacy-readonly',
    zh: '旧库只读与查询库',
    en: 'Legacy database query-only for the application (只可查询，不可修改); the backup restored as a read-only archive (查询库)',
    kind: 'action',
    continuable: true,
  },
  { key: 'gate-wipe', zh: '清除测试数据审批', en: 'Approve wiping the target', kind: 'gate', gate: 'wipe' },
  { key: 'wipe', zh: '清除测试数据', en: 'Wipe test data from the target', kind: 'action', continuable: true },
  { key: 'migrate', zh: '数据迁移', en: 'Migrate', kind: 'action', continuable: true },
  { key: 'cache-flush', zh: '内存数据库清理', en: 'Check the in-memory database and delete the application’s keys', kind: 'action', continuable: true },
  { key: 'verify', zh: '迁移结果验证', en: 'Verify (counts, checksums, sampling, business tests)', kind: 'check' },
  { key: 'go-no-go', zh: '上线决策', en: 'Go/no-go approval', kind: 'gate', gate: 'go-no-go' },
  { key: 'snapshot', zh: '快照', en: 'Snapshot the migrated target (backup of the migrated data)', kind: 'action', continuable: true },
  { key: 'business-tests', zh: '业务测试', en: 'Business tests (change, cancellation)', kind: 'action', continuable: true, skippable: true },
  { key: 'rollback', zh: '回滚', en: 'Roll the target back to the snapshot', kind: 'action', continuable: true },
  { key: 'prove-rollback', zh: '回滚验证', en: 'Prove the rollback (checksums)', kind: 'check' },
  { key: 'cache-warm', zh: '内存数据库预热', en: 'Delete the application’s keys again and warm them from the target', kind: 'action', continuable: true },
  { key: 'test-addresses', zh: '正式地址测试', en: 'Test the official addresses', kind: 'check', continuable: true },
  { key: 'gate-switch', zh: '切换审批', en: 'Approve switching the connected systems', kind: 'gate', gate: 'switch' },
  { key: 'switch', zh: '切换', en: 'Switch the connected systems to the new addresses', kind: 'action', continuable: true },
  { key: 'evidence', zh: '证据包', en: 'Evidence pack', kind: 'report', continuable: true, skippable: true },
] as const satisfies readonly StepRow[];

export type StepKey = (typeof CUTOVER_STEPS)[number]['key'];
export const STEP_KEYS: readonly StepKey[] = CUTOVER_STEPS.map((s) => s.key);

const row = (key: StepKey): StepRow => {
  const found = (CUTOVER_STEPS as readonly StepRow[]).find((s) => s.key === key);
  if (!found) throw new Error(`no cutover step "${key}" in the step table`);
  return found;
};

/** 1-based position of a step in the table. */
export function stepNumber(key: StepKey): number {
  return STEP_KEYS.indexOf(key) + 1;
}

/** The step's title, 中文 then English, as the state, the checklist, the CLI and the reports show it. */
export function stepTitle(key: StepKey): string {
  const s = row(key);
  return `${s.zh} ${s.en}`;
}

/** "Step n/N" — the label the activities' summaries and the child workflows carry. */
export function stepLabel(key: StepKey): string {
  return `Step ${stepNumber(key)}/${STEP_KEYS.length}`;
}

/** The operator's extra choices on a failed step besides retry (and fallback, offered except on the evidence step). */
export const CONTINUABLE: readonly StepKey[] = (CUTOVER_STEPS as readonly StepRow[]).filter((s) => s.continuable).map((s) => s.key as StepKey);
export const SKIPPABLE: readonly StepKey[] = (CUTOVER_STEPS as readonly StepRow[]).filter((s) => s.skippable).map((s) => s.key as StepKey);

/**
 * What the operator may choose when the step failed after its retries: retry, skip and continue where the table
 * allows them, and the fallback — except on the report (the evidence pack), which every run ends with.
 */
export function choicesAfterFailure(key: StepKey): ('retry' | 'skip' | 'continue' | 'fallback')[] {
  return ['retry', ...(SKIPPABLE.includes(key) ? (['skip'] as const) : []), ...(CONTINUABLE.includes(key) ? (['continue'] as const) : []), ...(row(key).kind === 'report' ? [] : (['fallback'] as const))];
}

/** Which step waits on which gate. */
export const GATE_STEP = Object.fromEntries((CUTOVER_STEPS as readonly StepRow[]).filter((s) => s.gate).map((s) => [s.gate, s.key])) as Record<GateName, StepKey>;

/** Every status a step can have, and the icon the checklist and the CLI show for it. */
export const STEP_STATUSES = ['pending', 'running', 'done', 'failed', 'rejected', 'skipped', 'cancelled'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
export const STEP_ICONS: Record<StepStatus, string> = { pending: '☐', running: '▶', done: '☑', failed: '✗', rejected: '✗', skipped: '⤼', cancelled: '⊘' };
