import { ApplicationFailure } from '@temporalio/common';

/**
 * Oracle and driver errors that no retry can cure, as data: one row per error code, with the cause
 * an operator reads and the action that cures it. A matching error becomes a non-retryable Temporal
 * failure (ApplicationFailure.nonRetryable, type `Oracle…`), so the run stops at the first attempt
 * with the real cause instead of retrying the same SCN twenty times. Everything else — a dropped
 * connection (NJS-500/501, ORA-03113 …), a call timeout (NJS-123) — is left as it is: transient, retried.
 *
 * Codes come from the message ("ORA-01555: …", "NJS-138: …") or, for driver errors, `err.code`.
 */
export interface OracleErrorRule {
  /** "ORA-01555", "NJS-138" */
  code: string;
  /** the ApplicationFailure type the workflow and the report see */
  type: string;
  /** 原因 cause, in words an operator understands */
  cause: string;
  /** 处理 what to do */
  action: string;
}

const REPLAN = 're-plan the whole run at a new read point (a new SCN for every table, the backup and the verification); stop the legacy application or raise UNDO_RETENTION (with RETENTION GUARANTEE) above the run time first';

export const FATAL_ORACLE_ERRORS: readonly OracleErrorRule[] = [
  {
    code: 'ORA-01555',
    type: 'OracleSnapshotTooOld',
    cause: '快照过旧 snapshot too old: the undo needed to read at the run’s SCN was overwritten',
    action: REPLAN,
  },
  {
    code: 'ORA-22924',
    type: 'OracleSnapshotTooOld',
    cause: 'LOB 快照过旧 snapshot too old for a LOB: the LOB’s old versions (PCTVERSION/RETENTION of the LOB segment, not undo) were reused',
    action: `${REPLAN}; ask the DBA to ALTER TABLE … MODIFY LOB (column) (RETENTION) on the table`,
  },
  {
    code: 'ORA-08181',
    type: 'OracleScnTooOld',
    cause: 'SCN 无效 the run’s SCN is no longer a valid read point (older than the undo retention)',
    action: REPLAN,
  },
  {
    code: 'ORA-01466',
    type: 'OracleDefinitionChanged',
    cause: '表结构已变更 a table was altered, truncated or re-created after the run’s SCN: it cannot be read as of that SCN',
    action: 'find who changed the legacy table (no DDL during the cutover window), then re-plan the run at a new SCN',
  },
  {
    code: 'ORA-01031',
    type: 'OraclePrivilege',
    cause: '权限不足 insufficient privileges (AS OF SCN needs FLASHBACK on the table)',
    action: 'the DBA grants FLASHBACK ON <table> (or FLASHBACK ANY TABLE) and SELECT to the migration user; run the preflight again',
  },
  {
    code: 'ORA-00942',
    type: 'OracleObjectMissing',
    cause: '表不存在或无权限 table or view does not exist, or the migration user cannot see it',
    action: 'check ORACLE_SCHEMA and the mapping’s table names; the DBA grants SELECT on the table',
  },
  {
    code: 'ORA-01017',
    type: 'OracleLogonDenied',
    cause: '用户名或口令错误 invalid user name or password',
    action: 'fix the Oracle credentials in the worker’s settings',
  },
  {
    code: 'ORA-28000',
    type: 'OracleLogonDenied',
    cause: '账户已锁定 the migration account is locked',
    action: 'the DBA unlocks the account (ALTER USER … ACCOUNT UNLOCK)',
  },
  {
    code: 'ORA-01652',
    type: 'OracleTempFull',
    cause: '临时表空间不足 unable to extend the temporary segment (a sort too large for TEMP)',
    action: 'the DBA adds TEMP space, or plan with smaller chunks',
  },
  {
    // what a corrupt stored DATE makes TO_CHAR raise on some versions: it fails the whole fetch, so the
    // row cannot be quarantined from here (corrupt values TO_CHAR does render are quarantined per row)
    code: 'ORA-01801',
    type: 'OracleCorruptDate',
    cause: '日期数据损坏 a stored DATE is corrupt: the server cannot format it',
    action: "find the rows (SELECT ROWID, DUMP(col) FROM … WHERE DUMP(col) LIKE 'Typ=12 Len=7: %,%,0,%' or month/day 0), have the DBA correct them or exclude them from the mapping, then retry the table",
  },
  {
    code: 'NJS-138',
    type: 'OracleThinUnsupportedServer',
    cause: '数据库版本过旧 the server is older than Oracle 12.1 (11g?): node-oracledb Thin mode cannot connect to it',
    action: 'run the worker in Thick mode: install Oracle Instant Client (see the Dockerfile) and set ORACLE_CLIENT_LIB_DIR',
  },
  {
    code: 'NJS-100',
    type: 'OracleNationalCharset',
    cause: '国家字符集不受支持 the national character set is not AL16UTF16 (UTF8?): Thin mode cannot read NCHAR/NVARCHAR2/NCLOB columns',
    action: 'run the worker in Thick mode (ORACLE_CLIENT_LIB_DIR with Instant Client), or have the DBA expose the N-columns through a view with TO_CHAR',
  },
  {
    code: 'NJS-101',
    type: 'OracleLogonDenied',
    cause: '缺少凭据 no credentials given',
    action: 'set ORACLE_URL or ORACLE_USER/ORACLE_PASSWORD',
  },
  {
    code: 'DPI-1047',
    type: 'OracleClientMissing',
    cause: '找不到 Oracle 客户端 Thick mode could not load the Oracle Client libraries',
    action: 'install Oracle Instant Client and point ORACLE_CLIENT_LIB_DIR at it (see the Dockerfile)',
  },
];

const RULES = new Map(FATAL_ORACLE_ERRORS.map((r) => [r.code, r]));

/** The first ORA-/NJS-/DPI- code of an error, or null. */
export function oracleErrorCode(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^(ORA|NJS|DPI)-\d+$/.test(code)) return code;
  const m = /\b((?:ORA|NJS|DPI)-\d{3,5})\b/.exec(err.message);
  return m ? m[1] : null;
}

export function classifyOracleError(err: unknown): OracleErrorRule | null {
  const code = oracleErrorCode(err);
  return code ? (RULES.get(code) ?? null) : null;
}

/**
 * The error to throw: a non-retryable failure naming where, the cause and the action for a fatal
 * Oracle error; the error itself otherwise (Temporal retries it). An ApplicationFailure passes as it is.
 */
export function oracleFailure(err: unknown, where: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  const rule = classifyOracleError(err);
  if (!rule) return err;
  const original = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return ApplicationFailure.nonRetryable(`${where}: ${rule.cause} — 处理 action: ${rule.action} (${original})`, rule.type, {
    code: rule.code,
    cause: rule.cause,
    action: rule.action,
  });
}

/** Runs fn and rethrows what it throws through oracleFailure. */
export async function withOracleErrors<T>(where: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw oracleFailure(err, where);
  }
}
