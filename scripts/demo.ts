import { randomBytes } from 'node:crypto';
import { loadLegacyDataset } from '../datagen/legacy-generator';
import { settingsEnv, startEntryPoint, supervised } from '../lib/child-process';
import { dropDatabase, ensureDatabase, withClient } from '../lib/db';
import { correctedCount } from '../migration/correction-ledger';
import { ensureRunbookSchema, issueToken } from '../lib/runbook-db';
import { loadSettings, redactUrl } from '../lib/settings';
import { keyColumn, loadMapping } from '../migration/mapping';
import { registerTarget } from '../lib/target-guard';
import type { CutoverState } from '../workflows/cutover-messages';
import type { RemediationState } from '../workflows/remediation-messages';
import { GoLiveEnv, startGoLiveEnv } from '../test/support/golive-env';

type RunView = CutoverState & { workflowId: string; execution: string; ui: string };

/**
 * The demo (彩排 rehearsal on bundled data): prepares the legacy, target and runbook databases, loads the
 * generated legacy registry, starts the worker and the API, runs a cutover through the API as an
 * operator, approves its gates (wipe, go/no-go, switch) as a second person, and prints what happened.
 * Flags: --entities N (default 2000, about 12 legacy rows each). Databases: jm_demo_legacy, jm_demo_target,
 * jm_demo_runbook on DEMO_PG_URL (default postgres://postgres@127.0.0.1:5432), recreated on every run.
 * Temporal keeps running afterwards so the run stays visible in the UI.
 * 切换: where nginx is installed, three connected systems really switch — two behind a real nginx (its own
 * config and port under a temporary directory) and one through its own configuration API — between a
 * legacy and a new server on loopback ports; the demo shows what the proxy answers before and after.
 * Without nginx it says so and runs with the registry's systems, none of which it can switch.
 */
