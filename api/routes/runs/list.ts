import type { FastifyInstance } from 'fastify';
import type { WorkflowExecutionStatusName } from '@temporalio/client';
import { defineSearchAttributeKey, type LoadedDataConverter, type Payload, SearchAttributeType, str, TypedSearchAttributes } from '@temporalio/common';
import { google, temporal as proto } from '@temporalio/proto';
import { documented, runList } from '../../contracts';
import { openPageToken, sealPageToken } from '../../page-token';
import { ProblemError } from '../../problems';
import { kindOfWorkflowId, type RunKind } from '../../run-kinds';
import { ID_SUFFIX_PATTERN, problems } from '../../schemas';
import { type ListedExecution, literal, READERS, type RunRouteContext } from './context';

const LIVE = new Set(['running', 'waiting_approval', 'waiting_operator']);

/** The SDK's name of an execution status (WORKFLOW_EXECUTION_STATUS_CANCELED → CANCELLED, as WorkflowExecutionInfo says it). */
function statusName(code: proto.api.enums.v1.WorkflowExecutionStatus | null | undefined): WorkflowExecutionStatusName {
  const name = code === null || code === undefined ? undefined : proto.api.enums.v1.WorkflowExecutionStatus[code]?.replace(/^WORKFLOW_EXECUTION_STATUS_/, '');
  return (name === 'CANCELED' ? 'CANCELLED' : (name ?? 'UNKNOWN')) as WorkflowExecutionStatusName;
}

/** A keyword search attribute as the server stores it (JSON, its type in the metadata); a one-element list of older servers unwrapped. */
function keyword(payload: Payload): string | undefined {
  if (!payload.metadata?.type || str(payload.metadata.type) !== 'Keyword' || !payload.data) return undefined;
  const value: unknown = JSON.parse(str(payload.data));
  const one = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
  return typeof one === 'string' ? one : undefined;
}

/**
 * A listed execution of a visibility page, read with the SDK's public pieces: the list must hand out the server's
 * page token, which client.workflow.list() keeps to itself, so the page comes from the workflow service and is
 * decoded here — the memo through the client's data converter, the keyword search attributes (kind, phase, status).
 */
async function listedExecution(raw: proto.api.workflow.v1.IWorkflowExecutionInfo, converter: LoadedDataConverter): Promise<ListedExecution> {
  const decode = async (payload: Payload): Promise<unknown> => {
    let decoded = [payload];
    for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
    return converter.payloadConverter.fromPayload(decoded[0]);
  };
  const memo = raw.memo?.fields ? Object.fromEntries(await Promise.all(Object.entries(raw.memo.fields).map(async ([k, p]) => [k, await decode(p)] as const))) : undefined;
  const keywords = Object.entries(raw.searchAttributes?.indexedFields ?? {}).flatMap(([name, p]) => {
    const value = keyword(p);
    return value === undefined ? [] : [{ key: defineSearchAttributeKey(name, SearchAttributeType.KEYWORD), value }];
  });
  const time = (t: google.protobuf.ITimestamp | null | undefined) => (t ? new Date(Number(String(t.seconds ?? 0)) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)) : undefined);
  return {
    type: raw.type?.name ?? '',
    workflowId: raw.execution?.workflowId ?? '',
    runId: raw.execution?.runId ?? '',
    status: { name: statusName(raw.status) },
    startTime: time(raw.startTime)!,
    closeTime: time(raw.closeTime),
    memo,
    typedSearchAttributes: new TypedSearchAttributes(keywords),
  };
}

/**
 * 运行列表 Runs across kinds: GET /runs (Temporal visibility, filtered and paged, page tokens sealed by the API) and
 * GET /runs/:workflowId (a redirect to the run under its kind).
 */
