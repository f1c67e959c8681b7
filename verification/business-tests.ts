import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import { BusinessLayout, REFERENCE_BUSINESS_LAYOUT } from '../migration/business-layout';

/**
 * 业务测试 Business tests: on sampled entities, a change (变更) and a cancellation (注销) performed
 * through the new system's business interface (HTTP, base URL configured per deployment; the
 * interface is the one reference-app/app.ts implements), each checked for success and then read back
 * from the target database itself — the API's word is not taken for it. Afterwards the test data is
 * rolled back (上线步骤5: 回滚清除测试数据) from before-images taken before the first request, so
 * the target again holds exactly the migration and verification can run again. Where the writes land in the
 * target is the mapping's `businessTests` (migration/business-layout.ts), by default the reference application's.
 */
export interface BeforeImage {
  pripid: string;
  dom: string | null;
  regstate: string | null;
  changeId: string;
  cancelId: string;
}

export interface BusinessTestCase {
  pripid: string;
  operation: 'change' | 'cancellation';
  /** 变更 / 注销 */
  title: string;
  ok: boolean;
  httpStatus: number | null;
  /** what was read back from the target */
  persisted: boolean;
  detail: string;
}

export interface BusinessTestResult {
  baseUrl: string;
  ok: boolean;
  cases: BusinessTestCase[];
  rolledBack: boolean;
}

export const testAddress = (changeId: string) => `广东省江门市验证测试地址 ${changeId}`;

/** The layout's names as SQL: quoted identifiers, grouped by the table they belong to. */
function sqlOf(layout: BusinessLayout) {
  const q = quoteIdent;
  const { entity: e, change: c, cancellation: z } = layout;
  return {
    entity: { table: q(e.table), key: q(e.key), address: q(e.address), state: q(e.state) },
    change: { table: q(c.table), key: q(c.key), entity: q(c.entity), before: q(c.before), after: q(c.after), date: q(c.date) },
    cancellation: { table: q(z.table), key: q(z.key), entity: q(z.entity), type: q(z.type) },
  };
}

/** The candidates that may be tested: active (存续) entities in the target. */
export async function activeEntities(target: Client, candidates: string[], layout: BusinessLayout = REFERENCE_BUSINESS_LAYOUT): Promise<Set<string>> {
  const { entity: e } = sqlOf(layout);
  const { rows } = await target.query<{ k: string }>(`SELECT ${e.key}::text AS k FROM ${e.table} WHERE ${e.key}::text = ANY($1::text[]) AND ${e.state}::text = $2`, [candidates, layout.entity.active]);
  return new Set(rows.map((r) => r.k));
}

/** Before-images of the entities to be tested; idempotent ids derived from the run, so a retry repeats, never duplicates. */
export async function takeBeforeImages(target: Client, runId: string, pripids: string[], layout: BusinessLayout = REFERENCE_BUSINESS_LAYOUT): Promise<BeforeImage[]> {
  const { entity: e } = sqlOf(layout);
  const { rows } = await target.query<{ pripid: string; dom: string | null; regstate: string | null }>(
    `SELECT ${e.key}::text AS pripid, ${e.address}::text AS dom, ${e.state}::text AS regstate FROM ${e.table} WHERE ${e.key}::text = ANY($1::text[]) ORDER BY 1`,
    [pripids],
  );
  return rows.map((r, i) => ({ ...r, changeId: `VT-${runId}-${i + 1}-chg`.slice(0, 64), cancelId: `VT-${runId}-${i + 1}-zx`.slice(0, 64) }));
}

