import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { z } from 'zod';
import { issueToken, listTokens, revokeToken, Role, ROLES, tokenRecord, USER_NAME_PATTERN } from '../../lib/runbook-db';
import { jsonSchemaOf } from '../contracts';
import { ProblemError } from '../problems';
import { problems } from '../schemas';

/**
 * 令牌管理 Token administration (admin role): issue a token for a user and role — its secret is in
 * the answer once and stored only as a hash —, list tokens (never a secret or hash), revoke one. Every
 * request is in the audit trail, listings included, with the token's id and never its secret. The
 * first admin token comes from the bootstrap command (npm run token), which needs the database itself.
 */
const TAG = '令牌 Tokens';
const ADMIN: readonly Role[] = ['admin'];

const tokenRecordSchema = jsonSchemaOf(tokenRecord, 'output') as { type: 'object'; properties: Record<string, object> };

/** GET /admin/tokens's answer; the CLI reads its type. */
export const tokenList = z.object({ tokens: z.array(tokenRecord) });
export type TokenList = z.infer<typeof tokenList>;

const tokenIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,17}$', description: '令牌编号 token id (from the list), never the token itself' } },
} as const;

export default async function adminTokenRoutes(app: FastifyInstance, opts: { pool: Pool }) {
  const { pool } = opts;

  app.post<{ Body: { user: string; role: Role } }>(
    '/admin/tokens',
    {
      config: { roles: ADMIN, action: 'issue token' },
      schema: {
        summary: '签发令牌 Issue a bearer token for a user and role (the secret is shown once)',
        tags: [TAG],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['user', 'role'],
          properties: {
            user: { type: 'string', pattern: USER_NAME_PATTERN, description: '用户 user name: letters, digits, . _ @ - (at most 64)' },
            role: { type: 'string', enum: [...ROLES], description: '角色 role' },
          },
        },
        response: {
          201: {
            description: '已签发 Issued: token is the secret, shown this once and never again',
            type: 'object',
            properties: { ...tokenRecordSchema.properties, token: { type: 'string', description: 'jmrb_… bearer token; store it (chmod 600), it cannot be shown again' } },
          },
          ...problems(400, 401, 403, 413, 415, 500),
        },
      },
    },
    async (request, reply) => {
      const issued = await issueToken(pool, request.body.user, request.body.role, request.actor!.name);
      request.audit.detail = { tokenId: issued.id, user: issued.user, role: issued.role };
      request.log.info({ tokenId: issued.id, user: issued.user, role: issued.role }, 'token issued');
      // A secret in the answer must not stay in a cache on the way.
      return reply.code(201).header('cache-control', 'no-store').send(issued);
    },
  );

  app.get(
    '/admin/tokens',
    {
      config: { roles: ADMIN, action: 'list tokens', auditReads: true },
      schema: {
        summary: '令牌列表 List tokens: who holds which role, issued and revoked by whom (no secrets)',
        tags: [TAG],
        response: {
          200: { description: '令牌 Tokens, newest first', ...jsonSchemaOf(tokenList, 'output') },
          ...problems(400, 401, 403, 500),
        },
      },
    },
    async (): Promise<TokenList> => ({ tokens: await listTokens(pool) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/tokens/:id',
    {
      config: { roles: ADMIN, action: 'revoke token' },
      schema: {
        summary: '吊销令牌 Revoke a token: it gets 401 from then on (revoking again changes nothing)',
        tags: [TAG],
        params: tokenIdParams,
        response: { 200: { ...tokenRecordSchema, description: '已吊销 Revoked' }, ...problems(400, 401, 403, 404, 409, 500) },
      },
    },
    async (request) => {
      const { id } = request.params;
      request.audit.detail.tokenId = id;
      // An admin revoking the token in hand could leave nobody able to issue another through the API.
      if (id === request.actor!.tokenId) {
        throw new ProblemError(409, 'Own token', 'this is the token of this request; revoke it with another admin token', 'params.id');
      }
      const revoked = await revokeToken(pool, id, request.actor!.name);
      if (!revoked) throw new ProblemError(404, 'Unknown token', `no token with id ${id}`, 'params.id');
      request.audit.detail = { tokenId: id, user: revoked.user, role: revoked.role };
      request.log.info({ tokenId: id, user: revoked.user }, 'token revoked');
      return revoked;
    },
  );
}
