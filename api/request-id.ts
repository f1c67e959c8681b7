import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Request ids: a caller's X-Request-Id is kept when it is sane (so a proxy's or the CLI's id follows
 * the request into our logs and audit trail), otherwise one is generated; either way it is returned
 * in the X-Request-Id response header. "Sane" excludes anything shaped like one of our tokens, so a
 * token pasted into the wrong header is not logged as an id.
 */
const SANE = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/;

export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE.test(given) && !given.startsWith('jmrb_') ? given : randomUUID();
}

export default fp(async function requestId(app: FastifyInstance) {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
});
