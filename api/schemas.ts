import { z } from 'zod';
import { secretIn } from '../lib/secrets';
import { ProblemError } from './problems';

/**
 * JSON schemas shared by the routes. Fastify validates requests and serializes responses with them,
 * and @fastify/swagger publishes them in the OpenAPI document, so one definition serves all three.
 */

/** Free text from people (comments, reasons): any language and punctuation, but no control characters. */
export const FREE_TEXT_PATTERN = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F\\u202A-\\u202E\\u2066-\\u2069]*$';

/** Identifiers that end up in workflow ids, URLs and file names: no path separators, dots first, or shell/SQL metacharacters. */
export const ID_SUFFIX_PATTERN = '[A-Za-z0-9][A-Za-z0-9._-]{0,100}';

/** A start body's optional `runId`, as a zod field: the workflow id is the kind's prefix and this. */
export function runIdField(idPrefix: string) {
  return z.string().regex(new RegExp(`^${ID_SUFFIX_PATTERN}$`)).describe(`运行编号 optional run id; the workflow id is ${idPrefix}<runId>`).optional();
}

export function freeText(description: string, maxLength: number, minLength = 0) {
  return { type: 'string', minLength, maxLength, pattern: FREE_TEXT_PATTERN, description } as const;
}

/** The same as a zod field (a start body or answer defined as a zod shape). */
export function freeTextField(description: string, maxLength: number, minLength = 0) {
  return z.string().min(minLength).max(maxLength).regex(new RegExp(FREE_TEXT_PATTERN)).describe(description);
}

/** Comments end up in workflow history, which keeps them forever: refuse anything that looks like a secret. */
export function refuseSecrets(text: string, field: string) {
  const what = secretIn(text);
  if (what) {
    throw new ProblemError(400, 'Secret in text', `${field} seems to contain ${what}; secrets must not go into comments, which are kept in the workflow history`, field);
  }
}

export const problemSchema = {
  type: 'object',
  description: '错误 Problem document (RFC 9457)',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    field: { type: 'string', description: 'the offending request field, e.g. body.mode' },
    instance: { type: 'string' },
    requestId: { type: 'string' },
  },
} as const;

const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: problemSchema } } });

/** The error responses every authenticated route can give; fastify serializes problems with this schema. */
export const problemResponses = {
  400: problemResponse('请求有误 Invalid request: the field is named'),
  401: problemResponse('未认证 Missing, unknown or revoked bearer token'),
  403: problemResponse('无权限 The role may not do this, or the four-eyes rule forbids it'),
  404: problemResponse('不存在 Unknown run, gate or report'),
  409: problemResponse('冲突 The run is not in a state that allows this'),
  413: problemResponse('请求过大 Request body too large'),
  415: problemResponse('类型不支持 Content-Type must be application/json'),
  422: problemResponse('幂等键冲突 Idempotency-Key reused for a different request'),
  500: problemResponse('内部错误 Internal error; quote the request id'),
  503: problemResponse('暂不可用 The run is still starting; try again in a moment'),
} as const;

/** Picks the documented error responses of a route. */
export function problems(...codes: (keyof typeof problemResponses)[]) {
  return Object.fromEntries(codes.map((c) => [c, problemResponses[c]]));
}

export const idempotencyKeyHeader = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      pattern: '^[A-Za-z0-9._:-]{8,128}$',
      description: '幂等键 a repeated request with the same key is counted once and answered the same',
    },
  },
} as const;
