import net from 'node:net';
import path from 'node:path';
import { networkCheckActivities } from '../../activities/network-check';
import { jointTestActivities } from '../../activities/joint-test';
import { notifyActivities } from '../../activities/notify';
import type { ActivityDeps } from '../../activities/deps';
import { createLogger } from '../../lib/logger';
import { loadPlanDefinition } from '../../plan/definition';
import { loadSettings } from '../../lib/settings';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { close, closedPort, listen, recordingServer } from '../support/loopback';

/**
 * The plan's automated checks and its notification channel against real sockets on 127.0.0.1:
 * a listening port must be reported open, a port just released closed; HTTP health answers and
 * webhook deliveries are what a real server received.
 */
function deps(overrides: Partial<ActivityDeps['project']> & { env?: Record<string, string> } = {}): ActivityDeps {
  const settings = loadSettings({ LOG_LEVEL: 'silent', ...overrides.env }, { signing: false });
  return {
    settings,
    mapping: loadMapping(settings.MAPPING_FILE),
    logger: createLogger('test', 'silent'),
    legacySource: new PostgresSource(settings.LEGACY_DATABASE_URL), // never opened by these activities
    project: {
      plan: loadPlanDefinition(path.resolve(__dirname, '..', '..', 'config', 'plan.json')),
      flows: overrides.flows ?? { timeoutMs: 1000, flows: [] },
      systems: overrides.systems ?? { timeoutMs: 1000, systems: [] },
    },
    services: { services: [], legacySmokeTests: [] },
  };
}

describe('network-policy check 网络策略检查 on loopback', () => {
  it('reports a listening port open and a released port closed, with latencies', async () => {
    const server = net.createServer((s) => s.end());
    const open = await listen(server);
    const closed = await closedPort();
    try {
      const report = await networkCheckActivities(
        deps({
          flows: {
            timeoutMs: 2000,
            flows: [
              { name: 'city-app-to-db', description: '应用至数据库 App to DB', host: '127.0.0.1', port: open, side: 'city' },
              { name: 'province-datacenter', description: '省局数据中心 Provincial data center', host: '127.0.0.1', port: closed, side: 'province' },
            ],
          },
        }),
      ).networkPolicyCheck();
      expect(report.open).toBe(1);
      expect(report.closed).toBe(1);
      expect(report.flows[0]).toMatchObject({ name: 'city-app-to-db', port: open, side: 'city', state: 'open' });
      expect(report.flows[1]).toMatchObject({ name: 'province-datacenter', port: closed, side: 'province', state: 'closed', reason: 'connection refused' });
      for (const f of report.flows) expect(f.latencyMs).toBeGreaterThanOrEqual(0);
    } finally {
      await close(server);
    }
  });
});

describe('joint test 对接联调 on loopback', () => {
  it('checks legacy and new addresses and fails a system when either side does not answer 2xx', async () => {
    const up = await recordingServer((url) => (url.startsWith('/new/billing') ? 503 : 200));
    const gone = await closedPort();
    try {
      const base = `http://127.0.0.1:${up.port}`;
      const report = await jointTestActivities(
        deps({
          systems: {
            timeoutMs: 2000,
            systems: [
              { id: 'gsxt', name: { zh: '公示系统', en: 'Publicity' }, direction: 'outbound', legacyBaseUrl: `${base}/old/gsxt`, newBaseUrl: `${base}/new/gsxt/`, healthPath: '/health' },
              { id: 'billing', name: { zh: '收费', en: 'Billing' }, direction: 'inbound', legacyBaseUrl: `${base}/old/billing`, newBaseUrl: `${base}/new/billing`, healthPath: '/health' },
              { id: 'archive', name: { zh: '档案', en: 'Archive' }, direction: 'both', legacyBaseUrl: `${base}/old/archive`, newBaseUrl: `http://127.0.0.1:${gone}`, healthPath: '/ping' },
            ],
          },
        }),
      ).jointTestCheck();
      expect(report).toMatchObject({ passed: 1, failed: 2 });
      expect(report.systems[0]).toMatchObject({ id: 'gsxt', ok: true, legacy: { status: 200, ok: true }, new: { status: 200, ok: true, url: `${base}/new/gsxt/health` } });
      expect(report.systems[1]).toMatchObject({ id: 'billing', ok: false, legacy: { ok: true }, new: { ok: false, status: 503 } });
      expect(report.systems[2]).toMatchObject({ id: 'archive', ok: false, legacy: { ok: true }, new: { ok: false, error: 'ECONNREFUSED' } });
      expect(up.received.map((r) => `${r.method} ${r.url}`).sort()).toEqual(
        ['GET /new/billing/health', 'GET /new/gsxt/health', 'GET /old/archive/ping', 'GET /old/billing/health', 'GET /old/gsxt/health'].sort(),
      );
    } finally {
      await close(up.server);
    }
  });
});

describe('notification channel 通知', () => {
  const n = { key: 'plan-x:escalation:app-deploy:2025-01-01', kind: 'escalation' as const, workflowId: 'plan-x', planId: 'x', subject: '逾期督办 Overdue: app-deploy', ownerRole: 'operator' };

  it('POSTs the notification to the webhook with its idempotency key', async () => {
    const hook = await recordingServer();
    try {
      const result = await notifyActivities(deps({ env: { NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${hook.port}/hook?token=s3cret` } })).notifyPlan(n);
      expect(result).toEqual({ channel: 'webhook' });
      expect(hook.received).toHaveLength(1);
      expect(hook.received[0]).toMatchObject({ method: 'POST', url: '/hook?token=s3cret' });
      expect(hook.received[0].headers['idempotency-key']).toBe(n.key);
      expect(JSON.parse(hook.received[0].body)).toEqual(n);
    } finally {
      await close(hook.server);
    }
  });

  it('refuses to retry a 4xx answer, and names the status but not the URL', async () => {
    const hook = await recordingServer(() => 404);
    try {
      await expect(notifyActivities(deps({ env: { NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${hook.port}/hook?token=s3cret` } })).notifyPlan(n)).rejects.toMatchObject({
        message: 'the notification webhook answered 404',
        nonRetryable: true,
      });
    } finally {
      await close(hook.server);
    }
  });

  it('falls back to the log when no webhook is configured', async () => {
    expect(await notifyActivities(deps()).notifyPlan(n)).toEqual({ channel: 'log' });
  });
});
