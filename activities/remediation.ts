import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { correctionSetProblem, listCorrectionSets, readCorrectionSet, recordOutcomes } from '../migration/correction-ledger';
import type { Client } from 'pg';
import { withClient, withPooledClient } from '../lib/db';
import { previousSigningKeys } from '../lib/settings';
import { withTarget } from '../lib/statement-audit';
import { DataQualityFilter, DataQualityRow, dataQualityRows } from '../migration/data-quality';
import { checkCorrections, columnOf, CorrectionPlan, CorrectionProblem, CorrectionSheet, LegacyRowReader, withCodeMappings } from '../migration/corrections';
import { prepareTargetSession } from '../verification/canonical';
import { checkReloadedRows, ReloadedRowsCheck } from '../verification/reloaded-rows';
import { FlaggedRows, readLegacyRows, reloadHeld, ReloadOutcome } from '../migration/remediate';
import { ensureIssueStatus } from '../migration/target-schema';
import type { Field } from '../migration/copy-text';
import { findTable, TableMapping } from '../migration/mapping';
import { countTable } from '../verification/counts';
import type { ApplyOutcome, KeyReconciliation, RemediationState, RowPath } from '../workflows/remediation-messages';
import type { ActivityDeps } from './deps';
import { whileBeating } from './heartbeat';

/** A row path's outcome as the report says it. */
const PATH_TEXT: Record<RowPath['outcome'], (runId: string) => string> = {
  loaded: (runId) => `loaded 已加载 in ${runId}`,
  updated: (runId) => `flagged, corrected in place 已整改 in ${runId}`,
  still_held: () => 'still held 仍隔离',
  still_flagged: () => 'still flagged 仍待整改',
};

/** Paths kept in the run's state; every one is in correction_outcome. */
const PATHS_IN_STATE = 200;

/**
 * The target's own record of what each remediation run loaded, written in the same transaction as the load;
 * `columns` (a JSON array of target columns) says which of a corrected row's columns the correction may have
 * changed, so verification excuses a difference there and nowhere else (NULL: recorded before it was kept — any).
 */
const LOG_DDL = `CREATE TABLE IF NOT EXISTS migration_remediation (
  run_id text NOT NULL,
  table_name text NOT NULL,
  source_key text NOT NULL,
  chunk_id text,
  followed text,
  loaded_at timestamptz NOT NULL DEFAULT now(),
  columns text,
  action text,
  PRIMARY KEY (run_id, table_name, source_key)
)`;

/**
 * The record's table, with its `columns` and `action` on a target that has the table from before (portable: no
 * ADD COLUMN IF NOT EXISTS); `action` 'updated': a row that loaded flagged, corrected in place (NULL: loaded by
 * the reload). And the status of the target's data-quality issues (已整改 corrected_by), which the loop closes.
 */
