import { z } from 'zod';

/**
 * 异常数据处理策略 Anomaly policy per rule: what happens to a row that breaks a cleansing, code, required or
 * CHECK rule. `quarantine` holds the row back until it is corrected (问题数据整改); `load_flagged` loads it
 * with the field set as the policy says (NULL, or a value such as the code "unknown") and records a
 * data-quality issue (migration_data_quality: rule, column, raw value, key).
 *
 * The seed wants every business in the new system (最终将所有业务数据、基础数据迁移到国产化系统中): a
 * business that exists must be findable, changeable and cancellable after go-live. So a non-key field
 * never holds its entity back by default; a key problem (the row's own key, or the link to its parent)
 * still quarantines, since a row without its identity cannot be found or followed by its children.
 */
export const ANOMALY_RULES = ['invalid_date', 'invalid_capital', 'unmapped_code', 'required', 'check'] as const;
export type AnomalyRule = (typeof ANOMALY_RULES)[number];
export const POLICIES = ['quarantine', 'load_flagged'] as const;
export type Policy = (typeof POLICIES)[number];

/** A column's or a rule's policy in the mapping; `value`: what the field becomes when loaded flagged (default NULL, or a placeholder for a required column). */
export const anomalyPolicySchema = z.strictObject({
  policy: z.enum(POLICIES),
  value: z.string().min(1).optional(),
});
export type AnomalyPolicy = z.infer<typeof anomalyPolicySchema>;

/** A placeholder for a required text column loaded flagged (its target column is NOT NULL). */
export const UNKNOWN_CODE = 'unknown';
export const UNKNOWN_TEXT = '（待整改）';

/** The defaults, one row per rule, with the reason (README: 异常数据处理策略). */
export const DEFAULT_POLICIES: readonly { rule: AnomalyRule; policy: Policy; why: string }[] = [
  { rule: 'invalid_date', policy: 'load_flagged', why: 'a date that is not one (1899-12-31, 2001-02-30) says nothing true: loaded NULL, the raw text kept in the issue' },
  { rule: 'invalid_capital', policy: 'load_flagged', why: 'capital as words no rule reads (约十万左右): loaded NULL, the raw text kept in the issue' },
  { rule: 'unmapped_code', policy: 'load_flagged', why: 'a code no code table knows: NULL when optional, the code "unknown" when required, until a mapping is added' },
  { rule: 'required', policy: 'load_flagged', why: 'a missing name or legal representative: the placeholder （待整改） so the NOT NULL target takes the row' },
  { rule: 'check', policy: 'load_flagged', why: 'a CHECK on one column (regcap >= 0): that column loaded NULL; a CHECK over several columns quarantines' },
];

/** A rule as written in quarantine and issue rows ("invalid_date:apprdate") → its kind, or undefined for rules without a policy (orphan, rejected_by_target, malformed_row). */
export function ruleKind(rule: string): AnomalyRule | undefined {
  const kind = rule.slice(0, rule.indexOf(':') >>> 0) as AnomalyRule;
  return (ANOMALY_RULES as readonly string[]).includes(kind) ? kind : undefined;
}

/**
 * The policy of one rule on one column: quarantine always for the row's key and its parent link (a key
 * problem); else the column's own `onAnomaly`, else the mapping's `anomalyPolicies` for the rule, else the default.
 */
export function policyFor(
  kind: AnomalyRule,
  column: { target: string; type: string; required: boolean; codeTable?: string; onAnomaly?: AnomalyPolicy },
  /** keyColumns: every column of a composite key (复合主键), each always quarantined like the key */
  table: { keyColumn: string; keyColumns?: string[]; parentColumn?: string },
  overrides: Partial<Record<AnomalyRule, Policy>> | undefined,
): { policy: 'quarantine' } | { policy: 'load_flagged'; value: string | null } {
  if (column.target === table.keyColumn || column.target === table.parentColumn || table.keyColumns?.includes(column.target)) return { policy: 'quarantine' };
  const policy = column.onAnomaly?.policy ?? overrides?.[kind] ?? DEFAULT_POLICIES.find((d) => d.rule === kind)!.policy;
  if (policy === 'quarantine') return { policy };
  const value = column.onAnomaly?.value ?? (column.required ? (column.type === 'text' ? (column.codeTable ? UNKNOWN_CODE : UNKNOWN_TEXT) : undefined) : null);
  // a required non-text column has no placeholder to load: it waits for correction unless the mapping names a value
  if (value === undefined) return { policy: 'quarantine' };
  return { policy, value };
}
