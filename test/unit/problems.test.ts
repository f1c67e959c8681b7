import Fastify from 'fastify';
import problems, { ProblemError } from '../../api/problems';

/** Every 503 the API sends tells the caller when to come back, whichever path produced it. */
describe('503 answers carry Retry-After 暂不可用时告知重试时间', () => {
  async function app() {
    const a = Fastify();
    await a.register(problems);
    a.get('/starting', async () => {
      throw new ProblemError(503, 'Run starting', 'run x is still starting; try again in a moment');
    });
    a.get('/db-down', async () => {
      throw Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
    });
    a.get('/bug', async () => {
      throw new Error('boom');
    });
    return a;
  }

  it('a run still starting (ProblemError 503) and a dropped database both answer 503 with Retry-After: 5', async () => {
    const a = await app();
    const base = await a.listen({ host: '127.0.0.1', port: 0 });
    try {
      for (const url of ['/starting', '/db-down']) {
        const r = await fetch(base + url);
        expect([url, r.status, r.headers.get('retry-after')]).toEqual([url, 503, '5']);
        expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      }
      const bug = await fetch(base + '/bug');
      expect([bug.status, bug.headers.get('retry-after')]).toEqual([500, null]);
    } finally {
      await a.close();
    }
  });
});
