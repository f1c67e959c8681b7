import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { z } from 'zod';
import { CorrectionSetRecord, decideCorrectionSet, listCorrectionSets, readCorrectionSet, storeCorrectionSet } from '../../migration/correction-ledger';
import { CorrectionProblem, CorrectionSheet, correctionSheetSchema, parseCorrectionCsv } from '../../migration/corrections';
import { dataQualityCsv, DataQualityRow } from '../../migration/data-quality';
import { jsonSchemaOf } from '../contracts';
import { ProblemError } from '../problems';
import { generatedRunId } from '../run-kinds';
import { freeText, ID_SUFFIX_PATTERN, problems, problemSchema, refuseSecrets } from '../schemas';

/**
 * 问题数据整改 The corrections sheets of the remediation loop: upload (operator; CSV `table,key,column,value`
 * or JSON, one shape: migration/corrections.ts), list and read, approve or reject (approver, never the
 * uploader: 四眼原则). A sheet is checked by the worker against the mapping and the held rows before it is
 * stored (it holds the mapping and reaches the target; the API does neither): a correction that still breaks
 * a rule is refused with the table, key, column and rule, and nothing is stored. A remediation run
 * (POST /remediations) applies an approved sheet.
 */
/** A corrections sheet's id, as its routes and the remediation run's start name it. */
export const CORRECTION_SET_PATTERN = ID_SUFFIX_PATTERN;

export interface RemediationRoutesOptions {
  temporal: Client;
  pool: Pool;
  taskQueue: string;
  signingKey: string;
  /** how long an upload waits for the worker's check (a test makes it short) */
  checkTimeoutMs?: number;
}

const TAG = '整改 Remediation';
const READERS = ['viewer', 'operator', 'approver'] as const;

/** A corrections sheet as the API shows it; the routes document it and the CLI reads its type from this shape. */
const correctionSetView = z.object({
  id: z.string(),
  at: z.string().meta({ format: 'date-time' }),
  uploadedBy: z.string(),
  reason: z.string(),
  status: z.enum(['awaiting_approval', 'approved', 'rejected']),
  sha256: z.string().describe('SHA-256 of the sheet as stored; the upload and the decision are signed over it'),
  corrections: z.number().int(),
  codeMappings: z.number().int(),
  decision: z.object({ actor: z.string(), role: z.string(), decision: z.enum(['approve', 'reject']), reason: z.string().nullable(), at: z.string() }).optional(),
  href: z.string(),
});
export type CorrectionSetView = z.infer<typeof correctionSetView>;
const setSchema = jsonSchemaOf(correctionSetView, 'output') as { type: 'object'; properties: Record<string, object> };

/** GET /remediation/corrections's answer; the CLI reads its type. */
const correctionSetList = z.object({ sheets: z.array(correctionSetView) });
export type CorrectionSetList = z.infer<typeof correctionSetList>;

const view = (s: CorrectionSetRecord): CorrectionSetView => ({
  id: s.id,
  at: s.at,
  uploadedBy: s.uploadedBy,
  reason: s.reason,
  status: s.status,
  sha256: s.sha256,
  corrections: s.corrections,
  codeMappings: s.codeMappings,
  ...(s.decision ? { decision: { actor: s.decision.actor, role: s.decision.role, decision: s.decision.decision, reason: s.decision.reason, at: s.decision.at } } : {}),
  href: `/remediation/corrections/${s.id}`,
});