async function ensureLog(target: Client): Promise<void> {
  await target.query(LOG_DDL);
  await ensureIssueStatus(target);
  const { rows } = await target.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'migration_remediation' AND column_name IN ('columns', 'action')`);
  for (const column of ['columns', 'action'].filter((c) => !rows.some((r) => r.column_name === c))) {
    // two runs adding it at once: the second finds it there (42701), which is what it wanted
    await target.query(`ALTER TABLE migration_remediation ADD COLUMN ${column} text`).catch((err: { code?: string }) => {
      if (err.code !== '42701') throw err;
    });
  }
}

/** The legacy rows of a table's keys, read again by key (a row loaded flagged is corrected from its legacy row). */
function legacyReader(deps: ActivityDeps): LegacyRowReader {
  return (table, keys) => readLegacyRows(deps.legacySource, table, keys);
}

/** A plan's flagged rows as reloadHeld corrects them in place: their legacy rows and the columns each correction may change. */
function flaggedOf(entry: CorrectionPlan['tables'][number], columnsOf: (table: string, key: string) => string[]): FlaggedRows | undefined {
  if (!entry.flagged) return undefined;
  return { rows: new Map(Object.entries(entry.flagged)), columnsOf: (key) => columnsOf(entry.table, key) };
}

/**
 * The target columns a correction may change on a row of `table`: the fields it corrects, the columns coded by
 * a code table it adds entries to, and the derived columns (computed from the others).
 */
export function correctedColumns(table: TableMapping, fix: Record<string, Field>, codeTables: ReadonlySet<string>): string[] {
  const own = table.columns.filter((c) => c.source in fix || (c.codeTable !== undefined && codeTables.has(c.codeTable)));
  return [...own, ...(table.derived ?? [])].map((c) => c.target);
}

/**
 * Records what a reload loaded, in the reload's own transaction (reloadHeld's beforeCommit); a corrected row with
 * the columns its correction may change; a flagged row corrected in place as action 'updated'.
 */
function logLoaded(target: Client, runId: string, columnsOf: (table: string, key: string) => string[]) {
  return async (outcome: ReloadOutcome) => {
    const rows = [...outcome.loaded.map((l) => ({ ...l, action: null })), ...outcome.updated.map((u) => ({ ...u, followed: undefined, action: 'updated' }))];
    for (const l of rows) {
      // portable (openGauss has no ON CONFLICT): a row already recorded is left as it is
      await target.query(
        `INSERT INTO migration_remediation (run_id, table_name, source_key, chunk_id, followed, columns, action) SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text
          WHERE NOT EXISTS (SELECT 1 FROM migration_remediation WHERE run_id = $1 AND table_name = $2 AND source_key = $3)`,
        [runId, l.table, l.key, l.chunkId, l.followed ?? null, l.followed ? null : JSON.stringify(columnsOf(l.table, l.key)), l.action],
      );
    }
  };
}

/**
 * 整改沿用 A rehearsal starts with the corrections of the ones before: after a table's chunks, the rows of that
 * table held again are reloaded with every approved sheet's corrections for them (latest approval wins per
 * cell; code entries of every approved sheet apply), as a remediation run would. Called by the migration's
 * reconcile (activities/migrate.ts), before it counts. Returns the rows of the table this run loaded so
 * (from the target's own record, so a retry after the commit counts the same). Sheets whose signatures or
 * four-eyes do not hold are not applied; a runbook database without the ledger applies nothing.
 */
export async function applyApprovedCorrections(deps: ActivityDeps, tableName: string, runId: string): Promise<number> {
  const keys = [deps.settings.APPROVAL_SIGNING_KEY, ...previousSigningKeys(deps.settings)].filter(Boolean);
  let sets;
  try {
    sets = await withPooledClient(deps.settings.RUNBOOK_DATABASE_URL, (c) => listCorrectionSets(c, 10_000));
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return 0;
    throw err;
  }
  const approved = sets.filter((s) => !correctionSetProblem(s, keys)).sort((a, b) => a.decision!.at.localeCompare(b.decision!.at));
  const corrections = approved.flatMap((s) => s.sheet.corrections).filter((c) => c.table === tableName);
  const codes = new Map(approved.flatMap((s) => s.sheet.codeMappings).map((c) => [`${c.codeTable}\u0000${c.legacy}`, c]));
  // nothing approved for this table: the target is not even opened (the migration's reconcile pays one runbook query)
  if (!corrections.length && !codes.size) return 0;
  const setIds = approved.map((s) => s.id).join(',').slice(0, 500);
  const codeList = [...codes.values()];
  const rows = await withTarget(deps.settings, async (target) => {
    await ensureLog(target);
    const { plan } = await checkCorrections(target, deps.mapping, { reason: 'approved corrections', corrections, codeMappings: codeList }, legacyReader(deps));
    const mine = plan.tables.find((t) => t.table === tableName);
    if (mine) {
      const fixes = new Map(Object.entries(mine.corrections));
      const coded = new Set(codeList.map((c) => c.codeTable));
      const columnsOf = (t: string, key: string) => correctedColumns(findTable(deps.mapping, t), fixes.get(key) ?? {}, coded);
      await reloadHeld({ target, mapping: withCodeMappings(deps.mapping, codeList), table: tableName, keys: mine.keys, corrections: fixes, flagged: flaggedOf(mine, columnsOf), runId, beforeCommit: logLoaded(target, runId, columnsOf) });
    }
    const sql = 'SELECT source_key, chunk_id, action FROM migration_remediation WHERE run_id = $1 AND table_name = $2 AND followed IS NULL';
    return (await target.query<{ source_key: string; chunk_id: string | null; action: string | null }>(sql, [runId, tableName])).rows;
  });
  if (rows.length) {
    const outcomes = rows.map((r) => ({ table: tableName, key: r.source_key, outcome: r.action === 'updated' ? ('updated' as const) : ('loaded' as const), chunkId: r.chunk_id ?? undefined }));
    await withClient(deps.settings.RUNBOOK_DATABASE_URL, (c) => recordOutcomes(c, runId, setIds, outcomes));
    deps.logger.info({ table: tableName, rows: rows.length, updated: outcomes.filter((o) => o.outcome === 'updated').length, runId }, 'approved corrections applied in the migration 整改沿用');
  }
  // the rows it brought into the target (a flagged row corrected in place was there already: the count is the chunks')
  return rows.filter((r) => r.action !== 'updated').length;
}

/**
 * 问题数据整改 The remediation loop on the worker, where the mapping, the target and the signing keys are:
 * check a sheet before the API stores it, admit an approved sheet (signatures, four-eyes), reload its rows
 * and the children waiting for them, reconcile those keys, write the report.
 */
export function remediationActivities(deps: ActivityDeps) {
  const keys = () => [deps.settings.APPROVAL_SIGNING_KEY, ...previousSigningKeys(deps.settings)].filter(Boolean);
  const runbook = <T>(fn: Parameters<typeof withClient<T>>[1]) => withClient(deps.settings.RUNBOOK_DATABASE_URL, fn);

  /**
   * 整改复核 The rows a remediation run loaded (migration_remediation), compared per table with the legacy row read
   * again and its sheet's correction applied (verification/reloaded-rows.ts); a child that followed: as it is.
   */
  async function checkRunContent(workflowId: string): Promise<ReloadedRowsCheck[]> {
    const setIds = await runbook(async (c) => (await c.query<{ id: string }>('SELECT DISTINCT set_id AS id FROM correction_outcome WHERE workflow_id = $1', [workflowId])).rows.map((r) => r.id));
    const sheets = (await runbook(async (c) => Promise.all(setIds.map((id) => readCorrectionSet(c, id))))).flatMap((s) => (s ? [s.sheet] : []));
    if (!sheets.length) return [];
    const mapping = withCodeMappings(deps.mapping, sheets.flatMap((s) => s.codeMappings));
    return withTarget(deps.settings, async (target) => {
      await prepareTargetSession(target);
      const loaded = (await target.query<{ table_name: string; source_key: string; followed: string | null }>('SELECT table_name, source_key, followed FROM migration_remediation WHERE run_id = $1', [workflowId])).rows;
      const out: ReloadedRowsCheck[] = [];
      for (const table of mapping.tables) {
        const rows = new Map<string, Record<string, Field>>();
        for (const l of loaded) if (l.table_name === table.name) rows.set(l.source_key, {});
        if (!rows.size) continue;
        // the sheets' corrections of the rows corrected (not followers), in the sheets' order (the last one of a cell wins, as the reload did)
        const corrected = new Set(loaded.filter((l) => l.table_name === table.name && l.followed === null).map((l) => l.source_key));
        for (const c of sheets.flatMap((sheet) => sheet.corrections)) {
          const column = c.table === table.name && corrected.has(c.key) ? columnOf(table, c.column) : undefined;
          if (column) rows.get(c.key)![column.source] = c.value;
        }
        out.push(await checkReloadedRows({ source: deps.legacySource, target, mapping, table, rows }));
      }
      return out;
    });
  }

  /** What the sheet reloads, from the current quarantine (a repeat after a load finds the same keys, now loaded). */
  async function planOf(sheet: CorrectionSheet): Promise<{ problems: CorrectionProblem[]; plan: CorrectionPlan }> {
    return withTarget(deps.settings, async (target) => {
      await ensureIssueStatus(target);
      return checkCorrections(target, deps.mapping, sheet, legacyReader(deps));
    });
  }

  return {
    /** 整改校验 Validates a sheet against the mapping and the held rows; stores nothing. */
    async checkCorrections(input: { sheet: CorrectionSheet }): Promise<{ problems: CorrectionProblem[]; rows: number }> {
      const { problems, plan } = await planOf(input.sheet);
      return { problems, rows: plan.tables.reduce((n, t) => n + t.keys.length, 0) };
    },

    /** 问题数据清单 Held rows and data-quality issues as the target has them, filtered, the first `limit` of each. */
    async listDataQuality(input: { filter: DataQualityFilter; limit: number }): Promise<DataQualityRow[]> {
      return withTarget(deps.settings, (target) => dataQualityRows(target, input.limit, input.filter));
    },

    /** 整改单准入 The sheet may be applied (signed upload and approval, four-eyes), or why not. */
    async admitCorrectionSet(input: { setId: string }): Promise<{ ok: true; sheet: NonNullable<RemediationState['sheet']> } | { ok: false; refusal: string }> {
      const set = await runbook((c) => readCorrectionSet(c, input.setId));
      if (!set) return { ok: false, refusal: `no corrections sheet ${input.setId}` };
      const problem = correctionSetProblem(set, keys());
      if (problem) {
        deps.logger.warn({ setId: input.setId, problem }, 'corrections sheet refused 整改单未准入');
        return { ok: false, refusal: problem };
      }
      return { ok: true, sheet: { uploadedBy: set.uploadedBy, approvedBy: set.decision!.actor, corrections: set.corrections, codeMappings: set.codeMappings, reason: set.reason } };
    },

    /**
     * 整改重载 Reloads the sheet's held rows with their corrections, table by table in the mapping's order,
     * each table in one target transaction that also records what it loaded (migration_remediation): a crash
     * loads nothing of that table, a retry finds those rows loaded and reloads nothing twice. The outcome
     * (the record of this run, plus what is still held) goes to the runbook database, keyed so a retry
     * writes the same rows.
     */
    async applyCorrectionSet(input: { setId: string; workflowId: string }): Promise<ApplyOutcome> {
      return whileBeating(async () => {
        const set = await runbook((c) => readCorrectionSet(c, input.setId));
        // admitted by the workflow already; checked again here, where the rows are written
        const problem = set ? correctionSetProblem(set, keys()) : `no corrections sheet ${input.setId}`;
        if (problem || !set) throw ApplicationFailure.nonRetryable(problem ?? 'no sheet', 'CorrectionsNotAdmitted');
        const { plan } = await planOf(set.sheet);
        const mapping = withCodeMappings(deps.mapping, set.sheet.codeMappings);
        const coded = new Set(set.sheet.codeMappings.map((c) => c.codeTable));
        await withTarget(deps.settings, async (target) => {
          await ensureLog(target);
          for (const t of plan.tables) {
            const corrections = new Map(Object.entries(t.corrections));
            const columnsOf = (table: string, key: string) => correctedColumns(findTable(deps.mapping, table), corrections.get(key) ?? {}, coded);
            await reloadHeld({
              target,
              mapping,
              table: t.table,
              keys: t.keys,
              corrections,
              flagged: flaggedOf(t, columnsOf),
              runId: input.workflowId,
              beforeCommit: logLoaded(target, input.workflowId, columnsOf),
            });
          }
        });
        const paths = await withTarget(deps.settings, async (target) => {
          const loaded = await target.query<{ table_name: string; source_key: string; chunk_id: string | null; followed: string | null; action: string | null }>(
            'SELECT table_name, source_key, chunk_id, followed, action FROM migration_remediation WHERE run_id = $1 ORDER BY loaded_at, table_name, source_key',
            [input.workflowId],
          );
          const out: RowPath[] = loaded.rows.map((r) => ({ table: r.table_name, key: r.source_key, outcome: r.action === 'updated' ? 'updated' : 'loaded', chunkId: r.chunk_id ?? undefined, ...(r.followed ? { followed: r.followed } : {}) }));
          for (const t of plan.tables) {
            const held = await target.query<{ source_key: string; rule: string; detail: string; chunk_id: string }>(
              'SELECT source_key, rule, detail, chunk_id FROM migration_quarantine WHERE table_name = $1 AND source_key = ANY($2::text[]) ORDER BY source_key',
              [t.table, t.keys],
            );
            for (const h of held.rows) out.push({ table: t.table, key: h.source_key, outcome: 'still_held', chunkId: h.chunk_id, rule: h.rule, detail: h.detail });
            // a flagged row this run did not correct in place: still flagged, with the issue it keeps
            const notUpdated = Object.keys(t.flagged ?? {}).filter((k) => !loaded.rows.some((r) => r.table_name === t.table && r.source_key === k));
            if (!notUpdated.length) continue;
            const open = await target.query<{ source_key: string; rule: string; detail: string; chunk_id: string }>(
              'SELECT DISTINCT ON (source_key) source_key, rule, detail, chunk_id FROM migration_data_quality WHERE table_name = $1 AND source_key = ANY($2::text[]) AND corrected_by IS NULL ORDER BY source_key, id',
              [t.table, notUpdated],
            );
            for (const f of open.rows) out.push({ table: t.table, key: f.source_key, outcome: 'still_flagged', chunkId: f.chunk_id, rule: f.rule, detail: f.detail });
          }
          return out;
        });
        await runbook((c) => recordOutcomes(c, input.workflowId, input.setId, paths));
        deps.logger.info({ setId: input.setId, workflowId: input.workflowId, rows: paths.length }, 'corrections applied 整改重载完成');
        return {
          planned: plan.tables.map((t) => ({ table: t.table, keys: t.keys, ...(t.flagged ? { flagged: Object.keys(t.flagged).map((key) => ({ key, columns: correctedColumns(findTable(deps.mapping, t.table), t.corrections[key] ?? {}, coded) })) } : {}) })),
          loaded: paths.filter((p) => p.outcome === 'loaded' && !p.followed).length,
          followed: paths.filter((p) => p.followed).length,
          stillHeld: paths.filter((p) => p.outcome === 'still_held').length,
          updated: paths.filter((p) => p.outcome === 'updated').length,
          stillFlagged: paths.filter((p) => p.outcome === 'still_flagged').length,
          paths: paths.slice(0, PATHS_IN_STATE),
        };
      });
    },

    /**
     * 对账 The sheet's keys: none left in quarantine, each in the target; per touched table, legacy = loaded + quarantined;
     * the flagged rows it corrected keep no open issue in a corrected column (问题数据已关闭).
     */
    async reconcileCorrections(input: { planned: ApplyOutcome['planned']; workflowId: string }): Promise<KeyReconciliation> {
      return whileBeating(() =>
        withTarget(deps.settings, async (target) => {
          let stillQuarantined = 0;
          for (const p of input.planned) {
            stillQuarantined += (await target.query<{ n: number }>('SELECT count(DISTINCT source_key)::int AS n FROM migration_quarantine WHERE table_name = $1 AND source_key = ANY($2::text[])', [p.table, p.keys])).rows[0].n;
          }
          const loadedHere = await target.query<{ table_name: string; n: number }>('SELECT table_name, count(*)::int AS n FROM migration_remediation WHERE run_id = $1 AND followed IS NULL GROUP BY 1', [input.workflowId]).catch(() => ({ rows: [] as { table_name: string; n: number }[] }));
          const inTarget = loadedHere.rows.reduce((n, r) => n + r.n, 0);
          // the planned tables and every table below them: children followed their parents in
          const touched = new Set(input.planned.map((p) => p.table));
          for (const t of deps.mapping.tables) if (t.parent && touched.has(t.parent.table)) touched.add(t.name);
          const tables: KeyReconciliation['tables'] = [];
          for (const table of deps.mapping.tables.filter((t) => touched.has(t.name))) {
            const check = await countTable(deps.legacySource, null, target, table, deps.mapping);
            tables.push({ table: table.name, source: check.source, loaded: check.loaded, quarantined: check.quarantined, problems: check.problems });
          }
          // 问题数据已关闭 a flagged row corrected in place: no issue left open in the columns its correction changes
          let stillFlagged = 0;
          for (const p of input.planned) {
            if (!p.flagged?.length) continue;
            // (portable SQL: the columns are matched here, not by a multi-array unnest openGauss lacks)
            const columnsOf = new Map(p.flagged.map((f) => [f.key, new Set(f.columns)]));
            const open = (
              await target.query<{ source_key: string; column_name: string; rule: string }>(
                'SELECT source_key, column_name, rule FROM migration_data_quality WHERE table_name = $1 AND source_key = ANY($2::text[]) AND corrected_by IS NULL ORDER BY 1, 2',
                [p.table, p.flagged.map((f) => f.key)],
              )
            ).rows.filter((o) => columnsOf.get(o.source_key)?.has(o.column_name));
            const done = new Set((await target.query<{ k: string }>('SELECT source_key AS k FROM migration_remediation WHERE run_id = $1 AND table_name = $2', [input.workflowId, p.table])).rows.map((r) => r.k));
            const missed = p.flagged.filter((f) => !done.has(f.key)).map((f) => f.key);
            if (!open.length && !missed.length) continue;
            stillFlagged += new Set([...open.map((o) => o.source_key), ...missed]).size;
            const problems = [
              ...(open.length ? [`问题数据未关闭 ${open.length} data-quality issues stay open in corrected columns: ${open.slice(0, 5).map((o) => `${o.source_key} ${o.column_name} (${o.rule})`).join(', ')}${open.length > 5 ? ', …' : ''}`] : []),
              ...(missed.length ? [`问题数据未整改 ${missed.length} flagged rows were not corrected in place by this run: ${missed.slice(0, 5).join(', ')}${missed.length > 5 ? ', …' : ''}`] : []),
            ];
            const entry = tables.find((t) => t.table === p.table);
            if (entry) entry.problems.push(...problems);
            else tables.push({ table: p.table, source: 0, loaded: 0, quarantined: 0, problems });
          }
          // 整改复核 the content of what this run loaded: each row as the legacy gives it, with its correction
          for (const c of await checkRunContent(input.workflowId)) {
            if (c.unchecked) deps.logger.warn({ table: c.table, why: c.unchecked }, 'reloaded rows not compared 未复核');
            if (!c.differences.length) continue;
            const shown = c.differences.slice(0, 5).map((d) => `${d.key} ${d.kind}${d.fields ? ` (${d.fields.map((f) => `${f.column}: target ${JSON.stringify(f.target)}, expected ${JSON.stringify(f.source)}`).join('; ')})` : d.note ? ` (${d.note})` : ''}`);
            const problem = `内容复核 ${c.differences.length} of the ${c.checked} reloaded rows differ from the legacy row with its correction: ${shown.join(', ')}${c.differences.length > shown.length ? ', …' : ''}`;
            const entry = tables.find((t) => t.table === c.table);
            if (entry) entry.problems.push(problem);
            else tables.push({ table: c.table, source: 0, loaded: 0, quarantined: 0, problems: [problem] });
          }
          return { stillQuarantined, inTarget, tables, ...(stillFlagged ? { stillFlagged } : {}) };
        }),
      );
    },

    /** 整改报告 REPORTS_DIR/<runId>/remediation.md and .json; rewriting on a retry is harmless. */
    async writeRemediationReport(input: { state: RemediationState }): Promise<{ markdown: string; json: string }> {
      const s = input.state;
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(s.runId)) throw ApplicationFailure.nonRetryable(`run id "${s.runId}" cannot name a report folder`, 'BadRunId');
      const dir = path.join(deps.settings.REPORTS_DIR, s.runId);
      fs.mkdirSync(dir, { recursive: true });
      const o = s.outcome;
      const r = s.reconciliation;
      const markdown = [
        `# 问题数据整改 Remediation ${s.runId}`,
        '',
        `- 整改单 corrections sheet: ${s.correctionSet} — uploaded by ${s.sheet?.uploadedBy}, approved by ${s.sheet?.approvedBy} (四眼 four-eyes); ${s.sheet?.corrections} field corrections, ${s.sheet?.codeMappings} code entries`,
        `- 说明 reason: ${s.sheet?.reason ?? ''}`,
        `- 启动 started by ${s.requestedBy}`,
        o ? `- 重载 reloaded: ${o.loaded} rows corrected, ${o.followed} waiting children followed, ${o.stillHeld} still held` : '',
        o?.updated || o?.stillFlagged ? `- 问题数据整改 rows that loaded flagged: ${o.updated ?? 0} corrected in place 已整改, ${o.stillFlagged ?? 0} still flagged` : '',
        r ? `- 对账 reconciliation: ${r.stillQuarantined} of the sheet's keys still in quarantine; ${r.tables.every((t) => !t.problems.length) ? 'legacy = loaded + quarantined in every touched table' : r.tables.flatMap((t) => t.problems).join('; ')}` : '',
        '',
        '## 处理路径 Row paths',
        '',
        '| table 表 | key 主键 | outcome 结果 | held or flagged at chunk 隔离/标记分块 | followed 跟随 | rule 规则 |',
        '|---|---|---|---|---|---|',
        ...(o?.paths ?? []).map((p) => `| ${p.table} | ${p.key} | ${PATH_TEXT[p.outcome](s.runId)} | ${p.chunkId ?? ''} | ${p.followed ?? ''} | ${(p.rule ?? '').replace(/\|/g, '\\|')} |`),
        '',
        r ? ['## 对账 Reconciliation', '', '| table 表 | legacy 源 | loaded 已加载 | quarantined 隔离 | problems 问题 |', '|---|---|---|---|---|', ...r.tables.map((t) => `| ${t.table} | ${t.source} | ${t.loaded} | ${t.quarantined} | ${t.problems.join('; ') || '—'} |`)].join('\n') : '',
      ].join('\n');
      const md = path.join(dir, 'remediation.md');
      const js = path.join(dir, 'remediation.json');
      fs.writeFileSync(md, markdown);
      fs.writeFileSync(js, JSON.stringify(s, null, 2));
      return { markdown: md, json: js };
    },
  };
}
