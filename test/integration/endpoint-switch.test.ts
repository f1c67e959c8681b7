import type { ActivityDeps } from '../../activities/deps';
import { endpointActivities } from '../../activities/endpoints';
import { serviceActivities } from '../../activities/services';
import { inActivity } from '../support/activity-context';
import { ensureDatabase, dropDatabase, withClient } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { loadPlanDefinition } from '../../plan/definition';
import { loadSettings } from '../../lib/settings';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { GoLiveEnv, startGoLiveEnv } from '../support/golive-env';


/**
 * 切换 The endpoint switch against a real nginx and a real configuration API: traffic through the proxy
 * moves between the legacy and the new servers, switching twice changes nothing the second time, and
 * every switch is recorded in the runbook database.
 */
describe('endpoint switching 切换 (real nginx, real configuration API)', () => {
  let env: GoLiveEnv;
  let deps: ActivityDeps;
  const runbookDb = `postgres://postgres@127.0.0.1:5432/t${Date.now().toString(36)}_switch_runbook`;

  beforeAll(async () => {
    env = await startGoLiveEnv();
    await ensureDatabase(runbookDb);
    const settings = loadSettings({ LOG_LEVEL: 'silent', RUNBOOK_DATABASE_URL: runbookDb }, { signing: false });
    deps = {
      settings,
      mapping: loadMapping(settings.MAPPING_FILE),
      logger: createLogger('test', 'silent'),
      legacySource: new PostgresSource(settings.LEGACY_DATABASE_URL), // never opened here
      project: { plan: loadPlanDefinition(settings.PLAN_FILE), flows: { timeoutMs: 1000, flows: [] }, systems: env.systems },
      services: env.services,
    };
  });

  afterAll(async () => {
    await env?.stop();
    await dropDatabase(runbookDb);
  });

  it('moves traffic to the new side and back, idempotently, recording each switch', async () => {
    const a = inActivity(endpointActivities(deps));
    expect(await env.throughProxy('gsxt')).toBe('legacy');

    const toNew = await a.switchEndpoints({ runId: 'r1', to: 'new', actor: 'li.approver' });
    expect(toNew.switched.map((s) => [s.id, s.from, s.to, s.changed])).toEqual([
      ['gsxt', 'legacy', 'new', true],
      ['samr-report', 'legacy', 'new', true],
      ['gdamr-datacenter', 'legacy', 'new', true],
    ]);
    expect(toNew.switched[0].verifiedBy).toContain(`from upstream 127.0.0.1:${env.fresh.port} (new)`);
    expect(await env.throughProxy('gsxt')).toBe('new');
    expect(await env.throughProxy('samr-report')).toBe('new');
    expect(env.configApi.baseUrl()).toBe(`http://127.0.0.1:${env.fresh.port}/interface/gdamr-datacenter`);

    const again = await a.switchEndpoints({ runId: 'r1', to: 'new', actor: 'li.approver' });
    expect(again.switched.every((s) => !s.changed && s.from === 'new')).toBe(true);

    const back = await a.switchEndpoints({ runId: 'r1', to: 'legacy', actor: 'fallback' });
    expect(back.switched.every((s) => s.changed && s.to === 'legacy')).toBe(true);
    expect(await env.throughProxy('gsxt')).toBe('legacy');
    expect(env.configApi.baseUrl()).toBe(`http://127.0.0.1:${env.legacy.port}/interface/gdamr-datacenter`);

    const rows = await withClient(runbookDb, (c) => c.query('SELECT system_id, actor, from_side, to_side, changed FROM endpoint_switch ORDER BY id'));
    expect(rows.rows).toHaveLength(9);
    expect(rows.rows[0]).toMatchObject({ system_id: 'gsxt', actor: 'li.approver', from_side: 'legacy', to_side: 'new', changed: true });
    expect(rows.rows[8]).toMatchObject({ system_id: 'gdamr-datacenter', actor: 'fallback', from_side: 'new', to_side: 'legacy', changed: true });
  });

  it('fails, naming the system, when the side it switches to does not answer — and nginx keeps serving', async () => {
    const a = inActivity(endpointActivities(deps));
    env.fresh.setRunning(false);
    try {
      await expect(a.switchEndpoints({ runId: 'r2', to: 'new', actor: 'li.approver' })).rejects.toThrow(
        /switching to new failed for 3 system\(s\): gsxt: a request through the proxy .* was not answered by the new side/,
      );
    } finally {
      env.fresh.setRunning(true);
    }
    await env.resetToLegacy();
    expect(await env.throughProxy('gsxt')).toBe('legacy');
  });

  it('stops and starts services through their configured HTTP calls and commands', async () => {
    const s = inActivity(serviceActivities(deps));
    const stopped = await s.controlServices({ side: 'new', action: 'stop', runId: 'r3' });
    expect(stopped.map((o) => o.name)).toEqual(['new-app', 'new-db']); // applications before databases
    expect(env.fresh.running()).toBe(false);
    const started = await s.controlServices({ side: 'new', action: 'start', runId: 'r3' });
    expect(started.map((o) => o.name)).toEqual(['new-db', 'new-app']);
    expect(env.fresh.running()).toBe(true);
    expect((await s.legacySmokeTests()).map((r) => [r.name, r.ok, r.error])).toEqual([
      ['公示接口 publicity interface (direct)', true, undefined],
      ['公示接口 publicity interface (through the proxy)', true, undefined],
    ]);
    env.legacy.setRunning(false);
    const smoke = await s.legacySmokeTests();
    env.legacy.setRunning(true);
    expect(smoke.map((r) => [r.ok, r.status])).toEqual([[false, 503], [false, 503]]);
  });
});
