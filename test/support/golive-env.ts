import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { httpConfigSwitch, nginxSwitch } from '../../environment/endpoint-drivers';
import { ConnectedSystems, loadConnectedSystems } from '../../environment/probe-targets';
import { loadServices, ServicesConfig } from '../../environment/services';
import { startNginx, TestNginx } from './nginx';
import { configApiServer, sideServer, SideServer } from './side-systems';

/**
 * The go-live tests' surroundings, all real and on 127.0.0.1: a legacy and a new application server,
 * an nginx in front of two connected interfaces, and one connected system with its own configuration
 * API. Three of the registry's 28 systems are enough to exercise both drivers; the files written here
 * are the registry and service-control configs the worker loads (CONNECTED_SYSTEMS_FILE, SERVICES_FILE).
 */
export interface GoLiveEnv {
  legacy: SideServer;
  fresh: SideServer;
  nginx: TestNginx;
  configApi: { port: number; baseUrl: () => string };
  systems: ConnectedSystems;
  services: ServicesConfig;
  systemsFile: string;
  servicesFile: string;
  /** what the proxy answers for an interface's health path: the side's JSON, or the HTTP status */
  throughProxy: (id: string) => Promise<string>;
  /** puts every system back on its legacy address, as before a cutover weekend */
  resetToLegacy: () => Promise<void>;
  stop: () => Promise<void>;
}

/** opts.ports collects every port the environment listened on (tests of the clean-up read it). */
export async function startGoLiveEnv(opts: { nginxBinary?: string; ports?: number[]; legacyRoles?: string[] } = {}): Promise<GoLiveEnv> {
  // What is started is stopped again when a later part fails, so a failed beforeAll leaves no open
  // server behind (jest would wait on it for ever: the test file's afterAll has no env to stop).
  const started: (() => Promise<void>)[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-golive-'));
  started.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    return await startIn(dir, started, opts.nginxBinary ?? 'nginx', opts.ports ?? [], opts.legacyRoles ?? []);
  } catch (err) {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}

async function startIn(dir: string, started: (() => Promise<void>)[], nginxBinary: string, ports: number[], legacyRoles: string[]): Promise<GoLiveEnv> {
  const legacy = await sideServer('legacy');
  started.push(legacy.close);
  const fresh = await sideServer('new');
  started.push(fresh.close);
  ports.push(legacy.port, fresh.port);
  const nginx = await startNginx(nginxBinary);
  started.push(nginx.stop);
  ports.push(nginx.port);
  const legacyBase = (id: string) => `http://127.0.0.1:${legacy.port}/interface/${id}`;
  const newBase = (id: string) => `http://127.0.0.1:${fresh.port}/interface/${id}`;
  const configApi = await configApiServer(legacyBase('gdamr-datacenter'));
  started.push(configApi.close);
  ports.push(configApi.port);
  const raw = {
    description: 'test subset of the registry: two systems behind nginx, one with its own configuration API',
    timeoutMs: 2000,
    proxy: { nginx: { binary: 'nginx', conf: nginx.conf, prefix: nginx.prefix, upstreamDir: nginx.upstreamDir } },
    systems: [
      ['gsxt', '国家企业信用信息公示系统', 'National Enterprise Credit Information Publicity System'],
      ['samr-report', '市场监管总局数据上报', 'SAMR national data reporting'],
    ]
      .map(([id, zh, en]) => ({
        id,
        name: { zh, en },
        direction: 'outbound',
        legacyBaseUrl: legacyBase(id),
        newBaseUrl: newBase(id),
        healthPath: '/health',
        switch: { driver: 'nginx', proxyBaseUrl: `http://127.0.0.1:${nginx.port}/interface/${id}` },
      }))
      .concat([
        {
          id: 'gdamr-datacenter',
          name: { zh: '广东省市场监督管理局数据中心', en: 'Guangdong AMR data center' },
          direction: 'both',
          legacyBaseUrl: legacyBase('gdamr-datacenter'),
          newBaseUrl: newBase('gdamr-datacenter'),
          healthPath: '/health',
          switch: { driver: 'http-config', configUrl: `http://127.0.0.1:${configApi.port}/config` } as never,
        },
      ]),
  };
  const systemsFile = path.join(dir, 'connected-systems.json');
  fs.writeFileSync(systemsFile, JSON.stringify(raw, null, 2));
  const action = (port: number, what: string) => ({ http: { method: 'POST', url: `http://127.0.0.1:${port}/admin/${what}` } });
  const servicesFile = path.join(dir, 'services.json');
  fs.writeFileSync(
    servicesFile,
    JSON.stringify(
      {
        services: [
          { name: 'new-app', title: '国产化准入系统应用 new application', side: 'new', kind: 'app', stop: action(fresh.port, 'stop'), start: action(fresh.port, 'start') },
          // A command-driven service, as systemctl would be on a site: harmless here.
          { name: 'new-db', title: '国产化数据库 new database', side: 'new', kind: 'database', stop: { command: ['true'] }, start: { command: ['true'] } },
          { name: 'legacy-app', title: '非国产化准入系统应用 legacy application', side: 'legacy', kind: 'app', stop: action(legacy.port, 'stop'), start: action(legacy.port, 'start') },
        ],
        // 关停 / 只可查询: the legacy application's database roles (none by default: the counters prove the shutdown).
        legacyDatabase: { applicationRoles: legacyRoles, quietSeconds: 1, drainSeconds: 10 },
        legacySmokeTests: [
          { name: '公示接口 publicity interface (direct)', url: `${legacyBase('gsxt')}/health`, expectText: '"side":"legacy"' },
          { name: '公示接口 publicity interface (through the proxy)', url: `http://127.0.0.1:${nginx.port}/interface/gsxt/health`, expectText: '"side":"legacy"' },
        ],
      },
      null,
      2,
    ),
  );
  const systems = loadConnectedSystems(systemsFile);
  const services = loadServices(servicesFile);
  const env: GoLiveEnv = {
    legacy,
    fresh,
    nginx,
    configApi,
    systems,
    services,
    systemsFile,
    servicesFile,
    throughProxy: async (id) => {
      const res = await fetch(`http://127.0.0.1:${nginx.port}/interface/${id}/health`);
      const text = await res.text();
      return res.ok ? (JSON.parse(text) as { side: string }).side : `HTTP ${res.status}`;
    },
    resetToLegacy: async () => {
      for (const s of systems.systems) {
        if (s.switch?.driver === 'nginx') await nginxSwitch(systems.proxy!.nginx!, s, 'legacy', 2000);
        else await httpConfigSwitch(s, 'legacy', 2000);
      }
    },
    stop: async () => {
      await nginx.stop();
      await legacy.close();
      await fresh.close();
      await (configApi as unknown as { close: () => Promise<void> }).close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await env.resetToLegacy();
  return env;
}