export default async function remediationRoutes(app: FastifyInstance, opts: RemediationRoutesOptions) {
  const { temporal, pool, taskQueue, signingKey } = opts;
  // CSV as business staff save it from Excel; only within this plugin
  app.addContentTypeParser(['text/csv'], { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_request, body, done) => done(null, body));

  /** A short read-only workflow on the worker, which holds the mapping and reaches the target; no worker in time: 503. */
  async function askWorker<T>(workflowType: 'remediationCheck' | 'remediationHeld', arg: unknown, what: string): Promise<T> {
    try {
      return await temporal.workflow.execute(workflowType, {
        taskQueue,
        workflowId: `remediation-check-${randomUUID()}`,
        args: [arg],
        workflowExecutionTimeout: opts.checkTimeoutMs ?? 60_000,
        staticSummary: what,
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'WorkflowFailedError' && /timed out|timeout/i.test(`${(err as Error).message} ${(err as { cause?: Error }).cause?.message ?? ''}`);
      if (timedOut) throw new ProblemError(503, 'Worker unavailable 暂不可用', `no worker answered in time (${what}); nothing was stored — try again once a worker runs`);
      throw err;
    }
  }
  const workerCheck = (sheet: CorrectionSheet) => askWorker<{ problems: CorrectionProblem[]; rows: number }>('remediationCheck', { sheet }, '整改校验 Check a corrections sheet before it is stored');

  app.post<{ Body: unknown; Querystring: { reason?: string } }>(
    '/remediation/corrections',
    {
      config: { roles: ['operator'], action: 'upload corrections' },
      bodyLimit: 1024 * 1024,
      schema: {
        summary: '上传整改单 Upload a corrections sheet (CSV table,key,column,value or JSON); checked against the mapping, stored awaiting approval',
        description:
          'JSON: {"reason": …, "corrections": [{"table","key","column","value"}], "codeMappings": [{"codeTable","legacy","target","label","why"}]}. CSV (text/csv, UTF-8, a BOM is fine): header table,key,column,value, an empty value is NULL; the reason in ?reason=. Each correction is run through the migration’s own transform on the held row: one that still breaks a rule is refused (422, naming table, key, column and rule) and nothing is stored.',
        tags: [TAG],
        querystring: { type: 'object', additionalProperties: false, properties: { reason: freeText('整改说明 the reason, for a CSV upload', 2000, 3) } },
        body: {
          content: {
            'application/json': { schema: { type: 'object', description: '整改单 the sheet (shape: migration/corrections.ts correctionSheetSchema)' } },
            'text/csv': { schema: { type: 'string', description: 'table,key,column,value' } },
          },
        },
        response: {
          201: { description: '已保存待审批 Stored, awaiting approval by a second person', ...setSchema, properties: { ...setSchema.properties, rows: { type: 'integer', description: 'held rows the sheet reloads' } } },
          422: {
            description: '整改不通过 A correction still breaks a rule: nothing stored',
            content: {
              'application/problem+json': {
                schema: {
                  ...problemSchema,
                  properties: {
                    ...problemSchema.properties,
                    problems: {
                      type: 'array',
                      items: { type: 'object', properties: { field: { type: 'string' }, table: { type: 'string' }, key: { type: ['string', 'null'] }, column: { type: ['string', 'null'] }, rule: { type: 'string' }, detail: { type: 'string' } } },
                    },
                  },
                },
              },
            },
          },
          ...problems(400, 401, 403, 413, 415, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const actor = request.actor!;
      let candidate: unknown = request.body;
      if (typeof request.body === 'string') {
        const csv = parseCorrectionCsv(request.body);
        if (!csv.ok) throw new ProblemError(400, 'Invalid sheet 整改单格式错误', csv.problem, csv.field);
        if (!request.query.reason) throw new ProblemError(400, 'Reason required', 'a CSV sheet needs ?reason= (整改说明: what it corrects and on whose word)', 'querystring.reason');
        candidate = { reason: request.query.reason, corrections: csv.corrections };
      }
      const parsed = correctionSheetSchema.safeParse(candidate);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const at = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
        throw new ProblemError(400, 'Invalid sheet 整改单格式错误', `body${at}: ${issue.message}`, `body${at}`);
      }
      const sheet = parsed.data;
      refuseSecrets(sheet.reason, 'body.reason');
      for (const [i, c] of sheet.codeMappings.entries()) refuseSecrets(c.why, `body.codeMappings[${i}].why`);
      const checked = await workerCheck(sheet);
      request.audit.detail = { corrections: sheet.corrections.length, codeMappings: sheet.codeMappings.length, problems: checked.problems.length };
      if (checked.problems.length) {
        const shown = checked.problems.slice(0, 5).map((p) => `body.${p.field}: ${p.table} ${p.key ?? ''}${p.column ? ` column ${p.column}` : ''} — ${p.rule}: ${p.detail}`);
        return reply
          .code(422)
          .type('application/problem+json')
          .send({
            type: 'about:blank',
            title: 'Correction refused 整改不通过',
            status: 422,
            detail: `${checked.problems.length} correction(s) would still break the migration's rules; nothing was stored. ${shown.join('; ')}${checked.problems.length > 5 ? ` (+${checked.problems.length - 5} more)` : ''}`,
            field: `body.${checked.problems[0].field}`,
            instance: request.url.split('?')[0],
            requestId: request.id,
            problems: checked.problems.slice(0, 200),
          });
      }
      const id = generatedRunId('sheet');
      const stored = await storeCorrectionSet(pool, { id, actor: actor.name, role: actor.role, sheet, requestId: request.id, signingKey });
      request.audit.runId = `corrections-${id}`;
      request.log.info({ id, corrections: stored.corrections, codeMappings: stored.codeMappings }, 'corrections sheet stored 整改单已保存');
      return reply.code(201).send({ ...view(stored), rows: checked.rows });
    },
  );

  app.get<{ Querystring: { table?: string; rule?: string; kind?: 'quarantined' | 'flagged'; format?: 'json' | 'csv'; limit?: string } }>(
    '/remediation/held',
    {
      config: { roles: READERS, action: 'list held rows' },
      schema: {
        summary: '问题数据清单 Held rows and data-quality issues by table and rule, with the legacy row; JSON or CSV for Excel',
        description: 'Read from the target by the worker: quarantined rows (with the legacy row as read, raw_row) and rows loaded flagged (rule, column, raw value). CSV has a UTF-8 BOM and CRLF for Excel, every field quoted, a value starting with = + - @ kept as text. The first `limit` of each kind (default 500, at most 1000); the whole sheet is data-quality.csv beside a rehearsal’s evidence pack.',
        tags: [TAG, '报告 Reports'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            table: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$', description: '表 the mapping’s table' },
            rule: { type: 'string', pattern: '^[a-z_]{1,40}(:[A-Za-z0-9_:.-]{1,200})?$', description: '规则 a rule (invalid_capital:regcap) or its kind (invalid_capital, orphan, waiting_for)' },
            kind: { type: 'string', enum: ['quarantined', 'flagged'], description: 'held rows or issues of loaded rows; default both' },
            format: { type: 'string', enum: ['json', 'csv'], default: 'json' },
            limit: { type: 'string', pattern: '^([1-9][0-9]{0,2}|1000)$', description: 'rows of each kind, 1–1000 (default 500)' },
          },
        },
        response: {
          200: {
            description: '问题数据 Held rows and issues',
            content: {
              'application/json': { schema: { type: 'object', properties: { rows: { type: 'array', items: { type: 'object', additionalProperties: true } } } } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          ...problems(400, 401, 403, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const rows = await askWorker<DataQualityRow[]>('remediationHeld', { filter: { table: q.table, rule: q.rule, kind: q.kind }, limit: Number(q.limit ?? 500) }, '问题数据清单 List held rows and issues');
      if (q.format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="data-quality.csv"').send(dataQualityCsv(rows));
      return reply.type('application/json; charset=utf-8').send({ rows });
    },
  );

  app.get<{ Querystring: { status?: string } }>(
    '/remediation/corrections',
    {
      config: { roles: READERS, action: 'list corrections' },
      schema: {
        summary: '整改单列表 Corrections sheets, newest first, with their status',
        tags: [TAG],
        querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['awaiting_approval', 'approved', 'rejected'], description: '状态 only sheets with this status' } } },
        response: { 200: jsonSchemaOf(correctionSetList, 'output'), ...problems(400, 401, 403, 500) },
      },
    },
    async (request): Promise<CorrectionSetList> => ({ sheets: (await listCorrectionSets(pool)).filter((s) => !request.query.status || s.status === request.query.status).map(view) }),
  );

  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: `^${CORRECTION_SET_PATTERN}$`, description: '整改单编号 sheet id' } } };

  app.get<{ Params: { id: string } }>(
    '/remediation/corrections/:id',
    {
      config: { roles: READERS, action: 'view corrections' },
      schema: {
        summary: '查看整改单 One corrections sheet with its content',
        tags: [TAG],
        params: idParams,
        response: { 200: { ...setSchema, properties: { ...setSchema.properties, sheet: { type: 'object', additionalProperties: true } } }, ...problems(400, 401, 403, 404, 500) },
      },
    },
    async (request) => {
      const set = await readCorrectionSet(pool, request.params.id);
      if (!set) throw new ProblemError(404, 'Unknown sheet', `no corrections sheet ${request.params.id}`, 'params.id');
      return { ...view(set), sheet: set.sheet };
    },
  );

  app.post<{ Params: { id: string }; Body: { decision: 'approve' | 'reject'; reason?: string } }>(
    '/remediation/corrections/:id/decision',
    {
      config: { roles: ['approver'], action: 'decide corrections' },
      schema: {
        summary: '审批整改单 Approve or reject a corrections sheet (four-eyes: never its uploader)',
        description: 'One decision per sheet. The decision is signed by the API over the sheet’s digest; a remediation run applies the sheet only with a valid signed approval by someone other than the uploader.',
        tags: [TAG, '审批 Approvals'],
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['decision'],
          properties: { decision: { type: 'string', enum: ['approve', 'reject'] }, reason: freeText('审批意见 why', 2000) },
        },
        response: { 200: setSchema, ...problems(400, 401, 403, 404, 409, 413, 415, 500) },
      },
    },
    async (request) => {
      const actor = request.actor!;
      const { decision, reason } = request.body;
      if (reason) refuseSecrets(reason, 'body.reason');
      request.audit.runId = `corrections-${request.params.id}`;
      request.audit.detail = { decision };
      const set = await readCorrectionSet(pool, request.params.id);
      if (!set) throw new ProblemError(404, 'Unknown sheet', `no corrections sheet ${request.params.id}`, 'params.id');
      if (set.uploadedBy === actor.name) {
        throw new ProblemError(403, 'Four-eyes 四眼原则', `${actor.name} uploaded sheet ${set.id}; a second person (role approver) decides it`, 'params.id');
      }
      if (set.decision) throw new ProblemError(409, 'Already decided', `sheet ${set.id} was already ${set.decision.decision === 'approve' ? 'approved' : 'rejected'} by ${set.decision.actor} at ${set.decision.at}`, 'params.id');
      const recorded = await decideCorrectionSet(pool, { id: set.id, sha256: set.sha256, actor: actor.name, role: actor.role, decision, reason, signingKey });
      if (!recorded) throw new ProblemError(409, 'Already decided', `sheet ${set.id} was decided by someone else a moment ago`, 'params.id');
      request.log.info({ id: set.id, decision }, 'corrections sheet decided 整改单已审批');
      return view((await readCorrectionSet(pool, set.id))!);
    },
  );
}
