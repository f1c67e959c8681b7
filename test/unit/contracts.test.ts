import Fastify from 'fastify';
import { z } from 'zod';
import { jsonSchemaOf } from '../../api/contracts';
import { RUN_KINDS } from '../../api/kinds';
import { cutoverKind } from '../../api/kinds/cutover';
import { CutoverState, cutoverState, STEP_KEYS } from '../../workflows/cutover-messages';
import { stepTitle } from '../../workflows/cutover-steps';

/**
 * 接口契约 Contracts defined once: a run's input, state and start body are zod shapes (workflows/*-messages.ts, the
 * kinds' start bodies); the TypeScript types are inferred from them and the API's JSON schemas generated from them.
 * These tests hold the generation to what fastify needs: a state goes through the API's serializer whole, a body
 * is refused for what its shape refuses, in the words ajv uses elsewhere.
 */
describe('JSON schemas generated from zod shapes', () => {
  test('a record over known keys is one property per key and nothing else; an integer carries no implied ±2^53 bounds; a literal is a one-value enum; a carried type is any value', () => {
    const shape = z.object({ minutes: z.partialRecord(z.enum(['a', 'b']), z.number().min(0)), n: z.number().int(), kind: z.literal('warning'), owned: z.custom<{ x: 1 }>() });
    expect(jsonSchemaOf(shape, 'input')).toEqual({
      type: 'object',
      properties: {
        minutes: { type: 'object', properties: { a: { type: 'number', minimum: 0 }, b: { type: 'number', minimum: 0 } }, additionalProperties: false },
        n: { type: 'integer' },
        kind: { type: 'string', enum: ['warning'] },
        owned: {},
      },
      required: ['minutes', 'n', 'kind', 'owned'],
    });
  });

  test('every kind: its start body refuses unknown properties, its state passes through what a newer worker adds, and every state property of its shape is documented', () => {
    for (const kind of RUN_KINDS) {
      expect({ kind: kind.kind, strict: (kind.start.bodySchema as { additionalProperties?: boolean }).additionalProperties }).toEqual({ kind: kind.kind, strict: false });
      expect({ kind: kind.kind, open: kind.stateSchema.additionalProperties }).toEqual({ kind: kind.kind, open: true });
      expect(Object.keys(kind.stateSchema.properties).length).toBeGreaterThan(3);
    }
    expect(Object.keys(cutoverKind.stateSchema.properties).sort()).toEqual(Object.keys(cutoverState.shape).sort());
  });
});

