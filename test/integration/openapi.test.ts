import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3 } from 'openapi-types';
import { TestStack } from '../support/stack';

/**
 * The OpenAPI document the API serves is valid OpenAPI, and documents every route fastify has —
 * compared with fastify's own route table, so a route added without docs fails here.
 */
describe('OpenAPI document and docs', () => {
  const stack = new TestStack();
  let doc: OpenAPIV3.Document;

  beforeAll(async () => {
    await stack.start();
    const r = await stack.http('GET', '/openapi.json');
    expect(r.status).toBe(200);
    doc = r.body;
  });
  afterAll(() => stack.stop());

  it('validates as OpenAPI 3', async () => {
    expect(doc.openapi).toMatch(/^3\.0\./);
    // validate() dereferences in place: give it a copy so the checks below see the served document.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('lists exactly the routes fastify serves, apart from the docs themselves', () => {
    const served = stack.app.registeredRoutes
      .filter((r) => r.method !== 'HEAD' && !r.hidden)
      .map((r) => `${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`)
      .sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item!).filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(served);
    // The hidden ones are the docs UI and the document itself, nothing else.
    const hidden = stack.app.registeredRoutes.filter((r) => r.hidden && r.method !== 'HEAD').map((r) => r.url);
    expect(hidden.filter((u) => u !== '/openapi.json' && !u.startsWith('/docs'))).toEqual([]);
    expect(served).toEqual(
      expect.arrayContaining([
        'POST /cutovers',
        'GET /cutovers/{workflowId}',
        'POST /cutovers/{workflowId}/cancel',
        'POST /cutovers/{workflowId}/gates/{gate}/decision',
        'GET /cutovers/{workflowId}/reports/{name}',
        'POST /cutovers/{workflowId}/steps/{step}/action',
        ...['fallbacks', 'verifications', 'plans'].flatMap((c) => [`POST /${c}`, `GET /${c}/{workflowId}`, `POST /${c}/{workflowId}/cancel`, `GET /${c}/{workflowId}/reports/{name}`]),
        'POST /fallbacks/{workflowId}/steps/{step}/action',
        'POST /plans/{workflowId}/items/{itemId}/signoff',
        'POST /plans/{workflowId}/items/{itemId}/rebaseline',
        'GET /runs',
        'GET /runs/{workflowId}',
        'GET /approvals/pending',
        'GET /health',
        'GET /ready',
      ]),
    );
  });

  it('documents every operation: Chinese and English summary, tag, parameters, body, success and error responses', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item!) as [string, OpenAPIV3.OperationObject][]) {
        const where = `${method.toUpperCase()} ${path}`;
        expect({ where, zh: /[\u4e00-\u9fff]/.test(op.summary ?? ''), en: /[A-Za-z]{3}/.test(op.summary ?? '') }).toEqual({ where, zh: true, en: true });
        expect({ where, tags: (op.tags ?? []).length > 0 }).toEqual({ where, tags: true });
        const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        const documentedParams = ((op.parameters ?? []) as OpenAPIV3.ParameterObject[]).filter((p) => p.in === 'path').map((p) => p.name).sort();
        expect({ where, params: documentedParams }).toEqual({ where, params: pathParams });
        if (method === 'post') expect({ where, body: Boolean(op.requestBody) }).toEqual({ where, body: true });
        const codes = Object.keys(op.responses);
        expect({ where, success: codes.some((c) => /^[23]/.test(c)) }).toEqual({ where, success: true });
        const isPublic = Array.isArray(op.security) && op.security.length === 0;
        if (!isPublic) expect({ where, errors: ['400', '401', '403'].filter((c) => codes.includes(c)) }).toEqual({ where, errors: path === '/approvals/pending' ? ['401', '403'] : ['400', '401', '403'] });
      }
    }
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const decide = doc.paths['/cutovers/{workflowId}/gates/{gate}/decision']!.post!;
    expect((decide.parameters as OpenAPIV3.ParameterObject[]).map((p) => `${p.in}:${p.name}`)).toContain('header:idempotency-key');
    expect(Object.keys((decide.responses['400'] as OpenAPIV3.ResponseObject).content!)).toEqual(['application/problem+json']);
  });

  it('serves the interactive docs', async () => {
    const page = await fetch(`${stack.baseUrl}/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('swagger');
  });
});