export default async function listRoutes(app: FastifyInstance, { ctx }: { ctx: RunRouteContext }) {
  const { temporal, namespace, signingKey, kinds, scope, summary } = ctx;

  app.get<{ Querystring: { kind?: string; status?: string; phase?: string; pageSize?: string; pageToken?: string } }>(
    '/runs',
    {
      config: { roles: READERS, action: 'list runs' },
      schema: {
        summary: '运行列表 List runs (filter by kind, status, phase; paginated)',
        tags: ['运行 Runs'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            kind: { type: 'string', enum: kinds.map((k) => k.kind), description: '类型 workflow kind' },
            status: { type: 'string', enum: [...new Set(kinds.flatMap((k) => k.statuses))], description: '状态 RunbookStatus' },
            phase: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: '阶段 RunbookPhase (a step key, or finished)' },
            // A string: query strings are text, and the API does not coerce types (bodies stay strict).
            pageSize: { type: 'string', pattern: '^(100|[1-9][0-9]?)$', description: 'runs per page, 1–100 (default 20)' },
            pageToken: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,4096}$', description: 'nextPageToken of the previous page' },
          },
        },
        response: {
          200: {
            description: '运行 Runs, newest first',
            type: 'object',
            properties: documented(runList).properties,
          },
          ...problems(400, 401, 403, 500),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const clauses = [scope];
      // Runs with ids of their kind's shape only: a cutover's verify step runs as a verification workflow
      // (cutover-…/verify) but is part of the cutover, in its state and its reports.
      const ofKind = (k: RunKind) => `(RunbookKind = ${literal(k.kind)} AND WorkflowId STARTS_WITH ${literal(k.idPrefix)})`;
      clauses.push(`(${kinds.filter((k) => !q.kind || k.kind === q.kind).map(ofKind).join(' OR ')})`);
      // A run that died without publishing its end still carries a live RunbookStatus: it lists as failed.
      if (q.status === 'failed') clauses.push(`(RunbookStatus = "failed" OR ExecutionStatus IN ("Failed", "Terminated", "TimedOut"))`);
      else if (q.status && LIVE.has(q.status)) clauses.push(`RunbookStatus = ${literal(q.status)} AND ExecutionStatus = "Running"`);
      else if (q.status) clauses.push(`RunbookStatus = ${literal(q.status)}`);
      if (q.phase) clauses.push(`RunbookPhase = ${literal(q.phase)}`);
      const serverToken = q.pageToken ? openPageToken(signingKey, q.pageToken) : undefined;
      if (q.pageToken && !serverToken) throw new ProblemError(400, 'Invalid request', 'querystring.pageToken is not a page token this API issued', 'querystring.pageToken');
      let response;
      try {
        response = await temporal.workflowService.listWorkflowExecutions({
          namespace,
          query: clauses.join(' AND '),
          pageSize: q.pageSize ? Number(q.pageSize) : 20,
          nextPageToken: serverToken,
        });
      } catch (err) {
        // A token that decodes but is not one the server issued is the client's mistake, not ours.
        // A token of the right alphabet the server cannot decode: gRPC INVALID_ARGUMENT (3), or UNKNOWN (2,
        // "something went wrong") from the dev server's SQL visibility.
        if (q.pageToken && ([2, 3].includes((err as { code?: number }).code ?? -1) || /token|page|invalid|unmarshal|decode/i.test((err as Error).message))) {
          throw new ProblemError(400, 'Invalid request', 'querystring.pageToken is not a page token this API issued', 'querystring.pageToken');
        }
        throw err;
      }
      const converter = temporal.workflow.options.loadedDataConverter;
      const runs = await Promise.all(response.executions.map(async (raw) => summary(await listedExecution(raw, converter))));
      const next = response.nextPageToken?.length ? sealPageToken(signingKey, response.nextPageToken) : undefined;
      return { runs, nextPageToken: next };
    },
  );

  app.get<{ Params: { workflowId: string } }>(
    '/runs/:workflowId',
    {
      config: { roles: READERS, action: 'find run' },
      schema: {
        summary: '按编号查找运行 Find a run by workflow id (redirects to its kind)',
        tags: ['运行 Runs'],
        params: {
          type: 'object',
          required: ['workflowId'],
          properties: { workflowId: { type: 'string', pattern: `^[a-z][a-z0-9]*-${ID_SUFFIX_PATTERN}$` } },
        },
        response: { 307: { description: '重定向 The run under its kind, e.g. /cutovers/<workflowId>', type: 'null' }, ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const kind = kindOfWorkflowId(kinds, request.params.workflowId);
      if (!kind) {
        throw new ProblemError(404, 'Unknown run', `no run kind has ids like ${request.params.workflowId}; prefixes: ${kinds.map((k) => k.idPrefix).join(', ')}`, 'params.workflowId');
      }
      return reply.redirect(`/${kind.collection}/${request.params.workflowId}`, 307);
    },
  );
}
