import { execFile } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../lib/settings';

/**
 * The replicas on this machine (scripts/pg-standby.sh): the one place that runs the script, for the setup
 * activity, the DR drill, tests and the benchmark. Its printed actions come back as lines, so a run records
 * what was done; a failure carries the script's own words.
 */
export interface ReplicaLayout {
  /** STANDBY_DIR: where the instances live */
  dir: string;
  primaryPort: number;
  standbyPort: number;
  drPort: number;
  slot: string;
  drSlot: string;
  /** use a primary that is already running (not ours to reconfigure) */
  externalPrimary?: boolean;
}

export const PG_STANDBY_SCRIPT = path.join(repoRoot, 'scripts', 'pg-standby.sh');

/** The script refused its input (exit status 2: a port in the ephemeral range, …): retrying cannot help. */
export class ReplicaScriptRefusal extends Error {
  override name = 'ReplicaScriptRefusal';
}

export function pgStandby(layout: ReplicaLayout, args: string[], timeoutMs = 10 * 60_000): Promise<{ actions: string[]; stdout: string }> {
  const env = {
    ...process.env,
    STANDBY_DIR: layout.dir,
    STANDBY_PRIMARY_PORT: String(layout.primaryPort),
    STANDBY_PORT: String(layout.standbyPort),
    STANDBY_DR_PORT: String(layout.drPort),
    STANDBY_SLOT: layout.slot,
    STANDBY_DR_SLOT: layout.drSlot,
    STANDBY_PRIMARY_EXTERNAL: layout.externalPrimary ? '1' : '0',
  };
  return new Promise((resolve, reject) => {
    execFile('bash', [PG_STANDBY_SCRIPT, ...args], { env, timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const actions = stderr.split('\n').filter((l) => l.startsWith('[pg-standby]')).map((l) => l.replace(/^\[pg-standby\] /, ''));
      if (err) {
        const message = `scripts/pg-standby.sh ${args.join(' ')} failed: ${actions.slice(-3).join(' / ') || stderr.trim().slice(-500) || err.message}`;
        reject((err as { code?: unknown }).code === 2 ? new ReplicaScriptRefusal(message) : new Error(message));
      } else resolve({ actions, stdout });
    });
  });
}

/** The port of a postgres:// URL (5432 when none). */
export function portOf(url: string): number {
  return Number(new URL(url).port || 5432);
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + database;
  return u.toString();
}
