import type { ConnectedSystem } from '../environment/probe-targets';
import type { ActivityDeps } from './deps';

/**
 * 对接系统联调检查 Joint test: each connected system's health interface, at its legacy and at its new
 * address, so both sides of the switch are known to answer. GET only, so a retry is harmless.
 */
export interface EndpointProbe {
  url: string;
  ok: boolean;
  status?: number;
  latencyMs: number;
  error?: string;
}

export interface SystemProbe {
  id: string;
  name: string;
  direction: ConnectedSystem['direction'];
  legacy: EndpointProbe;
  new: EndpointProbe;
  ok: boolean;
}

export interface JointTestReport {
  checkedAt: string;
  passed: number;
  failed: number;
  systems: SystemProbe[];
}

export function jointTestActivities(deps: ActivityDeps) {
  return {
    async jointTestCheck(): Promise<JointTestReport> {
      const { systems, timeoutMs } = deps.project.systems;
      const probes = await Promise.all(
        systems.map(async (s): Promise<SystemProbe> => {
          const [legacy, fresh] = await Promise.all([probeHttp(joinUrl(s.legacyBaseUrl, s.healthPath), timeoutMs), probeHttp(joinUrl(s.newBaseUrl, s.healthPath), timeoutMs)]);
          return { id: s.id, name: `${s.name.zh} ${s.name.en}`, direction: s.direction, legacy, new: fresh, ok: legacy.ok && fresh.ok };
        }),
      );
      const passed = probes.filter((p) => p.ok).length;
      deps.logger.info({ passed, failed: probes.length - passed }, 'joint test check 对接联调检查');
      return { checkedAt: new Date().toISOString(), passed, failed: probes.length - passed, systems: probes };
    },
  };
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

async function probeHttp(url: string, timeoutMs: number): Promise<EndpointProbe> {
  const started = Date.now();
  try {
    const res = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return { url, ok: res.status >= 200 && res.status < 300, status: res.status, latencyMs: Date.now() - started };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause ?? (err as Error).message);
    return { url, ok: false, latencyMs: Date.now() - started, error: reason };
  }
}
