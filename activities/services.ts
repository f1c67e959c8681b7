import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ServiceAction } from '../environment/services';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';

/**
 * 服务启停 Stop or start one side's services (fallback steps 1 and 3), and 旧系统功能测试 the legacy
 * smoke tests (step 5). Stopping a stopped service and starting a running one must be harmless: the
 * configured commands and endpoints are expected to be idempotent (systemctl and most managers are).
 */
export interface ServiceOutcome {
  name: string;
  title: string;
  action: 'stop' | 'start';
  detail: string;
}

export interface SmokeResult {
  name: string;
  url: string;
  ok: boolean;
  status?: number;
  error?: string;
}

const run = promisify(execFile);

async function perform(a: ServiceAction): Promise<string> {
  if ('command' in a) {
    const [bin, ...args] = a.command;
    const { stdout } = await run(bin, args, { timeout: a.timeoutMs });
    return `${a.command.join(' ')} → exit 0${stdout.trim() ? `: ${stdout.trim().slice(0, 200)}` : ''}`;
  }
  const res = await fetch(a.http.url, { method: a.http.method, signal: AbortSignal.timeout(a.timeoutMs) });
  await res.body?.cancel();
  // The URL may carry credentials: report the method, path and status only.
  const where = `${a.http.method} ${new URL(a.http.url).pathname}`;
  if (!res.ok) throw new Error(`${where} answered ${res.status}`);
  return `${where} → ${res.status}`;
}

/**
 * Stops or starts one side's services (or only its applications: kind 'app'), applications before
 * databases on stop and databases before applications on start. Shared by the fallback, the cutover's
 * 关停 of the legacy application and the snapshot's stop of the new application.
 */
export async function controlSide(
  deps: ActivityDeps,
  input: { side: 'new' | 'legacy'; action: 'stop' | 'start'; runId: string; kind?: 'app' | 'database' },
): Promise<ServiceOutcome[]> {
  const services = deps.services.services.filter((s) => s.side === input.side && (!input.kind || s.kind === input.kind));
  const order = input.action === 'stop' ? ['app', 'database'] : ['database', 'app'];
  services.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  const out: ServiceOutcome[] = [];
  for (const s of services) {
    try {
      const detail = await perform(s[input.action]);
      out.push({ name: s.name, title: s.title, action: input.action, detail });
      deps.logger.warn({ runId: input.runId, service: s.name, side: input.side, action: input.action, detail }, `service ${input.action} ${s.title}`);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${input.action} ${s.name} (${s.title}) failed: ${(e.stderr || e.message).trim().slice(0, 500)}`, { cause: err });
    }
  }
  return out;
}

export function serviceActivities(deps: ActivityDeps) {
  return beating({
    async controlServices(input: { side: 'new' | 'legacy'; action: 'stop' | 'start'; runId: string; kind?: 'app' | 'database' }): Promise<ServiceOutcome[]> {
      return controlSide(deps, input);
    },

    async legacySmokeTests(): Promise<SmokeResult[]> {
      return Promise.all(
        deps.services.legacySmokeTests.map(async (t): Promise<SmokeResult> => {
          try {
            const res = await fetch(t.url, { signal: AbortSignal.timeout(10_000) });
            const body = await res.text();
            const ok = res.status === t.expectStatus && (t.expectText === undefined || body.includes(t.expectText));
            return { name: t.name, url: t.url, ok, status: res.status, error: ok ? undefined : `expected ${t.expectStatus}${t.expectText ? ` containing "${t.expectText}"` : ''}` };
          } catch (err) {
            return { name: t.name, url: t.url, ok: false, error: (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message };
          }
        }),
      );
    },
  });
}
