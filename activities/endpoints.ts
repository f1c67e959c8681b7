import { withClient } from '../lib/db';
import { httpConfigSwitch, joinUrl, nginxSwitch, Side, sideUrl, SwitchOutcome } from '../environment/endpoint-drivers';
import type { ConnectedSystem } from '../environment/probe-targets';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';

/**
 * 切换周边对接系统服务地址 Switching the connected systems between legacy and new addresses:
 * test the addresses first, then switch each system with its driver and prove it, recording every
 * switch (who, when, from, to) in the runbook database. Switching back is the same call with 'legacy'.
 */
export interface AddressCheck {
  id: string;
  url: string;
  ok: boolean;
  status?: number;
  error?: string;
}

export interface SwitchReport {
  to: Side;
  switched: SwitchOutcome[];
  /** systems without a driver: switched by hand, outside the runbook */
  manual: string[];
}

const SWITCH_DDL = `CREATE TABLE IF NOT EXISTS endpoint_switch (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  run_id text NOT NULL,
  actor text NOT NULL,
  system_id text NOT NULL,
  driver text NOT NULL,
  from_side text NOT NULL,
  to_side text NOT NULL,
  to_url text NOT NULL,
  changed boolean NOT NULL,
  verified_by text NOT NULL
)`;

export function endpointActivities(deps: ActivityDeps) {
  const switchable = (): ConnectedSystem[] => deps.project.systems.systems.filter((s) => s.switch);
  const timeoutMs = () => deps.project.systems.timeoutMs;

  return beating({
    /** 正式地址测试 Each switchable system's health interface at one side's address, directly (no proxy). GET only. */
    async checkAddresses(input: { side: Side }): Promise<AddressCheck[]> {
      return Promise.all(
        switchable().map(async (s): Promise<AddressCheck> => {
          const url = joinUrl(sideUrl(s, input.side), s.healthPath);
          try {
            const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs()) });
            await res.body?.cancel();
            return { id: s.id, url, ok: res.ok, status: res.status };
          } catch (err) {
            return { id: s.id, url, ok: false, error: (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message };
          }
        }),
      );
    },

    /**
     * 切换 / 切回 Point every switchable system at one side. One system at a time: nginx reloads must
     * not overlap. A system that cannot be switched or proven fails the activity (after the others
     * were tried), so the retry or the operator sees every failure at once.
     */
    async switchEndpoints(input: { runId: string; to: Side; actor: string }): Promise<SwitchReport> {
      const nginx = deps.project.systems.proxy?.nginx;
      const switched: SwitchOutcome[] = [];
      const failures: string[] = [];
      for (const s of switchable()) {
        try {
          const outcome =
            s.switch!.driver === 'nginx' ? await nginxSwitch(nginx!, s, input.to, timeoutMs()) : await httpConfigSwitch(s, input.to, timeoutMs());
          switched.push(outcome);
          await withClient(deps.settings.RUNBOOK_DATABASE_URL, async (c) => {
            await c.query(SWITCH_DDL);
            await c.query(
              `INSERT INTO endpoint_switch (run_id, actor, system_id, driver, from_side, to_side, to_url, changed, verified_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
              [input.runId, input.actor, s.id, outcome.driver, outcome.from, outcome.to, sideUrl(s, input.to), outcome.changed, outcome.verifiedBy],
            );
          });
          deps.logger.info({ runId: input.runId, actor: input.actor, ...outcome }, `endpoint switched 切换 ${s.id} → ${input.to}`);
        } catch (err) {
          const message = (err as Error).message;
          failures.push(message.startsWith(`${s.id}:`) ? message : `${s.id}: ${message}`);
          deps.logger.error({ runId: input.runId, system: s.id, to: input.to, err: (err as Error).message }, 'endpoint switch failed 切换失败');
        }
      }
      if (failures.length) throw new Error(`switching to ${input.to} failed for ${failures.length} system(s): ${failures.join('; ')}`);
      const manual = deps.project.systems.systems.filter((s) => !s.switch).map((s) => s.id);
      return { to: input.to, switched, manual };
    },
  });
}
