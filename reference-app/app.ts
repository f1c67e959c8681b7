import Fastify, { FastifyInstance } from 'fastify';
import { Pool, PoolClient } from 'pg';

/**
 * 参考业务系统 A reference implementation of the business interface the runbook's business tests call
 * (verification/business-tests.ts): the real new-system application is not ours, so this stands in
 * for it in tests and the demo. It writes to the target database the way a registry would —
 * 变更 change: the entity's field updated and a change-history row; 注销 cancellation: the entity's
 * status set to 4 (注销 cancelled) and a cancellation application recorded. Each request carries a
 * changeId the caller chose, so a repeated request is answered, not applied twice.
 *
 *   GET  /entities/:pripid                 → the entity
 *   POST /entities/:pripid/changes         { changeId, altitem, field, after, date } → 201
 *   POST /entities/:pripid/cancellation    { changeId, reason, date }                → 201
 */
/** The entity fields a change may set, with the SAMR change item (ALTITEM) each is recorded under. */
export const CHANGEABLE = { entname: '01', dom: '02', opscope: '10' } as const;
const CANCELLED = '4';

export async function buildReferenceApp(opts: { targetUrl: string; logLevel?: string }): Promise<FastifyInstance> {
  // The cutover snapshots the target (CREATE DATABASE … TEMPLATE refuses while anyone is connected) and
  // rolls it back (DROP … WITH (FORCE) ends every session): idle sessions close soon, and a session
  // ended under the pool is logged rather than taking the process down.
  const pool = new Pool({ connectionString: opts.targetUrl, max: 4, idleTimeoutMillis: 1000 });
  const app = Fastify({ logger: { name: 'reference-app', level: opts.logLevel ?? 'warn' } });
  app.addHook('onClose', () => pool.end());
  pool.on('error', (err) => app.log.warn({ err: err.message }, 'target session ended 目标库会话已断开'));
  // pg-pool listens on idle clients only: one in use whose session ends must not take the process down either.
  pool.on('connect', (client) => client.on('error', (err) => app.log.warn({ err: err.message }, 'target session ended 目标库会话已断开')));

  const problem = (status: number, detail: string, field?: string) => Object.assign(new Error(detail), { statusCode: status, field });
  app.setErrorHandler((err: Error & { statusCode?: number; field?: string; validation?: { instancePath: string; params: { missingProperty?: string } }[]; validationContext?: string }, _req, reply) => {
    const v = err.validation?.[0];
    // Name the offending field, e.g. "body.field", so the caller knows what to fix.
    const field = v ? [err.validationContext, v.instancePath.replace(/^\//, '').replace(/\//g, '.') || v.params.missingProperty].filter(Boolean).join('.') : err.field;
    const status = v ? 400 : (err.statusCode ?? 500);
    reply.code(status).type('application/problem+json').send({ title: status >= 500 ? 'Internal error' : 'Bad request', status, detail: err.message, ...(field ? { field } : {}) });
  });

  async function tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
  async function lockEntity(c: PoolClient, pripid: string) {
    const { rows } = await c.query('SELECT pripid, entname, dom, opscope, regstate FROM market_entity WHERE pripid = $1 FOR UPDATE', [pripid]);
    if (!rows.length) throw problem(404, `no entity with pripid ${pripid}`, 'pripid');
    return rows[0] as Record<string, string | null>;
  }

  const params = { type: 'object', properties: { pripid: { type: 'string', minLength: 1, maxLength: 40 } } };
  const changeId = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' };
  const date = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' };

  app.get<{ Params: { pripid: string } }>('/entities/:pripid', { schema: { params } }, async (req) => {
    const { rows } = await pool.query('SELECT pripid, uniscid, entname, enttype, regstate, dom, opscope FROM market_entity WHERE pripid = $1', [req.params.pripid]);
    if (!rows.length) throw problem(404, `no entity with pripid ${req.params.pripid}`, 'pripid');
    return rows[0];
  });

  app.post<{ Params: { pripid: string }; Body: { changeId: string; field: keyof typeof CHANGEABLE; after: string; date: string } }>(
    '/entities/:pripid/changes',
    {
      schema: {
        params,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['changeId', 'field', 'after', 'date'],
          properties: { changeId, field: { type: 'string', enum: Object.keys(CHANGEABLE) }, after: { type: 'string', minLength: 1, maxLength: 2000 }, date },
        },
      },
    },
    async (req, reply) => {
      const { pripid } = req.params;
      const { changeId: id, field, after, date: altdate } = req.body;
      const result = await tx(async (c) => {
        const entity = await lockEntity(c, pripid);
        const done = await c.query('SELECT altbe, altaf FROM entity_change WHERE altid = $1 AND pripid = $2', [id, pripid]);
        if (done.rows.length) return { status: 200, before: done.rows[0].altbe as string | null };
        if (entity.regstate === CANCELLED) throw problem(409, `entity ${pripid} is cancelled (注销); it takes no changes`, 'pripid');
        // The column name comes from the schema's enum, never from free text.
        await c.query(`UPDATE market_entity SET ${field} = $2 WHERE pripid = $1`, [pripid, after]);
        await c.query('INSERT INTO entity_change (altid, pripid, altitem, altbe, altaf, altdate) VALUES ($1, $2, $3, $4, $5, $6)', [id, pripid, CHANGEABLE[field], entity[field], after, altdate]);
        return { status: 201, before: entity[field] };
      });
      return reply.code(result.status).send({ changeId: id, pripid, field, altitem: CHANGEABLE[field], before: result.before, after });
    },
  );

  app.post<{ Params: { pripid: string }; Body: { changeId: string; reason: string; date: string } }>(
    '/entities/:pripid/cancellation',
    {
      schema: {
        params,
        body: { type: 'object', additionalProperties: false, required: ['changeId', 'reason', 'date'], properties: { changeId, reason: { type: 'string', minLength: 1, maxLength: 400 }, date } },
      },
    },
    async (req, reply) => {
      const { pripid } = req.params;
      const { changeId: id, date: appdate } = req.body;
      const status = await tx(async (c) => {
        const entity = await lockEntity(c, pripid);
        const done = await c.query('SELECT 1 FROM approval_application WHERE appid = $1 AND pripid = $2', [id, pripid]);
        if (done.rows.length) return 200;
        if (entity.regstate === CANCELLED) throw problem(409, `entity ${pripid} is already cancelled (注销)`, 'pripid');
        await c.query('UPDATE market_entity SET regstate = $2 WHERE pripid = $1', [pripid, CANCELLED]);
        await c.query(`INSERT INTO approval_application (appid, pripid, apptype, appdate, status, handler) VALUES ($1, $2, '03', $3, '已核准', 'reference-app')`, [id, pripid, appdate]);
        return 201;
      });
      return reply.code(status).send({ changeId: id, pripid, regstate: CANCELLED });
    },
  );
  return app;
}
