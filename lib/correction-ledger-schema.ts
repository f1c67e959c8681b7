/**
 * 整改台账 The corrections ledger's tables in the runbook database and what the API's role may do with them
 * (created with the rest of the runbook schema, lib/runbook-db.ts). What is written there, and the four-eyes
 * check over it, is migration/correction-ledger.ts.
 */
export const CORRECTION_DDL = [
  `CREATE TABLE IF NOT EXISTS correction_set (
     id text PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     uploaded_by text NOT NULL,
     uploaded_role text NOT NULL,
     reason text NOT NULL,
     content jsonb NOT NULL,
     content_sha256 text NOT NULL,
     upload jsonb NOT NULL,
     request_id text
   )`,
  // by table + key + column, so the next rehearsal's migration can find what was corrected
  `CREATE TABLE IF NOT EXISTS correction_field (
     set_id text NOT NULL REFERENCES correction_set (id),
     table_name text NOT NULL,
     source_key text NOT NULL,
     column_name text NOT NULL,
     value text,
     PRIMARY KEY (set_id, table_name, source_key, column_name)
   )`,
  `CREATE TABLE IF NOT EXISTS correction_code (
     set_id text NOT NULL REFERENCES correction_set (id),
     code_table text NOT NULL,
     legacy_code text NOT NULL,
     target_code text NOT NULL,
     label text,
     why text NOT NULL,
     PRIMARY KEY (set_id, code_table, legacy_code)
   )`,
  // one decision per sheet: a second one is refused by the key, whatever the caller
  `CREATE TABLE IF NOT EXISTS correction_decision (
     set_id text PRIMARY KEY REFERENCES correction_set (id),
     at timestamptz NOT NULL DEFAULT now(),
     actor text NOT NULL,
     role text NOT NULL,
     decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
     reason text,
     signed jsonb NOT NULL
   )`,
  // 处理路径 each row's path: held at chunk X → corrected (set S by A, approved by B) → loaded in run R, or still held and why
  `CREATE TABLE IF NOT EXISTS correction_outcome (
     workflow_id text NOT NULL,
     set_id text NOT NULL,
     at timestamptz NOT NULL DEFAULT now(),
     table_name text NOT NULL,
     source_key text NOT NULL,
     outcome text NOT NULL CONSTRAINT correction_outcome_outcome_check CHECK (outcome IN ('loaded', 'still_held', 'updated', 'still_flagged')),
     chunk_id text,
     followed text,
     rule text,
     detail text,
     PRIMARY KEY (workflow_id, table_name, source_key)
   )`,
  // a runbook database from before flagged rows were corrected by the loop: their outcomes (updated in place, still flagged) allowed
  // (only when the constraint does not allow them yet: no table lock at every start)
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'correction_outcome'::regclass AND conname = 'correction_outcome_outcome_check' AND pg_get_constraintdef(oid) LIKE '%still_flagged%') THEN
       ALTER TABLE correction_outcome DROP CONSTRAINT IF EXISTS correction_outcome_outcome_check;
       ALTER TABLE correction_outcome ADD CONSTRAINT correction_outcome_outcome_check CHECK (outcome IN ('loaded', 'still_held', 'updated', 'still_flagged'));
     END IF;
   END $$`,
  // 趋势 one line per rehearsal's data-quality report: how many issues, held rows, missing entities, corrected rows
  `CREATE TABLE IF NOT EXISTS data_quality_history (
     run_id text PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     flagged integer NOT NULL,
     quarantined integer NOT NULL,
     entities_missing integer NOT NULL,
     corrected integer NOT NULL
   )`,
  ...['correction_set', 'correction_field', 'correction_code', 'correction_decision'].flatMap((t) => [
    `DROP TRIGGER IF EXISTS ${t}_no_change ON ${t}`,
    `CREATE TRIGGER ${t}_no_change BEFORE UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
  ]),
];

/** What the API's application role may do: record sheets and decisions, read outcomes; never change them. */
export const correctionGrants = (appRole: string) => [
  `REVOKE ALL ON correction_set, correction_field, correction_code, correction_decision, correction_outcome, data_quality_history FROM PUBLIC, ${appRole}`,
  `GRANT SELECT, INSERT ON correction_set, correction_field, correction_code, correction_decision TO ${appRole}`,
  `GRANT SELECT ON correction_outcome, data_quality_history TO ${appRole}`,
];
