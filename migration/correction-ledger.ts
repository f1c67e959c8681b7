import { createHash, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { CorrectionSheet } from './corrections';
import { correctionSheetSchema } from './corrections';
import { decisionSignatureProblem, signDecision, SignedDecision } from '../lib/decision-signing';
import type { RowPath } from './row-path';

/**
 * 整改台账 The corrections ledger in the runbook database: every corrections sheet as uploaded (who, when,
 * what — its content and its SHA-256), the one decision on it (approve or reject, by whom), and what each
 * remediation run made of its rows. Sheets and decisions are append-only, like the audit trail.
 *
 * 四眼原则 The upload and the decision are each signed by the API (lib/decision-signing.ts) over the sheet's
 * digest: the worker applies a sheet only when both signatures hold, the content is the one signed, the
 * decision approves and its approver is not the uploader. So a row written straight into this database, a
 * sheet changed after its approval, or a run started around the API applies nothing.
 */
type Queryable = { query: <R extends Record<string, unknown> = Record<string, unknown>>(sql: string, values?: unknown[]) => Promise<{ rows: R[]; rowCount: number | null }> };

/** The sheet's digest: canonical JSON (keys sorted), so the stored jsonb hashes the same as what was signed. */
export function sheetDigest(sheet: CorrectionSheet): string {
  const canon = (v: unknown): unknown => (Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v);
  return createHash('sha256').update(JSON.stringify(canon(sheet))).digest('hex');
}

/** The workflow id the signatures of a sheet are bound to (no workflow runs under it: it names the sheet). */
export const sheetSubject = (id: string) => `corrections-${id}`;

export type CorrectionStatus = 'awaiting_approval' | 'approved' | 'rejected';

export interface CorrectionSetRecord {
  id: string;
  at: string;
  uploadedBy: string;
  uploadedRole: string;
  reason: string;
  sheet: CorrectionSheet;
  sha256: string;
  upload: SignedDecision<string>;
  status: CorrectionStatus;
  decision?: { actor: string; role: string; decision: 'approve' | 'reject'; reason: string | null; at: string; signed: SignedDecision<string> };
  corrections: number;
  codeMappings: number;
}

/** Stores a sheet, its cells and code entries in one transaction, on one connection of the pool. */
export async function storeCorrectionSet(pool: Pool, input: { id: string; actor: string; role: string; sheet: CorrectionSheet; requestId?: string; signingKey: string }): Promise<CorrectionSetRecord> {
  const db = await pool.connect();
  try {
    await storeOn(db as unknown as Queryable, input);
  } finally {
    db.release();
  }
  return (await readCorrectionSet(pool as unknown as Queryable, input.id))!;
}

async function storeOn(db: Queryable, input: { id: string; actor: string; role: string; sheet: CorrectionSheet; requestId?: string; signingKey: string }): Promise<void> {
  const sha = sheetDigest(input.sheet);
  const upload = signDecision({ workflowId: sheetSubject(input.id), gate: 'upload', decision: 'upload', actor: input.actor, role: input.role, reason: sha, issuedAt: new Date().toISOString(), nonce: randomUUID() }, input.signingKey);
  await db.query('BEGIN');
  try {
    await db.query(`INSERT INTO correction_set (id, uploaded_by, uploaded_role, reason, content, content_sha256, upload, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      input.id, input.actor, input.role, input.sheet.reason, JSON.stringify(input.sheet), sha, JSON.stringify(upload), input.requestId ?? null,
    ]);
    // the last value given for a cell counts (a sheet may name a cell twice)
    const cells = new Map(input.sheet.corrections.map((c) => [`${c.table}\u0000${c.key}\u0000${c.column}`, c]));
    for (const c of cells.values()) await db.query('INSERT INTO correction_field (set_id, table_name, source_key, column_name, value) VALUES ($1, $2, $3, $4, $5)', [input.id, c.table, c.key, c.column, c.value]);
    const codes = new Map(input.sheet.codeMappings.map((c) => [`${c.codeTable}\u0000${c.legacy}`, c]));
    for (const c of codes.values()) await db.query('INSERT INTO correction_code (set_id, code_table, legacy_code, target_code, label, why) VALUES ($1, $2, $3, $4, $5, $6)', [input.id, c.codeTable, c.legacy, c.target, c.label ?? null, c.why]);
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Records the one decision on a sheet; false when it already has one (the caller answers 409). */
export async function decideCorrectionSet(db: Queryable, input: { id: string; sha256: string; actor: string; role: string; decision: 'approve' | 'reject'; reason?: string; signingKey: string }): Promise<boolean> {
  const signed = signDecision({ workflowId: sheetSubject(input.id), gate: 'approve', decision: input.decision, actor: input.actor, role: input.role, reason: input.sha256, issuedAt: new Date().toISOString(), nonce: randomUUID() }, input.signingKey);
  const { rowCount } = await db.query(
    `INSERT INTO correction_decision (set_id, actor, role, decision, reason, signed) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (set_id) DO NOTHING`,
    [input.id, input.actor, input.role, input.decision, input.reason ?? null, JSON.stringify(signed)],
  );
  return rowCount === 1;
}

type SetRow = { id: string; at: Date; uploaded_by: string; uploaded_role: string; reason: string; content: unknown; content_sha256: string; upload: SignedDecision<string>; d_actor: string | null; d_role: string | null; decision: 'approve' | 'reject' | null; d_reason: string | null; d_at: Date | null; signed: SignedDecision<string> | null };

const SELECT_SETS = `SELECT s.id, s.at, s.uploaded_by, s.uploaded_role, s.reason, s.content, s.content_sha256, s.upload,
                            d.actor AS d_actor, d.role AS d_role, d.decision, d.reason AS d_reason, d.at AS d_at, d.signed
                       FROM correction_set s LEFT JOIN correction_decision d ON d.set_id = s.id`;

function recordOf(r: SetRow): CorrectionSetRecord {
  // read back through the one shape: a row that no longer parses is shown as an empty sheet, and its digest will not match
  const parsed = correctionSheetSchema.safeParse(r.content);
  const sheet: CorrectionSheet = parsed.success ? parsed.data : { reason: r.reason, corrections: [], codeMappings: [] };
  return {
    id: r.id,
    at: r.at.toISOString(),
    uploadedBy: r.uploaded_by,
    uploadedRole: r.uploaded_role,
    reason: r.reason,
    sheet,
    sha256: r.content_sha256,
    upload: r.upload,
    status: r.decision === 'approve' ? 'approved' : r.decision === 'reject' ? 'rejected' : 'awaiting_approval',
    ...(r.decision ? { decision: { actor: r.d_actor!, role: r.d_role!, decision: r.decision, reason: r.d_reason, at: r.d_at!.toISOString(), signed: r.signed! } } : {}),
    corrections: sheet.corrections.length,
    codeMappings: sheet.codeMappings.length,
  };
}

export async function readCorrectionSet(db: Queryable, id: string): Promise<CorrectionSetRecord | undefined> {
  const { rows } = await db.query<SetRow>(`${SELECT_SETS} WHERE s.id = $1`, [id]);
  return rows[0] && recordOf(rows[0]);
}

export async function listCorrectionSets(db: Queryable, limit = 200): Promise<CorrectionSetRecord[]> {
  const { rows } = await db.query<SetRow>(`${SELECT_SETS} ORDER BY s.at DESC, s.id LIMIT $1`, [limit]);
  return rows.map(recordOf);
}

/**
 * Why a sheet must not be applied, or null: both signatures hold (any age: a sheet approved weeks before a
 * rehearsal still counts), over this sheet's content, approved, by someone other than its uploader.
 */
export function correctionSetProblem(set: CorrectionSetRecord, keys: readonly string[]): string | null {
  const subject = sheetSubject(set.id);
  const forever = Number.MAX_SAFE_INTEGER / 2;
  const digest = sheetDigest(set.sheet);
  if (digest !== set.sha256) return `整改单内容被改动 the sheet's content is not the one uploaded (digest ${digest.slice(0, 12)}… ≠ ${set.sha256.slice(0, 12)}…)`;
  const up = decisionSignatureProblem(set.upload, keys, subject, new Date(), forever);
  if (up) return `整改单上传未经接口签名 the upload is not the API's: ${up}`;
  if (set.upload.gate !== 'upload' || set.upload.reason !== digest || set.upload.actor !== set.uploadedBy) return 'the upload signature is for another sheet or another uploader';
  if (!set.decision) return `整改单待审批 sheet ${set.id} is not approved yet (uploaded by ${set.uploadedBy}); an approver other than the uploader decides it`;
  const d = set.decision.signed;
  const problem = decisionSignatureProblem(d, keys, subject, new Date(), forever);
  if (problem) return `整改单审批未经接口签名 the approval is not the API's: ${problem}`;
  if (d.gate !== 'approve' || d.reason !== digest || d.actor !== set.decision.actor || d.decision !== set.decision.decision) return 'the approval signature is for another sheet, decision or approver';
  if (d.decision !== 'approve') return `整改单已驳回 sheet ${set.id} was rejected by ${d.actor}`;
  if (d.actor === set.upload.actor) return `四眼原则 four-eyes: ${d.actor} uploaded sheet ${set.id} and cannot approve it too`;
  if (!['approver', 'admin'].includes(d.role)) return `role ${d.role} may not approve corrections (approver)`;
  return null;
}

// One row's path through the loop: a zod shape of its own (migration/row-path.ts).
export type { RowPath };

/** Records a run's outcomes once: a retried activity writes the same rows again, and nothing doubles. */
export async function recordOutcomes(db: Queryable, workflowId: string, setId: string, rows: readonly RowPath[]): Promise<void> {
  for (const r of rows) {
    await db.query(
      `INSERT INTO correction_outcome (workflow_id, set_id, table_name, source_key, outcome, chunk_id, followed, rule, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (workflow_id, table_name, source_key) DO UPDATE SET outcome = excluded.outcome, rule = excluded.rule, detail = excluded.detail`,
      [workflowId, setId, r.table, r.key, r.outcome, r.chunkId ?? null, r.followed ?? null, r.rule ?? null, r.detail ?? null],
    );
  }
}

/** How many corrected rows the loop brought in or corrected in place, across runs (the demo's `corrected=`), and the waiting children that followed them. */
export async function correctedCount(db: Queryable): Promise<{ corrected: number; followed: number }> {
  const { rows } = await db.query<{ corrected: number; followed: number }>(
    `SELECT count(DISTINCT (table_name, source_key)) FILTER (WHERE followed IS NULL)::int AS corrected, count(DISTINCT (table_name, source_key)) FILTER (WHERE followed IS NOT NULL)::int AS followed
       FROM correction_outcome WHERE outcome IN ('loaded', 'updated')`,
  );
  return rows[0];
}

export interface DataQualityTrendPoint {
  runId: string;
  at: string;
  flagged: number;
  quarantined: number;
  entitiesMissing: number;
  corrected: number;
}

/** 趋势 Records a run's data-quality counts (again on a retry: the same run keeps one line) and returns the last `limit` runs', oldest first. */
export async function recordDataQualityTrend(db: Queryable, point: Omit<DataQualityTrendPoint, 'at'>, limit = 10): Promise<DataQualityTrendPoint[]> {
  await db.query(
    `INSERT INTO data_quality_history (run_id, flagged, quarantined, entities_missing, corrected) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (run_id) DO UPDATE SET flagged = excluded.flagged, quarantined = excluded.quarantined, entities_missing = excluded.entities_missing, corrected = excluded.corrected`,
    [point.runId, point.flagged, point.quarantined, point.entitiesMissing, point.corrected],
  );
  const { rows } = await db.query<{ run_id: string; at: Date; flagged: number; quarantined: number; entities_missing: number; corrected: number }>(
    `SELECT * FROM (SELECT run_id, at, flagged, quarantined, entities_missing, corrected FROM data_quality_history ORDER BY at DESC, run_id DESC LIMIT $1) t ORDER BY at, run_id`,
    [limit],
  );
  return rows.map((r) => ({ runId: r.run_id, at: r.at.toISOString(), flagged: r.flagged, quarantined: r.quarantined, entitiesMissing: r.entities_missing, corrected: r.corrected }));
}
