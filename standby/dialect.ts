import { z } from 'zod';

/**
 * 复制函数方言表 The replication functions and views the standby checks call, per server family. openGauss
 * (and GaussDB, Vastbase, which descend from it) grew from PostgreSQL 9.2 and keep the old `xlog` /
 * `location` names; KingbaseES and HighGo follow a newer PostgreSQL and use the stock names. One row per
 * family, so a check is never PostgreSQL-only by accident. (#20 keeps a wider target dialect table: these
 * rows fold into it.)
 */
export const REPLICATION_DIALECTS = ['postgresql', 'opengauss'] as const;
export const replicationDialectSchema = z.enum(REPLICATION_DIALECTS);
export type ReplicationDialectName = z.infer<typeof replicationDialectSchema>;

export interface ReplicationDialect {
  /** the primary's current write position */
  currentLsn: string;
  /** the standby's last replayed position */
  lastReplayLsn: string;
  /** the standby's last received position */
  lastReceiveLsn: string;
  /** bytes between two positions: a function of (lsn, lsn) */
  lsnDiff: string;
  /** the commit time of the last replayed transaction */
  lastReplayTimestamp: string;
  /** per-standby positions on the primary, in pg_stat_replication */
  replayColumn: string;
  /** the oldest position a slot holds (pg_replication_slots) */
  slotRestartColumn: string;
}

export const DIALECTS: Record<ReplicationDialectName, ReplicationDialect> = {
  postgresql: {
    currentLsn: 'pg_current_wal_lsn()',
    lastReplayLsn: 'pg_last_wal_replay_lsn()',
    lastReceiveLsn: 'pg_last_wal_receive_lsn()',
    lsnDiff: 'pg_wal_lsn_diff',
    lastReplayTimestamp: 'pg_last_xact_replay_timestamp()',
    replayColumn: 'replay_lsn',
    slotRestartColumn: 'restart_lsn',
  },
  opengauss: {
    currentLsn: 'pg_current_xlog_location()',
    lastReplayLsn: 'pg_last_xlog_replay_location()',
    lastReceiveLsn: 'pg_last_xlog_receive_location()',
    lsnDiff: 'pg_xlog_location_diff',
    lastReplayTimestamp: 'pg_last_xact_replay_timestamp()',
    replayColumn: 'replay_location',
    slotRestartColumn: 'restart_lsn',
  },
};

export function replicationDialect(name: ReplicationDialectName): ReplicationDialect {
  return DIALECTS[name];
}

/** Which family a server is, from its version() string. */
export function detectDialect(version: string): ReplicationDialectName {
  return /openGauss|GaussDB|Vastbase|MogDB/i.test(version) ? 'opengauss' : 'postgresql';
}

/** Byte position of a textual LSN ("16/B374D848"): the same arithmetic as pg_wal_lsn_diff, for bigint-free reporting. */
export function lsnToBigInt(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not an LSN: "${lsn}"`);
  return (BigInt('0x' + m[1]) << 32n) + BigInt('0x' + m[2]);
}

/** a − b in bytes (negative when a is behind b). */
export function lsnDiffBytes(a: string, b: string): number {
  return Number(lsnToBigInt(a) - lsnToBigInt(b));
}
