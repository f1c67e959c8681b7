import { createHash } from 'node:crypto';
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Client } from 'pg';
import { inTransaction, withClient, withPooledClient } from './db';
import { AuditFinding, auditStatements, Dialect, DIALECTS, detectDialect, dialectFits, render, run, setDialect } from './dialect';
import type { Settings } from './settings';

/**
 * 语句审计 Every connection the product opens to the target goes through withTarget: it checks once per
 * process that the server is the configured dialect (version()) and keeps '' apart from NULL, tags the
 * client with its dialect (lib/dialect.ts dialectOf), and records the text of every statement sent on
 * it — at the driver, not from the server's log. Inside an activity the texts are written to the runbook
 * database under the run's root workflow id (children are `<root>/…`), so the evidence pack can list,
 * for the whole rehearsal, the constructs the configured dialect lacks.
 */
const AUDIT_DDL = `CREATE TABLE IF NOT EXISTS target_statement_audit (
  workflow_id text NOT NULL,
  dialect text NOT NULL,
  statement_hash text NOT NULL,
  statement text NOT NULL,
  calls bigint NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, statement_hash)
)`;

/** Statements differ only in whitespace: they are recorded once. */
export function normaliseStatement(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function statementText(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  // a QueryConfig, or a Submittable such as pg-copy-streams' COPY stream: both carry .text
  if (arg && typeof arg === 'object' && typeof (arg as { text?: unknown }).text === 'string') return (arg as { text: string }).text;
  return undefined;
}

/** Wraps client.query so that every statement's text is counted in `into`. */
export function recordStatements(c: Client, into: Map<string, number>): void {
  const original = c.query.bind(c) as (...args: unknown[]) => unknown;
  (c as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const text = statementText(args[0]);
    if (text !== undefined) {
      const key = normaliseStatement(text);
      into.set(key, (into.get(key) ?? 0) + 1);
    }
    return original(...args);
  };
}

const checked = new Map<string, Promise<void>>();

/** 方言预检 Preflight of the target: the configured dialect fits the server, and '' is not NULL there. */
export async function checkTargetDialect(c: Client, configured: Dialect): Promise<{ version: string; detected: Dialect | undefined }> {
  const { rows } = await c.query<{ v: string }>('SELECT version() AS v');
  const version = rows[0].v;
  const detected = detectDialect(version);
  if (!detected) {
    throw ApplicationFailure.nonRetryable(`TARGET_DIALECT=${configured}: the target's version() "${version}" names no known dialect (${DIALECTS.join(', ')})`, 'TargetDialectMismatch');
  }
  if (!dialectFits(configured, detected)) {
    throw ApplicationFailure.nonRetryable(
      `TARGET_DIALECT=${configured} but the target is ${detected} (version() "${version}"): set TARGET_DIALECT=${detected}`,
      'TargetDialectMismatch',
    );
  }
  const [probe] = await run<{ empty_is_null: boolean }>(c, render(configured, 'emptyStringProbe'));
  if (probe.empty_is_null) {
    throw ApplicationFailure.nonRetryable(
      `the target database treats '' as NULL (openGauss DBCOMPATIBILITY 'A' / KingbaseES ora_input_emptystr_isnull=on): the migrated data and its checksums need '' and NULL apart — create the target with DBCOMPATIBILITY 'PG' (openGauss) or set ora_input_emptystr_isnull = off (KingbaseES)`,
      'TargetEmptyStringIsNull',
    );
  }
  return { version, detected };
}

/** The root workflow of the activity running now (`<root>/migrate/<table>` → `<root>`), if any. */
function auditKey(): string | undefined {
  try {
    return activityInfo().workflowExecution?.workflowId.split('/')[0];
  } catch {
    return undefined; // not inside an activity (scripts, tests): nothing to file it under
  }
}

/**
 * Runs fn on a new target connection: dialect-checked, tagged, statements recorded and filed under the
 * run (`auditUnder` overrides the activity's root workflow id).
 */
export async function withTarget<T>(settings: Pick<Settings, 'TARGET_DATABASE_URL' | 'RUNBOOK_DATABASE_URL' | 'TARGET_DIALECT'>, fn: (c: Client) => Promise<T>, auditUnder?: string): Promise<T> {
  const client = new Client({ connectionString: settings.TARGET_DATABASE_URL });
  // A terminated session emits 'error' on an idle client; unheard, it crashes the worker (lib/db.ts says why).
  // The statement in progress, if any, fails with its own error and the activity retries.
  client.on('error', () => undefined);
  const seen = new Map<string, number>();
  recordStatements(client, seen);
  let failed = true;
  try {
    await client.connect();
    const key = `${settings.TARGET_DATABASE_URL}\n${settings.TARGET_DIALECT}`;
    let check = checked.get(key);
    if (!check) {
      check = checkTargetDialect(client, settings.TARGET_DIALECT).then(() => undefined);
      checked.set(key, check);
      check.catch(() => checked.delete(key)); // checked again next time: the operator may fix it
    }
    await check;
    setDialect(client, settings.TARGET_DIALECT);
    const result = await fn(client);
    failed = false;
    return result;
  } finally {
    await client.end().catch(() => undefined);
    // What a failed attempt sent is part of the run too; filing it must not hide the attempt's own error.
    const under = auditUnder ?? auditKey();
    if (under && seen.size) {
      const filing = fileStatements(settings.RUNBOOK_DATABASE_URL, under, settings.TARGET_DIALECT, seen);
      if (failed) await filing.catch(() => undefined);
      else await filing;
    }
  }
}

let auditTableReady: Promise<void> | undefined;

/**
 * Adds the statements to the run's audit in the runbook database (idempotent per text: calls add up): one
 * transaction on a pooled connection — the rows already there are updated in one statement, the new ones
 * inserted in another (every activity files its statements: a connection and a commit per statement cost
 * the migration ~0.1 s per activity).
 */
export async function fileStatements(runbookUrl: string, workflowId: string, dialect: Dialect, seen: Map<string, number>): Promise<void> {
  const entries = [...seen].map(([statement, calls]) => ({ statement, calls, hash: createHash('sha256').update(statement).digest('hex') }));
  await withPooledClient(runbookUrl, async (c) => {
    auditTableReady ??= c.query(AUDIT_DDL).then(() => undefined);
    await auditTableReady.catch(async () => {
      auditTableReady = undefined;
      await c.query(AUDIT_DDL);
    });
    // Portable SQL (no ON CONFLICT, no multi-array unnest): the runbook database may be a domestic one too.
    for (let attempt = 0; ; attempt++) {
      try {
        await inTransaction(c, async () => {
          for (let i = 0; i < entries.length; i += 1000) await file(entries.slice(i, i + 1000)); // parameters stay well under the protocol's 65,535
        });
        return;
      } catch (err) {
        // another activity of the run filed one of them meanwhile: the transaction is tried again, adding to its row
        if ((err as { code?: string }).code !== '23505' || attempt > 2) throw err;
      }
    }
    async function file(entries: { statement: string; calls: number; hash: string }[]): Promise<void> {
      const params: unknown[] = [workflowId];
      const values = entries.map((e) => `($${params.push(e.hash)}::text, $${params.push(e.calls)}::bigint)`).join(', ');
      const updated = await c.query<{ h: string }>(
        `UPDATE target_statement_audit a SET calls = a.calls + v.calls FROM (VALUES ${values}) AS v(h, calls) WHERE a.workflow_id = $1 AND a.statement_hash = v.h RETURNING a.statement_hash AS h`,
        params,
      );
      const known = new Set(updated.rows.map((r) => r.h));
      const fresh = entries.filter((e) => !known.has(e.hash));
      if (!fresh.length) return;
      const insert: unknown[] = [workflowId, dialect];
      const rows = fresh.map((e) => `($1, $2, $${insert.push(e.hash)}, $${insert.push(e.statement)}, $${insert.push(e.calls)})`).join(', ');
      await c.query(`INSERT INTO target_statement_audit (workflow_id, dialect, statement_hash, statement, calls) VALUES ${rows}`, insert);
    }
  });
}

export interface StatementAudit {
  workflowId: string;
  configured: Dialect;
  statements: number;
  calls: number;
  /** the configured dialect's verdict: clean = nothing lacking and nothing unverified */
  verdict: { dialect: Dialect; clean: boolean; lacking: AuditFinding[]; unverified: AuditFinding[] };
  /** what the same statements would meet on each other dialect */
  others: { dialect: Dialect; clean: boolean; lacking: AuditFinding[]; unverified: AuditFinding[] }[];
}

/** The audit of everything a run sent to the target. */
export async function readStatementAudit(runbookUrl: string, workflowId: string, configured: Dialect): Promise<StatementAudit> {
  const rows = await withClient(runbookUrl, async (c) => {
    const [exists] = await run<{ ok: boolean }>(c, render('opengauss', 'relationExists', {}, ['target_statement_audit']));
    if (!exists.ok) return [];
    return (await c.query<{ statement: string; calls: string }>('SELECT statement, calls FROM target_statement_audit WHERE workflow_id = $1 ORDER BY first_seen, statement', [workflowId])).rows;
  });
  const statements = rows.map((r) => r.statement);
  return {
    workflowId,
    configured,
    statements: statements.length,
    calls: rows.reduce((n, r) => n + Number(r.calls), 0),
    verdict: auditStatements(statements, configured),
    others: DIALECTS.filter((d) => d !== configured).map((d) => auditStatements(statements, d)),
  };
}

/** 语句审计 as a section of the evidence pack. */
export function renderStatementAudit(a: StatementAudit): string {
  const lines = [
    `## 语句审计 Statements sent to the target, audited per dialect`,
    '',
    `${a.statements} distinct statements (${a.calls} calls) recorded at the driver for run ${a.workflowId}; configured dialect **${a.configured}**: ` +
      (a.verdict.clean ? '**clean 通过** — no construct it lacks or that no source confirms.' : `**${a.verdict.lacking.length} lacking, ${a.verdict.unverified.length} unverified 不通过**.`),
    '',
  ];
  const table = (title: string, v: StatementAudit['verdict']) => {
    const findings = [...v.lacking, ...v.unverified];
    lines.push(`### ${title}: ${v.dialect} — ${v.clean ? 'clean' : `${v.lacking.length} lacking, ${v.unverified.length} unverified`}`, '');
    if (!findings.length) return;
    lines.push('| construct | support | statements | source |', '|---|---|---:|---|');
    for (const f of findings) lines.push(`| ${f.title} | ${f.support} | ${f.statements.length} | ${f.sources.map((s) => `[${s.title.replace(/\|/g, '/')}](${s.url})`).join('; ') || '—'} |`);
    lines.push('');
  };
  table('配置方言 Configured', a.verdict);
  for (const o of a.others) table('其他方言 Would meet on', o);
  return lines.join('\n');
}
