import type { Client } from 'pg';
import type { ReplicationDialect } from './dialect';

/**
 * 复制状态 What the primary and the standby say about replication right now: whether the standby streams,
 * how far behind it is (bytes and seconds), and how much WAL its slot holds on the primary — a slot that
 * falls behind keeps WAL until the primary's disk is full. Only catalog views and the dialect's functions.
 */
export interface ReplicationHealth {
  at: string;
  primaryLsn: string;
  /** a row for this application_name in pg_stat_replication with state "streaming" */
  streaming: boolean;
  senderState: string | null;
  /** the standby's replay position as the primary sees it; null when not connected */
  replayLsn: string | null;
  /** primary position − standby replay position, bytes; null when unknown */
  lagBytes: number | null;
  /** replay lag in seconds: pg_stat_replication.replay_lag (0 when idle and caught up); null when unknown */
  lagSeconds: number | null;
  slot: { name: string; exists: boolean; active: boolean; retainedWalBytes: number | null; walStatus: string | null };
  /** read on the standby itself, when it answers */
  standby: { reachable: boolean; inRecovery: boolean | null; replayLsn: string | null; receiveLsn: string | null; error?: string };
}

export async function primaryPosition(primary: Client, d: ReplicationDialect): Promise<string> {
  const { rows } = await primary.query<{ lsn: string }>(`SELECT ${d.currentLsn}::text AS lsn`);
  return rows[0].lsn;
}

export async function standbyReplay(standby: Client, d: ReplicationDialect): Promise<{ inRecovery: boolean; replayLsn: string | null; receiveLsn: string | null }> {
  const { rows } = await standby.query<{ r: boolean; replay: string | null; receive: string | null }>(
    `SELECT pg_is_in_recovery() AS r, ${d.lastReplayLsn}::text AS replay, ${d.lastReceiveLsn}::text AS receive`,
  );
  return { inRecovery: rows[0].r, replayLsn: rows[0].replay, receiveLsn: rows[0].receive };
}

export async function replicationHealth(input: {
  primary: Client;
  /** null when the standby cannot be reached: that is itself a finding, not an error */
  standby: Client | null;
  standbyError?: string;
  dialect: ReplicationDialect;
  applicationName: string;
  slot: string;
}): Promise<ReplicationHealth> {
  const { primary, dialect: d } = input;
  const at = new Date().toISOString();
  const primaryLsn = await primaryPosition(primary, d);
  // SELECT *: the column sets differ between server families and versions; the dialect names the ones read.
  const { rows: senders } = await primary.query<Record<string, unknown>>(`SELECT * FROM pg_stat_replication WHERE application_name = $1`, [input.applicationName]);
  const sender = senders.find((s) => s.state === 'streaming') ?? senders[0];
  const replayLsn = sender ? ((sender[d.replayColumn] as string | null) ?? null) : null;
  let lagBytes: number | null = null;
  let lagSeconds: number | null = null;
  if (replayLsn) {
    const { rows } = await primary.query<{ b: string; s: number | null }>(`SELECT ${d.lsnDiff}($1, $2)::text AS b`, [primaryLsn, replayLsn]);
    lagBytes = Math.max(0, Number(rows[0].b));
    const lag = sender?.replay_lag as { seconds?: number; milliseconds?: number; minutes?: number; hours?: number } | null | undefined;
    // pg returns an interval object; NULL when the standby has been idle and caught up
    lagSeconds = lag ? (lag.hours ?? 0) * 3600 + (lag.minutes ?? 0) * 60 + (lag.seconds ?? 0) + (lag.milliseconds ?? 0) / 1000 : lagBytes === 0 ? 0 : null;
  }
  const { rows: slots } = await primary.query<Record<string, unknown>>(`SELECT * FROM pg_replication_slots WHERE slot_name = $1`, [input.slot]);
  const slotRow = slots[0];
  let retained: number | null = null;
  const restart = slotRow?.[d.slotRestartColumn] as string | null | undefined;
  if (restart) {
    const { rows } = await primary.query<{ b: string }>(`SELECT ${d.lsnDiff}($1, $2)::text AS b`, [primaryLsn, restart]);
    retained = Math.max(0, Number(rows[0].b));
  }
  let standby: ReplicationHealth['standby'] = { reachable: false, inRecovery: null, replayLsn: null, receiveLsn: null, error: input.standbyError };
  if (input.standby) {
    try {
      standby = { reachable: true, ...(await standbyReplay(input.standby, d)) };
    } catch (err) {
      standby = { reachable: false, inRecovery: null, replayLsn: null, receiveLsn: null, error: (err as Error).message };
    }
  }
  return {
    at,
    primaryLsn,
    streaming: sender?.state === 'streaming',
    senderState: (sender?.state as string | undefined) ?? null,
    replayLsn,
    lagBytes,
    lagSeconds,
    slot: { name: input.slot, exists: Boolean(slotRow), active: Boolean(slotRow?.active), retainedWalBytes: retained, walStatus: (slotRow?.wal_status as string | undefined) ?? null },
    standby,
  };
}

