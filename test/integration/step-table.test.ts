import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * 步骤表 A step is one row of data (workflows/cutover-steps.ts). This test builds the runbook with one row
 * added to that table and nothing else changed — the workflow bundle (webpack, the table module replaced),
 * the API in this process (the module mocked before it loads) — and shows the new step numbered and titled by
 * the workflow (its state's list and every later step's "Step n/N" summary in the Temporal history), listed by
 * the API (state, OpenAPI enums), shown by the CLI (a real process against that API) and in the evidence report.
 * The run is started around the API on purpose: it refuses its unsigned start as its first act and ends with
 * its evidence pack, so no database work is needed; the activities are fakes in this process.
 */
const root = path.join(__dirname, '..', '..');
const realTable = path.join(root, 'workflows', 'cutover-steps.ts');
const build = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-step-table-'));
const testTable = path.join(build, 'cutover-steps.ts');
const NEW_ROW = "  { key: 'test-only-check', zh: '测试新步骤', en: 'Test-only check added to the step table', kind: 'check' },\n";
{
  const text = fs.readFileSync(realTable, 'utf8');
  const after = "  { key: 'plan', zh: '迁移计划', en: 'Plan tables', kind: 'check' },\n";
  if (!text.includes(after)) throw new Error('the step table no longer has the plan row this test inserts after');
  fs.writeFileSync(testTable, text.replace(after, after + NEW_ROW));
}
jest.doMock('../../workflows/cutover-steps', () => jest.requireActual(testTable));

/* eslint-disable @typescript-eslint/no-require-imports -- loaded after the mock, on purpose */
const { bundleWorkflowCode, Worker } = require('@temporalio/worker') as typeof import('@temporalio/worker');
const webpack = require('webpack') as typeof import('webpack');
const { TestStack } = require('../support/stack') as typeof import('../support/stack');
const { renderEvidence } = require('../../reports/run-report') as typeof import('../../reports/run-report');
const steps = require('../../workflows/cutover-steps') as typeof import('../../workflows/cutover-steps');
type CutoverState = import('../../workflows/cutover-messages').CutoverState;

const TITLE = '测试新步骤 Test-only check added to the step table';

describe('a row added to the step table, and no other edit', () => {
  const stack = new TestStack();
  let worker: import('@temporalio/worker').Worker;
  let running: Promise<void>;
  let evidenceState: CutoverState | undefined;
  let operator: string;
  const workflowId = () => `cutover-${stack.id}-step-table`;

  beforeAll(async () => {
    expect(steps.STEP_KEYS).toHaveLength(21); // the mock is in place: the table this process reads has the row
    await stack.start();
    operator = await stack.token('olivia.ops', 'operator');
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      webpackConfigHook: (config) => ({ ...config, plugins: [...(config.plugins ?? []), new webpack.NormalModuleReplacementPlugin(/[\\/]cutover-steps$/, testTable)] }),
      logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error } as never,
    });
    worker = await Worker.create({
      connection: await (await import('@temporalio/worker')).NativeConnection.connect({ address: stack.settings.TEMPORAL_ADDRESS }),
      namespace: stack.settings.TEMPORAL_NAMESPACE,
      taskQueue: stack.settings.TASK_QUEUE,
      workflowBundle: bundle,
      activities: {
        verifyDecision: async () => 'test: the start is refused',
        auditRefusedStart: async () => undefined,
        writeEvidencePack: async ({ state }: { state: CutoverState }) => {
          evidenceState = state;
          return { markdown: 'evidence.md', json: 'evidence.json' };
        },
      },
    });
    running = worker.run();
  }, 180_000);

  afterAll(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await stack.stop();
    fs.rmSync(build, { recursive: true, force: true });
  });

  it('is numbered and titled by the workflow, listed by the API, shown by the CLI and in the report', async () => {
    // Started straight on Temporal (unsigned): the run refuses itself, cancels its steps, writes its evidence pack.
    const handle = await stack.temporal.workflow.start('cutover', {
      taskQueue: stack.settings.TASK_QUEUE,
      workflowId: workflowId(),
      args: [{ runId: `${stack.id}-step-table`, mode: 'rehearsal', requestedBy: 'olivia.ops' }],
    });
    const final = (await handle.result()) as CutoverState;

    // The workflow: the row in its place, titled, and every step after it numbered out of 21.
    expect(final.steps.map((s) => s.key).slice(2, 5)).toEqual(['plan', 'test-only-check', 'backup']);
    expect(final.steps[3]).toMatchObject({ key: 'test-only-check', title: TITLE, status: 'cancelled' });
    const history = await handle.fetchHistory();
    const summaries = history
      .events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'writeEvidencePack')
      .map((e) => JSON.parse(Buffer.from(e.userMetadata!.summary!.data!).toString('utf8')));
    expect(summaries).toEqual(['Step 21/21 · 证据包 Evidence pack']);

    // The API: the run's state lists it; the OpenAPI document lists its key for the phase, the steps and the step actions.
    const served = await stack.http('GET', `/cutovers/${workflowId()}`, operator);
    expect(served.status).toBe(200);
    expect(served.body.steps[3]).toMatchObject({ key: 'test-only-check', title: TITLE });
    const doc = (await stack.http('GET', '/openapi.json')).body;
    const text = JSON.stringify(doc);
    const actionPath = Object.keys(doc.paths).find((p) => p.startsWith('/cutovers/') && p.endsWith('/action'))!;
    const stepParam = doc.paths[actionPath].post.parameters.find((p: { name: string }) => p.name === 'step');
    expect(stepParam.schema.enum).toContain('test-only-check');
    expect(text).toContain('"plannedMinutes"');
    expect(JSON.stringify(doc.paths['/cutovers'].post)).toContain('"test-only-check"');

    // The CLI, a real process against that API.
    const token = path.join(build, 'token');
    fs.writeFileSync(token, operator, { mode: 0o600 });
    const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(root, 'cli', 'main.ts'), 'status', workflowId()],
        { env: { PATH: process.env.PATH, HOME: build, JMRB_API_URL: stack.baseUrl, JMRB_TOKEN_FILE: token }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain(` 4/21 ⊘ ${TITLE}`);
    expect(cli.stdout).toContain(' 5/21 ⊘ 备份旧库 Back up legacy data');

    // The evidence report, from the state the run handed its evidence-pack activity.
    expect(evidenceState).toBeDefined();
    expect(renderEvidence(evidenceState!).markdown).toMatch(new RegExp(`\\| 4/21 \\| ${TITLE} \\| cancelled \\|`));
  }, 180_000);
});
