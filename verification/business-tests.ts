import type { Client } from 'pg';

/**
 * 业务测试 Business tests: on sampled entities, a change (变更) and a cancellation (注销) performed
 * through the new system's business interface (HTTP, base URL configured per deployment; the
 * interface is the one reference-app/app.ts implements), each checked for success and then read back
 * from the target database itself — the API's word is not taken for it. Afterwards the test data is
 * rolled back (上线步骤5: 回滚清除测试数据) from before-images taken before the first request, so
 * the target again holds exactly the migration and verification can run again.
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

/** Before-images of the entities to be tested; idempotent ids derived from the run, so a retry repeats, never duplicates. */
export async function takeBeforeImages(target: Client, runId: string, pripids: string[]): Promise<BeforeImage[]> {
  const { rows } = await target.query<{ pripid: string; dom: string | null; regstate: string | null }>(
    'SELECT pripid, dom, regstate FROM market_entity WHERE pripid = ANY($1::text[]) ORDER BY pripid',
    [pripids],
  );
  return rows.map((r, i) => ({ ...r, changeId: `VT-${runId}-${i + 1}-chg`.slice(0, 64), cancelId: `VT-${runId}-${i + 1}-zx`.slice(0, 64) }));
}

/** Removes what the tests wrote and restores the entities; safe to run any number of times. */
export async function rollBack(target: Client, images: BeforeImage[]): Promise<void> {
  await target.query('BEGIN');
  try {
    for (const b of images) {
      await target.query('DELETE FROM entity_change WHERE altid = $1', [b.changeId]);
      await target.query('DELETE FROM approval_application WHERE appid = $1', [b.cancelId]);
      await target.query('UPDATE market_entity SET dom = $2, regstate = $3 WHERE pripid = $1', [b.pripid, b.dom, b.regstate]);
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

export async function runBusinessTests(opts: { target: Client; baseUrl: string; images: BeforeImage[]; date: string }): Promise<BusinessTestCase[]> {
  const { target, images, date } = opts;
  const base = opts.baseUrl.replace(/\/+$/, '');
  const cases: BusinessTestCase[] = [];
  for (const b of images) {
    const pid = encodeURIComponent(b.pripid);
    const after = testAddress(b.changeId);
    const change = await post(`${base}/entities/${pid}/changes`, { changeId: b.changeId, field: 'dom', after, date });
    const c = await target.query(
      `SELECT e.dom, x.altbe, x.altaf, x.altdate::text AS altdate FROM market_entity e LEFT JOIN entity_change x ON x.altid = $2 AND x.pripid = e.pripid WHERE e.pripid = $1`,
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
      detail: changeOk ? `dom now "${after}"; change record ${b.changeId} holds before and after` : `HTTP ${change.status ?? '—'} ${change.text}; read back: ${JSON.stringify(row)}`,
    });

    const cancel = await post(`${base}/entities/${pid}/cancellation`, { changeId: b.cancelId, reason: '验证测试 verification test', date });
    const z = await target.query(
      `SELECT e.regstate, a.apptype FROM market_entity e LEFT JOIN approval_application a ON a.appid = $2 AND a.pripid = e.pripid WHERE e.pripid = $1`,
      [b.pripid, b.cancelId],
    );
    const zrow = z.rows[0] ?? {};
    const cancelled = zrow.regstate === '4' && zrow.apptype === '03';
    const cancelOk = cancel.status !== null && cancel.status >= 200 && cancel.status < 300 && cancelled;
    cases.push({
      pripid: b.pripid,
      operation: 'cancellation',
      title: '注销 cancellation',
      ok: cancelOk,
      httpStatus: cancel.status,
      persisted: cancelled,
      detail: cancelOk ? `regstate 4 (注销 cancelled); cancellation application ${b.cancelId} (type 03)` : `HTTP ${cancel.status ?? '—'} ${cancel.text}; read back: ${JSON.stringify(zrow)}`,
    });
  }
  return cases;
}