export type AlertKind = 'not_streaming' | 'standby_unreachable' | 'lag_bytes' | 'lag_seconds' | 'retained_wal' | 'slot_missing' | 'mismatch' | 'catch_up_timeout';

export interface StandbyAlert {
  kind: AlertKind;
  /** what is wrong, with the figures */
  subject: string;
  /** 处置建议 what the operator should do */
  action: string;
}

/** The alert rules, one row each: a threshold crossed becomes an alert saying what to do. */
export function healthAlerts(h: ReplicationHealth, t: { lagBytes: number; lagSeconds: number; retainedWalBytes: number }, standbyName: string): StandbyAlert[] {
  const out: StandbyAlert[] = [];
  const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
  if (!h.standby.reachable) {
    out.push({
      kind: 'standby_unreachable',
      subject: `备点库不可达 standby ${standbyName} does not answer: ${h.standby.error ?? 'no connection'}`,
      action: `Check the standby host and its PostgreSQL service (pg_ctl status, its log); start it (scripts/pg-standby.sh start ${standbyName}). While it is down, slot ${h.slot.name} keeps WAL on the primary: watch its disk.`,
    });
  }
  if (!h.streaming) {
    out.push({
      kind: 'not_streaming',
      subject: `备点库未在同步 standby ${standbyName} is not streaming from the primary (sender state: ${h.senderState ?? 'no connection'})`,
      action: `Start the standby or restore its network path to the primary; check primary_conninfo and the slot ${h.slot.name}. If the slot was lost, rebuild the standby (scripts/pg-standby.sh up after removing it) and run a setup again.`,
    });
  }
  if (!h.slot.exists) {
    out.push({ kind: 'slot_missing', subject: `复制槽缺失 replication slot ${h.slot.name} does not exist on the primary`, action: 'The primary no longer keeps WAL for the standby: rebuild the standby with a new base backup (setup) before it falls too far behind.' });
  } else if (h.slot.retainedWalBytes !== null && h.slot.retainedWalBytes > t.retainedWalBytes) {
    out.push({
      kind: 'retained_wal',
      subject: `复制槽积压 slot ${h.slot.name} holds ${mb(h.slot.retainedWalBytes)} of WAL on the primary (threshold ${mb(t.retainedWalBytes)})${h.slot.active ? '' : ', slot inactive'}`,
      action: `A slot that falls behind keeps WAL until the primary's disk is full. Bring the standby back to streaming now; if it cannot be, drop the slot (SELECT pg_drop_replication_slot('${h.slot.name}')) after a four-eyes decision and rebuild the standby.`,
    });
  }
  if (h.lagBytes !== null && h.lagBytes > t.lagBytes) {
    out.push({ kind: 'lag_bytes', subject: `复制延迟 standby ${standbyName} is ${mb(h.lagBytes)} behind (threshold ${mb(t.lagBytes)})`, action: 'Check the standby disk and CPU, the network to it, and long queries on the standby holding replay back (pg_stat_activity).' });
  }
  if (h.lagSeconds !== null && h.lagSeconds > t.lagSeconds) {
    out.push({ kind: 'lag_seconds', subject: `复制延迟 standby ${standbyName} replays ${h.lagSeconds.toFixed(1)} s behind (threshold ${t.lagSeconds} s)`, action: 'Same as for lag in bytes; a failover now would lose about this much time of writes (RPO).' });
  }
  return out;
}