const DEMO_APP_ROLE = 'jm_demo_legacy_app';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const i = process.argv.indexOf('--entities');
  const entities = i === -1 ? 2000 : Number(process.argv[i + 1]);
  if (!Number.isInteger(entities) || entities < 1) throw new Error(`--entities expects a positive whole number, got "${process.argv[i + 1]}"`);
  // The demo owns three databases of its own and starts them afresh, so it never touches a configured
  // legacy or target database and a re-run never meets an older schema.
  const server = process.env.DEMO_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
  const settings = loadSettings({
    ...process.env,
    LEGACY_DATABASE_URL: `${server}/jm_demo_legacy`,
    TARGET_DATABASE_URL: `${server}/jm_demo_target`,
    RUNBOOK_DATABASE_URL: `${server}/jm_demo_runbook`,
    // A key of the demo's own, for this run only (the API and worker it starts share it): no published key is ever used.
    APPROVAL_SIGNING_KEY: process.env.APPROVAL_SIGNING_KEY || randomBytes(36).toString('base64url'),
    ARCHIVE_DATABASE_URL: `${server}/jm_demo_archive`,
  });
  await dropDatabase(settings.ARCHIVE_DATABASE_URL);
  for (const url of [settings.LEGACY_DATABASE_URL, settings.TARGET_DATABASE_URL, settings.RUNBOOK_DATABASE_URL]) {
    await dropDatabase(url);
    await ensureDatabase(url);
    console.log(`· database ready: ${redactUrl(url)}`);
  }
  const stats = await withClient(settings.LEGACY_DATABASE_URL, (c) => loadLegacyDataset(c, { entities, anomalyRate: 0.01 }));
  // 只可查询: the legacy application's own database role, which the go-live makes read-only (and a fallback writable again).
  await withClient(settings.LEGACY_DATABASE_URL, async (c) => {
    await c.query(`DROP ROLE IF EXISTS ${DEMO_APP_ROLE}`);
    await c.query(`CREATE ROLE ${DEMO_APP_ROLE} LOGIN`);
    await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${DEMO_APP_ROLE}`);
  });
  const total = Object.values(stats).reduce((n, t) => n + t.rows, 0);
  const planted = Object.values(stats).reduce((n, t) => n + Object.values(t.expectedQuarantine).reduce((a, b) => a + b, 0), 0);
  const flagged = Object.values(stats).reduce((n, t) => n + Object.values(t.expectedFlagged).reduce((a, b) => a + b, 0), 0);
  console.log(`· 旧库 legacy registry loaded: ${entities} entities, ${total} rows in ${Object.keys(stats).length} tables; planted: ${flagged} rows with anomalies on non-key fields (loaded flagged, 问题数据), ${planted} rows that must end in quarantine (approvals naming no entity, and their children)`);
  const [operator, approver] = await withClient(settings.RUNBOOK_DATABASE_URL, async (c) => {
    await ensureRunbookSchema(c);
    return [(await issueToken(c, 'demo.operator', 'operator')).token, (await issueToken(c, 'demo.approver', 'approver')).token];
  });

  // 登记目标库: the wipe, snapshot and rollback steps touch only a database registered as the target.
  await registerTarget(settings.TARGET_DATABASE_URL, settings.LEGACY_DATABASE_URL, 'demo.dba', settings.TARGET_DIALECT);
  // 业务测试: the reference business system over the target stands in for the new system's application.
  const refPort = Number(process.env.REFERENCE_APP_PORT ?? 3100);
  // 切换 through a real nginx where it is installed (npm test's set-up installs it: scripts/test-setup.sh).
  let switchEnv: GoLiveEnv | undefined;
  try {
    switchEnv = await startGoLiveEnv({ legacyRoles: [DEMO_APP_ROLE] });
    console.log(`· 对接系统 connected systems for the switch: ${switchEnv.systems.systems.map((s) => `${s.id} (${s.switch?.driver})`).join(', ')}; nginx on 127.0.0.1:${switchEnv.nginx.port}`);
    for (const s of switchEnv.systems.systems.filter((x) => x.switch?.driver === 'nginx')) console.log(`  before: ${s.id} through nginx answers from the ${await switchEnv.throughProxy(s.id)} side`);
  } catch (err) {
    console.log(`· 切换 no real switch in this demo: ${(err as Error).message.split('\n')[0]}`);
  }
  const env = settingsEnv(settings, {
    BUSINESS_API_URL: settings.BUSINESS_API_URL || `http://${settings.API_HOST}:${refPort}`,
    REFERENCE_APP_PORT: String(refPort),
    ...(switchEnv ? { CONNECTED_SYSTEMS_FILE: switchEnv.systemsFile, SERVICES_FILE: switchEnv.servicesFile } : {}),
  });
  const referenceApp = await startEntryPoint({ entry: 'reference-app/main.ts', env, readyText: 'reference business system ready' });
  // Supervised as a deployment's restart policy would: a worker or API that dies is started again.
  const worker = await supervised({ entry: 'worker/main.ts', env, readyText: 'worker ready' }, (why) => console.log(`· 工作进程重启 the worker exited (${why}); started again`));
  const api = await supervised({ entry: 'api/main.ts', env, readyText: 'Server listening' }, (why) => console.log(`· 接口重启 the API exited (${why}); started again`));
  const base = `http://${settings.API_HOST}:${settings.API_PORT}`;
  const call = async <T>(method: string, url: string, token: string, body?: unknown): Promise<T> => {
    const res = await fetch(base + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${url} → ${res.status}: ${(json as { detail?: string }).detail ?? JSON.stringify(json)}`);
    return json as T;
  };
  try {
    const started = await call<RunView>('POST', '/cutovers', operator, { mode: 'rehearsal' });
    console.log(`· 割接 cutover started by demo.operator: ${started.workflowId}\n  watch it: ${started.ui}`);
    let state = await call<RunView>('GET', `/cutovers/${started.workflowId}`, approver);
    let lastPhase = '';
    while (state.execution === 'RUNNING') {
      if (state.phase !== lastPhase) console.log(`  … ${state.steps.find((s) => s.key === state.phase)?.title ?? state.phase}`);
      lastPhase = state.phase;
      const open = state.gates.find((g) => g.status === 'open');
      if (open) {
        console.log(`· ${open.title}: gate open; demo.approver (a second person) approves it`);
        await call('POST', `/cutovers/${started.workflowId}/gates/${open.name}/decision`, approver, { decision: 'approve', reason: '彩排 rehearsal' });
      } else if (state.status === 'waiting_operator') {
        console.log(`· step ${state.pendingFailure?.step} failed: ${state.pendingFailure?.error}\n  the demo stops here; choose with POST /cutovers/${started.workflowId}/steps/<step>/action`);
        break;
      }
      await sleep(300);
      state = await call<RunView>('GET', `/cutovers/${started.workflowId}`, approver);
    }
    console.log(`\n结果 Result: ${state.status}`);
    for (const s of state.steps) console.log(`  ${s.status.padEnd(8)} ${s.title}${s.detail ? ' — ' + s.detail : ''}`);
    for (const t of state.tables) {
      console.log(`  ${t.table.padEnd(22)} read ${String(t.rowsRead).padStart(7)}, loaded ${String(t.rowsLoaded).padStart(7)}, quarantined ${String(t.rowsQuarantined).padStart(5)} ${JSON.stringify(t.quarantinedByRule)}; loaded flagged ${JSON.stringify(t.flaggedByRule ?? {})}`);
    }
    // 主体缺失 legacy entities (the mapping's entity tables) that are not in the new system, counted key by key
    const mapping = loadMapping(settings.MAPPING_FILE);
    let missing = 0;
    for (const table of mapping.tables.filter((t) => t.category === 'entity')) {
      const legacyKeys = await withClient(settings.LEGACY_DATABASE_URL, async (c) => (await c.query<{ k: string }>(`SELECT ${table.source.key}::text AS k FROM ${table.source.table}`)).rows.map((r) => r.k));
      const targetKeys = await withClient(settings.TARGET_DATABASE_URL, async (c) => new Set((await c.query<{ k: string }>(`SELECT ${keyColumn(table).target}::text AS k FROM ${table.target.table}`)).rows.map((r) => r.k)));
      missing += legacyKeys.filter((k) => !targetKeys.has(k)).length;
    }
    // 问题数据整改 one correction of the demo's own through the loop: uploaded by the operator, approved by a second person, applied by a remediation run
    if (state.status === 'completed') await remediateOne(settings.TARGET_DATABASE_URL, call, operator, approver);
    const issues = await withClient(settings.TARGET_DATABASE_URL, async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM migration_data_quality')).rows[0].n);
    const { corrected, followed } = await withClient(settings.RUNBOOK_DATABASE_URL, correctedCount);
    console.log(`  整改 remediation: ${corrected} corrected rows loaded, ${followed} waiting children followed them in`);
    console.log(`demo: entities_missing=${missing} data_quality_issues=${issues} corrected=${corrected}`);
    console.log(`  backup: ${state.backup?.dir}`);
    if (state.verification) console.log(`  验证 verification: ${state.verification.verdict}; report ${state.verification.reportFiles.markdown}`);
    if (state.evidence) console.log(`  证据包 evidence pack: ${state.evidence.markdown}`);
    for (const s of state.switched ?? []) console.log(`  切换 ${s.id}: ${s.from} → ${s.to} (${s.driver}) — ${s.verifiedBy}`);
    if (switchEnv) {
      for (const s of switchEnv.systems.systems.filter((x) => x.switch?.driver === 'nginx')) console.log(`  after: ${s.id} through nginx answers from the ${await switchEnv.throughProxy(s.id)} side`);
      console.log(`  after: gdamr-datacenter's own configuration points at ${switchEnv.configApi.baseUrl()}`);
    }
    console.log(`\nTemporal Web UI: ${state.ui}\n(the Temporal dev server keeps running; stop it with: npm run temporal:stop)`);
    if (state.status !== 'completed') process.exitCode = 1;
  } finally {
    await api.stop();
    await worker.stop();
    await referenceApp.stop();
    await switchEnv?.stop();
  }
}

