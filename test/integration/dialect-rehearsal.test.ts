import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { withClient } from '../../lib/db';
import type { StatementAudit } from '../../lib/statement-audit';
import { loadLegacyDataset } from '../../datagen/legacy-generator';
import { buildReferenceApp } from '../../reference-app/app';
import type { BusinessTestResult } from '../../verification/business-tests';
import type { CutoverState } from '../../workflows/cutover-messages';
import { GoLiveEnv, startGoLiveEnv } from '../support/golive-env';
import { closedPort } from '../support/loopback';
import { TestStack } from '../support/stack';

/**
 * 国产化彩排 A full rehearsal on PostgreSQL with TARGET_DIALECT=opengauss, on the real stack (Temporal, the
 * worker process, PostgreSQL, nginx, the reference business system): every step through to the evidence
 * pack, the rollback by the undo log (openGauss has no CREATE DATABASE … TEMPLATE <database>), the chunk
 * ledger written without ON CONFLICT, the guard's identity without pg_control_system() — and the
 * statements recorded at the driver are clean for openGauss. The same audit run on the default dialect's
 * statements lists what openGauss would refuse.
 */
describe('rehearsal with TARGET_DIALECT=opengauss on PostgreSQL', () => {
  let env: GoLiveEnv;
  let stack: TestStack;
  let refApp: FastifyInstance;
  let operator: string;

  beforeAll(async () => {
    env = await startGoLiveEnv();
    const refPort = await closedPort();
    stack = new TestStack({
      CONNECTED_SYSTEMS_FILE: env.systemsFile,
      SERVICES_FILE: env.servicesFile,
      BUSINESS_API_URL: `http://127.0.0.1:${refPort}`,
      TARGET_DIALECT: 'opengauss',
    });
    await stack.start();
    refApp = await buildReferenceApp({ targetUrl: stack.settings.TARGET_DATABASE_URL });
    await refApp.listen({ host: '127.0.0.1', port: refPort });
    await withClient(stack.settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities: 300, seed: 17, anomalyRate: 0.02 }));
    operator = await stack.token('olivia.ops', 'operator');
    await stack.startWorker();
    env.fresh.setRunning(true);
  });

  afterAll(async () => {
    await refApp?.close();
    await stack?.stop();
    await env?.stop();
  });

  it('completes: undo-log rollback proven, portable upsert, guard identity without pg_control_system, audit clean for openGauss', async () => {
    const id = await stack.startCutoverAtGate(operator, `${stack.id}-og`);
    await stack.approveGate(id, 'go-no-go', operator);
    await stack.approveGate(id, 'switch', operator);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;

    expect(result.status).toBe('completed');
    expect(result.steps.map((s) => `${s.key}:${s.status}`)).toEqual(result.steps.map((s) => `${s.key}:done`));
    expect(result.steps.find((s) => s.key === 'snapshot')!.detail).toMatch(/^undo log in t\w+_target: market_entity \d+/);
    expect(result.steps.find((s) => s.key === 'rollback')!.detail).toMatch(/undo log in t\w+_target \((\d+) row changes undone\)/);
    const undone = Number(/\((\d+) row changes undone\)/.exec(result.steps.find((s) => s.key === 'rollback')!.detail!)![1]);
    // 业务测试 changed rows on the snapshot; the undo log put every one back, as the checksums prove.
    const business = result.businessTests as BusinessTestResult;
    expect(business.cases.filter((c) => c.ok)).toHaveLength(4);
    expect(undone).toBeGreaterThanOrEqual(4);
    expect(result.rollbackProof).toMatchObject({ equal: true });
    expect(result.rollbackProof!.after).toEqual(result.rollbackProof!.before);

    await withClient(stack.settings.TARGET_DATABASE_URL, async (c) => {
      // No copy of the database was made, the triggers are gone, the guard registered an oid identity.
      const snaps = (await c.query(`SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE $1`, [`${stack.id}_target_snap_%`])).rows[0].n;
      expect(snaps).toBe(0);
      expect((await c.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'runbook_undo'`)).rows[0].n).toBe(0);
      const reg = (await c.query(`SELECT system_identifier FROM runbook_target_registration`)).rows.map((r) => r.system_identifier);
      expect(reg).toEqual([expect.stringMatching(/^oid \d+ port \d+$/)]);
      expect((await c.query(`SELECT count(*)::int AS n FROM runbook_undo_log`)).rows[0].n).toBe(0);
    });

    const json = JSON.parse(fs.readFileSync(result.evidence!.json, 'utf8')) as { statementAudit: StatementAudit };
    const audit = json.statementAudit;
    expect(audit.configured).toBe('opengauss');
    expect(audit.workflowId).toBe(id);
    expect(audit.statements).toBeGreaterThan(20);
    expect(audit.verdict).toMatchObject({ dialect: 'opengauss', clean: true, lacking: [], unverified: [] });
    const evidence = fs.readFileSync(result.evidence!.markdown, 'utf8');
    expect(evidence).toContain('## 语句审计 Statements sent to the target, audited per dialect');
    expect(evidence).toContain('configured dialect **opengauss**: **clean 通过**');
    // What the run sent, by kind: the portable forms, and none of what openGauss lacks.
    const sent = await withClient(stack.settings.RUNBOOK_DATABASE_URL, async (c) =>
      (await c.query<{ statement: string }>(`SELECT statement FROM target_statement_audit WHERE workflow_id = $1`, [id])).rows.map((r) => r.statement),
    );
    expect(sent.some((s) => s.startsWith('DELETE FROM "migration_chunk" WHERE'))).toBe(true);
    expect(sent.some((s) => /CREATE TRIGGER runbook_undo AFTER INSERT OR UPDATE OR DELETE ON "market_entity"/.test(s))).toBe(true);
    expect(sent.some((s) => s.includes("SELECT 'oid ' || d.oid::text"))).toBe(true);
    expect(sent.filter((s) => /ON CONFLICT|pg_control_system|TEMPLATE|to_regclass|IF NOT EXISTS \w+ ON/i.test(s))).toEqual([]);
  });
});