describe("the cutover's contract through fastify", () => {
  let base = '';
  const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const r = await fetch(base + url, { method, ...(payload ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) } : {}) });
    return { statusCode: r.status, json: (await r.json()) as Record<string, unknown> & { message?: string } };
  };
  const app = Fastify({ ajv: { customOptions: { allErrors: false, removeAdditional: false, coerceTypes: false } } });
  // A full state, checked against its own shape first: the sample is a state a run can publish.
  const state: CutoverState = cutoverState.parse({
    runId: 'r1',
    mode: 'rehearsal',
    requestedBy: 'olivia.ops',
    status: 'waiting_operator',
    phase: 'migrate',
    steps: STEP_KEYS.map((key, i) => ({ key, title: stepTitle(key), status: i < 7 ? 'done' : i === 7 ? 'failed' : 'pending', ...(i === 7 ? { error: '迁移对账失败 …', plannedMinutes: 90, actualMs: 1234 } : {}) })),
    gates: [{ name: 'wipe', title: 'wipe', roles: ['approver'], approvals: 1, escalateAfterMinutes: 30, status: 'approved', approvedBy: [{ actor: 'li.approver', at: '2026-12-01T00:00:00Z' }], escalations: 0, decidedBy: 'li.approver' }],
    decisions: [{ gate: 'wipe', decision: 'approve', actor: 'li.approver', role: 'approver', at: '2026-12-01T00:00:00Z', accepted: true }],
    tables: [{ table: 'market_entity', chunks: 2, carefulChunks: 0, rowsRead: 10, rowsLoaded: 9, rowsQuarantined: 1, quarantinedByRule: { 'required:entname': 1 }, flaggedByRule: { 'invalid_capital:regcap': 2 }, durationMs: 40 }],
    preflight: { at: '2026-12-01T00:00:00Z', errors: [], warnings: [{ where: 'mapping.tables[0]', problem: 'p', severity: 'warning' }], checked: { tables: 1, columns: 2, codeColumns: 0 } },
    memoryDb: { flushes: [{ after: 'migration', result: { skipped: 'no in-memory database configured', deep: { kept: [1, 2] } } }] },
    legacyShutdown: { services: [{ id: 'app', stopped: true }], anything: { nested: true } },
    pendingFailure: { step: 'migrate', error: '迁移对账失败 …', at: '2026-12-01T00:00:00Z', choices: ['retry', 'continue', 'fallback'] },
    operatorActions: [],
    projection: { at: '2026-12-01T00:00:00Z', projectedFinish: '2026-12-01T08:00:00Z', plannedRemainingMinutes: 12.5 },
  });

  beforeAll(async () => {
    app.get('/state', { schema: { response: { 200: cutoverKind.stateSchema } } }, async () => ({ ...state, steps: state.steps.map((s, i) => (i === 0 ? { ...s, newerWorkerField: 'kept' } : s)) }));
    app.post('/start', { schema: { body: cutoverKind.start.bodySchema } }, async (request) => request.body as object);
    // over HTTP, as clients meet it (fastify's inject needs an ESM module jest does not load)
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => app.close());

  test('a state goes through the serializer whole: nested parts, carried types, fractions, and a field a newer worker adds', async () => {
    const r = await call('GET', '/state');
    expect(r.statusCode).toBe(200);
    const body = r.json as unknown as CutoverState & { steps: (CutoverState['steps'][number] & { newerWorkerField?: string })[] };
    expect(body.steps[0].newerWorkerField).toBe('kept');
    delete body.steps[0].newerWorkerField;
    expect(body).toEqual(JSON.parse(JSON.stringify(state)));
    // a fraction stays one (the serializer rounds what a schema calls an integer)
    expect(body.projection?.plannedRemainingMinutes).toBe(12.5);
  });

  test('a start body is refused for what its shape refuses, naming the field; a valid one passes as sent', async () => {
    const ok = { mode: 'live', runId: 'r-2', migration: { rowsPerChunk: 50_000 }, plannedMinutes: { migrate: 120 }, gates: { 'go-no-go': { approvals: 2, roles: ['approver'] } }, maintenanceWindow: { start: '2026-12-05T20:00:00+08:00', end: '2026-12-07T06:00:00+08:00' } };
    const passed = await call('POST', '/start', ok);
    expect(passed.statusCode).toBe(200);
    expect(passed.json).toEqual(ok);
    const refused = async (payload: object) => {
      const r = await call('POST', '/start', payload);
      expect(r.statusCode).toBe(400);
      return r.json.message;
    };
    expect(await refused({ mode: 'yolo' })).toBe('body/mode must be equal to one of the allowed values');
    expect(await refused({ mode: 'live', plannedMinutes: { 'no-such-step': 5 } })).toBe('body/plannedMinutes must NOT have additional properties');
    expect(await refused({ mode: 'live', gates: { wipe: { approvals: 9 } } })).toBe('body/gates/wipe/approvals must be <= 5');
    expect(await refused({ mode: 'live', gates: { wipe: { roles: ['operator'] } } })).toBe('body/gates/wipe/roles/0 must be equal to one of the allowed values');
    expect(await refused({ mode: 'live', migration: { rowsPerChunk: 10 } })).toBe('body/migration/rowsPerChunk must be >= 1000');
    expect(await refused({ mode: 'live', runId: '../etc' })).toMatch(/^body\/runId must match pattern/);
    expect(await refused({ mode: 'live', surprise: 1 })).toBe('body must NOT have additional properties');
    expect(await refused({ mode: 'live', maintenanceWindow: { start: 'tomorrow', end: '2026-12-07T06:00:00+08:00' } })).toBe('body/maintenanceWindow/start must match format "date-time"');
  });
});