/** Removes what the tests wrote and restores the entities; safe to run any number of times. */
export async function rollBack(target: Client, images: BeforeImage[], layout: BusinessLayout = REFERENCE_BUSINESS_LAYOUT): Promise<void> {
  const { entity: e, change: c, cancellation: z } = sqlOf(layout);
  await target.query('BEGIN');
  try {
    for (const b of images) {
      await target.query(`DELETE FROM ${c.table} WHERE ${c.key}::text = $1`, [b.changeId]);
      await target.query(`DELETE FROM ${z.table} WHERE ${z.key}::text = $1`, [b.cancelId]);
      await target.query(`UPDATE ${e.table} SET ${e.address} = $2, ${e.state} = $3 WHERE ${e.key}::text = $1`, [b.pripid, b.dom, b.regstate]);
    }
    await target.query('COMMIT');
  } catch (err) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function post(url: string, body: unknown): Promise<{ status: number | null; text: string }> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    return { status: res.status, text: (await res.text()).slice(0, 500) };
  } catch (err) {
    return { status: null, text: `no answer: ${(err as Error).message}` };
  }
}

export async function runBusinessTests(opts: { target: Client; baseUrl: string; images: BeforeImage[]; date: string; layout?: BusinessLayout }): Promise<BusinessTestCase[]> {
  const { target, images, date } = opts;
  const layout = opts.layout ?? REFERENCE_BUSINESS_LAYOUT;
  const { entity: ent, change: chg, cancellation: can } = sqlOf(layout);
  const base = opts.baseUrl.replace(/\/+$/, '');
  const cases: BusinessTestCase[] = [];
  for (const b of images) {
    const pid = encodeURIComponent(b.pripid);
    const after = testAddress(b.changeId);
    const change = await post(`${base}/entities/${pid}/changes`, { changeId: b.changeId, field: 'dom', after, date });
    const c = await target.query(
      `SELECT e.${ent.address}::text AS dom, x.${chg.before}::text AS altbe, x.${chg.after}::text AS altaf, x.${chg.date}::text AS altdate
         FROM ${ent.table} e LEFT JOIN ${chg.table} x ON x.${chg.key}::text = $2 AND x.${chg.entity} = e.${ent.key} WHERE e.${ent.key}::text = $1`,
      [b.pripid, b.changeId],
    );
    const row = c.rows[0] ?? {};
    const changed = row.dom === after && row.altaf === after && row.altbe === b.dom && row.altdate === date;
    const changeOk = change.status !== null && change.status >= 200 && change.status < 300 && changed;
    cases.push({
      pripid: b.pripid,
      operation: 'change',
      title: '变更 change of address (住所)',
      ok: changeOk,
      httpStatus: change.status,
      persisted: changed,
      detail: changeOk ? `${layout.entity.address} now "${after}"; change record ${b.changeId} holds before and after` : `HTTP ${change.status ?? '—'} ${change.text}; read back: ${JSON.stringify(row)}`,
    });

    const cancel = await post(`${base}/entities/${pid}/cancellation`, { changeId: b.cancelId, reason: '验证测试 verification test', date });
    const z = await target.query(
      `SELECT e.${ent.state}::text AS regstate, a.${can.type}::text AS apptype FROM ${ent.table} e LEFT JOIN ${can.table} a ON a.${can.key}::text = $2 AND a.${can.entity} = e.${ent.key} WHERE e.${ent.key}::text = $1`,
      [b.pripid, b.cancelId],
    );
    const zrow = z.rows[0] ?? {};
    const cancelled = zrow.regstate === layout.entity.cancelled && zrow.apptype === layout.cancellation.value;
    const cancelOk = cancel.status !== null && cancel.status >= 200 && cancel.status < 300 && cancelled;
    cases.push({
      pripid: b.pripid,
      operation: 'cancellation',
      title: '注销 cancellation',
      ok: cancelOk,
      httpStatus: cancel.status,
      persisted: cancelled,
      detail: cancelOk ? `${layout.entity.state} ${layout.entity.cancelled} (注销 cancelled); cancellation application ${b.cancelId} (type ${layout.cancellation.value})` : `HTTP ${cancel.status ?? '—'} ${cancel.text}; read back: ${JSON.stringify(zrow)}`,
    });
  }
  return cases;
}
