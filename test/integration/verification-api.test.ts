import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { withClient } from '../../lib/db';
import { registerTarget } from '../../lib/target-guard';
import { copyChunk } from '../../migration/chunk-copy';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { buildReferenceApp } from '../../reference-app/app';
import type { CutoverState } from '../../workflows/cutover-messages';
import type { VerificationOutcome } from '../../workflows/verification-messages';
import { closedPort } from '../support/loopback';
import { eventually, TestStack } from '../support/stack';

/**
 * A verification run on its own through the real API, Temporal and worker process: an operator starts
 * it, a viewer reads the verdict and the report; business tests go to the reference business system
 * over the target. Then a field changed in the target makes the next run fail, naming table and key.
 */
describe('verification run through the API (验证)', () => {
  let refPort: number;
  let stack: TestStack;
  let refApp: FastifyInstance;
  let operator: string;
  let viewer: string;

  beforeAll(async () => {
    refPort = await closedPort();
    stack = new TestStack({ BUSINESS_API_URL: `http://127.0.0.1:${refPort}` });
    await stack.start();
    const mapping = loadMapping(stack.settings.MAPPING_FILE);
    await withClient(stack.settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities: 800, seed: 5, anomalyRate: 0.03 }));
    const source = new PostgresSource(stack.settings.LEGACY_DATABASE_URL);
    await withClient(stack.settings.TARGET_DATABASE_URL, async (target) => {
      await ensureTargetSchema(target, mapping);
      for (const table of mapping.tables) for (const chunk of await source.planChunks(table, 5000)) await copyChunk({ source, target, mapping, table, chunk, runId: 'r1', readPoint: null, attempt: 1 });
    });
    await source.close();
    refApp = await buildReferenceApp({ targetUrl: stack.settings.TARGET_DATABASE_URL });
    await refApp.listen({ host: '127.0.0.1', port: refPort });
    operator = await stack.token('olivia.ops', 'operator');
    viewer = await stack.token('wang.viewer', 'viewer');
    await stack.startWorker();
  });
  afterAll(async () => {
    await refApp?.close();
    await stack.stop();
  });

  const run = async (runId: string, body: Record<string, unknown> = {}) => {
    const started = await stack.http('POST', '/verifications', operator, { runId, segmentRows: 400, sample: { perType: 2, seed: 'api' }, ...body });
    expect(started.status).toBe(201);
    return eventually(async () => {
      const r = await stack.http('GET', `/verifications/${started.body.workflowId}`, viewer);
      return r.body.execution === 'COMPLETED' ? { workflowId: started.body.workflowId as string, result: r.body.result as Omit<VerificationOutcome, 'markdown'> } : undefined;
    }, `verification ${runId} to complete`, 90_000);
  };

  it('verifies a correct migration: passed, with sample and business tests, report readable by a viewer', async () => {
    expect((await stack.http('POST', '/verifications', viewer, {})).status).toBe(403);
    const bad = await stack.http('POST', '/verifications', operator, { sample: { perType: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('body.sample.perType');

    const { workflowId, result } = await run(`${stack.id}-clean`);
    expect(result.reasons).toEqual([]);
    expect(result.verdict).toBe('passed');
    expect(result.failedSegments).toBe(0);
    expect(result.segments).toBeGreaterThan(8);
    expect(result.sampled).toBeGreaterThanOrEqual(18);
    expect(result).toMatchObject({ businessCases: 4, businessFailures: 0, sampleFailures: 0 });
    expect(result.counts.every((c) => c.ok)).toBe(true);

    const report = await stack.http('GET', `/verifications/${workflowId}/reports/verification-report.md`, viewer);
    expect(report.status).toBe(200);
    expect(report.contentType).toContain('text/markdown');
    expect(report.body.split('\n')[2]).toBe('## 结论 Verdict: ✅ 通过 PASSED');
    expect(report.body).toContain('注销 cancellation');
    expect(report.body).toBe(fs.readFileSync(path.join(stack.settings.REPORTS_DIR, 'verification', `${stack.id}-clean`, 'verification-report.md'), 'utf8'));
    const json = await stack.http('GET', `/verifications/${workflowId}/reports/verification-report.json`, viewer);
    expect({ type: json.contentType, verdict: json.body.verdict }).toEqual({ type: 'application/json; charset=utf-8', verdict: 'passed' });
    const html = await stack.http('GET', `/verifications/${workflowId}/reports/verification-report.html`, viewer);
    expect(html.contentType).toBe('text/html; charset=utf-8');
    expect(html.body).toContain('<h2>结论 Verdict: ✅ 通过 PASSED</h2>');
    // Listed as a run of its own kind, with its verdict; the cutovers' verify steps are not.
    const listed = await eventually(async () => {
      const runs = (await stack.http('GET', '/runs?kind=verification', viewer)).body.runs;
      return runs.length ? runs : undefined;
    }, 'the verification in the run list');
    expect(listed.map((r: { workflowId: string; status: string }) => [r.workflowId, r.status])).toEqual([[workflowId, 'passed']]);
    // The business tests rolled their writes back: the target holds the migration only.
    await withClient(stack.settings.TARGET_DATABASE_URL, async (c) => {
      expect((await c.query(`SELECT count(*)::int AS n FROM entity_change WHERE altid LIKE 'VT-%'`)).rows[0].n).toBe(0);
    });
  });

  it('fails a run when the target holds a changed field, naming table, key and field', async () => {
    const key = await withClient(stack.settings.TARGET_DATABASE_URL, async (c) =>
      (await c.query(`UPDATE entity_person SET name = name || ' ' WHERE personid = (SELECT min(personid) FROM entity_person) RETURNING personid`)).rows[0].personid as string,
    );
    const { workflowId, result } = await run(`${stack.id}-fault`, { businessTests: { entities: 0 } });
    expect(result.verdict).toBe('failed');
    expect(result.failedSegments).toBe(1);
    expect(result.reasons[0]).toMatch(/^全量校验 checksums: entity_person: 1 of \d+ segments differ \(1 changed\)$/);
    const report = (await stack.http('GET', `/verifications/${workflowId}/reports/verification-report.md`, viewer)).body as string;
    expect(report).toContain('❌ 不通过 FAILED');
    expect(report).toMatch(new RegExp(`\\| entity_person \\| \`${key}\` \\| changed \\| \`name\`: "[^"]+" → "[^"]+ "`));
  });

  it('ends a cutover as failed when its verify step finds the target altering a row on load', async () => {
    // A target that silently rewrites one value as it stores it (a charset conversion, a trigger of the new system …).
    await withClient(stack.settings.TARGET_DATABASE_URL, (c) =>
      c.query(`CREATE FUNCTION corrupt() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.pripid = 'JM0000000007' THEN NEW.dom := NEW.dom || '室'; END IF; RETURN NEW; END $$;
               CREATE TRIGGER corrupt BEFORE INSERT ON market_entity FOR EACH ROW EXECUTE FUNCTION corrupt()`),
    );
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    const approver = await stack.token('li.approver', 'approver');
    const started = await stack.http('POST', '/cutovers', operator, { mode: 'rehearsal', runId: `${stack.id}-cut`, verification: { segmentRows: 400, sample: { perType: 1 } } });
    expect(started.status).toBe(201);
    const id = started.body.workflowId as string;
    await eventually(async () => ((await stack.http('GET', `/cutovers/${id}`, operator)).body as CutoverState).gates.find((g) => g.name === 'wipe')?.status === 'open', 'the wipe gate');
    expect((await stack.http('POST', `/cutovers/${id}/gates/wipe/decision`, approver, { decision: 'approve' })).status).toBe(202);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('failed');
    const status = Object.fromEntries(result.steps.map((s) => [s.key, s.status]));
    expect(status).toMatchObject({ migrate: 'done', verify: 'failed', 'go-no-go': 'pending', switch: 'pending', evidence: 'done' });
    expect(result.fallback).toMatchObject({ workflowId: `fallback-${stack.id}-cut`, status: 'completed' });
    expect(result.failure).toMatch(/^verification failed 验证不通过 — 全量校验 checksums: market_entity: 1 of \d+ segments differ \(1 changed\)/);
    expect(result.verification).toMatchObject({ verdict: 'failed', failedSegments: 1, workflowId: `${started.body.workflowId}/verify` });
    const report = (await stack.http('GET', `/verifications/${encodeURIComponent('x')}`, viewer)).status;
    expect(report).toBe(400); // only verification-… ids are verification runs
  });
});