type Call = <T>(method: string, url: string, token: string, body?: unknown) => Promise<T>;

/**
 * 问题数据整改 The demo's own pass through the loop, on one approval application held as an orphan: its entity
 * link was mistyped in the legacy system (JM9… for JM0…, as the generator plants it). The operator uploads
 * the corrected link, the approver (a second person) approves it, a remediation run reloads the row and the
 * materials and process steps that waited for it.
 */
async function remediateOne(targetUrl: string, call: Call, operator: string, approver: string): Promise<void> {
  const held = await withClient(targetUrl, async (c) =>
    (await c.query<{ k: string; link: string; fixed: string | null; any: string }>(
      `SELECT q.source_key AS k, q.raw_row->>'pripid' AS link, e.pripid AS fixed, (SELECT min(pripid) FROM market_entity) AS any
         FROM migration_quarantine q LEFT JOIN market_entity e ON e.pripid = 'JM0' || substring(q.raw_row->>'pripid' from 4)
        WHERE q.table_name = 'approval_application' AND q.rule = 'orphan:market_entity' ORDER BY q.source_key LIMIT 1`,
    )).rows[0],
  );
  if (!held) return console.log('· 整改 nothing held that the demo could correct');
  const value = held.fixed ?? held.any;
  const sheet = await call<{ id: string; rows: number }>('POST', '/remediation/corrections', operator, {
    reason: `演示整改 demo: approval ${held.k} names entity ${held.link}, a typo for ${value} (checked against the paper file)`,
    corrections: [{ table: 'approval_application', key: held.k, column: 'pripid', value }],
  });
  console.log(`· 整改单 corrections sheet ${sheet.id} uploaded by demo.operator: approval_application ${held.k} pripid ${held.link} → ${value}`);
  await call('POST', `/remediation/corrections/${sheet.id}/decision`, approver, { decision: 'approve', reason: '已核实 checked' });
  console.log(`· 整改单 ${sheet.id} approved by demo.approver (四眼 four-eyes)`);
  const started = await call<{ workflowId: string }>('POST', '/remediations', operator, { correctionSet: sheet.id });
  let run = await call<RemediationState & { execution: string }>('GET', `/remediations/${started.workflowId}`, approver);
  while (run.execution === 'RUNNING') {
    await sleep(300);
    run = await call<RemediationState & { execution: string }>('GET', `/remediations/${started.workflowId}`, approver);
  }
  const o = run.outcome;
  console.log(`· 问题数据整改 remediation ${started.workflowId}: ${run.status}${o ? ` — ${o.loaded} corrected rows loaded, ${o.followed} waiting children followed, ${o.stillHeld} still held` : ''}${run.refusal ? ` — ${run.refusal}` : ''}`);
  if (run.report) console.log(`  整改报告 report: ${run.report.markdown}`);
}

main().then(
  () => process.exit(),
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
