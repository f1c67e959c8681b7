import net from 'node:net';
import type { NetworkFlow } from '../environment/probe-targets';
import type { ActivityDeps } from './deps';

/**
 * 网络策略检查 Network policy check: a TCP connect to every declared flow's host:port from the
 * worker's host, with a timeout. Read-only and repeatable, so a retry simply probes again.
 */
export interface FlowProbe {
  name: string;
  description: string;
  side: NetworkFlow['side'];
  host: string;
  port: number;
  state: 'open' | 'closed';
  latencyMs: number;
  /** why a closed flow is closed: refused, timed out, unknown host … */
  reason?: string;
}

export interface NetworkCheckReport {
  checkedAt: string;
  open: number;
  closed: number;
  flows: FlowProbe[];
}

export function networkCheckActivities(deps: ActivityDeps) {
  return {
    async networkPolicyCheck(): Promise<NetworkCheckReport> {
      const { flows, timeoutMs } = deps.project.flows;
      const probes = await Promise.all(flows.map(async (f) => ({ name: f.name, description: f.description, side: f.side, host: f.host, port: f.port, ...(await probeTcp(f.host, f.port, timeoutMs)) })));
      const open = probes.filter((p) => p.state === 'open').length;
      deps.logger.info({ open, closed: probes.length - open }, 'network policy check 网络策略检查');
      return { checkedAt: new Date().toISOString(), open, closed: probes.length - open, flows: probes };
    },
  };
}

export function probeTcp(host: string, port: number, timeoutMs: number): Promise<Pick<FlowProbe, 'state' | 'latencyMs' | 'reason'>> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number((process.hrtime.bigint() - started) / 1_000_000n);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (state: FlowProbe['state'], reason?: string) => {
      socket.destroy();
      resolve({ state, latencyMs: elapsed(), ...(reason ? { reason } : {}) });
    };
    socket.setTimeout(timeoutMs, () => done('closed', `no answer within ${timeoutMs} ms (filtered?)`));
    socket.once('connect', () => done('open'));
    socket.once('error', (err: NodeJS.ErrnoException) => done('closed', err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOTFOUND' ? 'unknown host' : (err.code ?? err.message)));
  });
}
