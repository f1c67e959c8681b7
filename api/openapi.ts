import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { version } from '../package.json';

/**
 * The OpenAPI document, built by @fastify/swagger from the routes' own JSON schemas (the same ones
 * fastify validates with), served at /openapi.json, with interactive docs at /docs. Registered before
 * the routes, because the plugin collects routes as they are added.
 */
export default fp(async function openapi(app: FastifyInstance, opts: { tags: { name: string; description: string }[] }) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: '江门市场准入信息系统 割接运行手册 API · Jiangmen registry cutover runbook API',
        description:
          'Start, watch, cancel and approve the runbook’s durable runs (Temporal). Bearer tokens (npm run token), roles viewer / operator / approver / admin; errors are application/problem+json naming the field; every state-changing or refused request is in the audit trail. Send X-Request-Id to correlate; it is echoed back.',
        version,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'jmrb_… token issued by an admin (npm run token)' } } },
      security: [{ bearer: [] }],
      tags: opts.tags,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: false } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});
