/**
 * The ports the standby tests use: five in a row from STANDBY_TEST_PORT_BASE (default 25452, below the kernel's ephemeral port range so no outgoing connection can hold one) — the primary,
 * the standby, the DR copy, the tamper clone (standby-replicas.test.ts) and the drill's restore
 * (standby-workflow.test.ts). Two checkouts testing at once on one machine give each its own base
 * (e.g. STANDBY_TEST_PORT_BASE=26452); pg-standby.sh refuses a port answered by another checkout's instance.
 */
export const DEFAULT_STANDBY_TEST_PORT_BASE = 25452;
export interface StandbyTestPorts {
  primary: number;
  standby: number;
  dr: number;
  tamper: number;
  drill: number;
}
export function standbyTestPorts(env: NodeJS.ProcessEnv = process.env): StandbyTestPorts {
  const raw = env.STANDBY_TEST_PORT_BASE?.trim();
  const base = raw ? Number(raw) : DEFAULT_STANDBY_TEST_PORT_BASE;
  if (!/^\d+$/.test(raw || String(base)) || base < 1024 || base + 4 > 65535) {
    throw new Error(`STANDBY_TEST_PORT_BASE=${raw}: expected a port from 1024 to 65531 (the tests use it and the four after it)`);
  }
  return { primary: base, standby: base + 1, dr: base + 2, tamper: base + 3, drill: base + 4 };
}
export const TEST_PORTS = standbyTestPorts();
