/**
 * 默认值 The runbook's named defaults, in one place: what a run uses when its start request leaves a tuning
 * out (the API's start schema bounds what it may say instead). Sized for the 2-core reference machine.
 */
export const DEFAULTS = {
  /** 数据迁移 rows per chunk activity: one COPY transaction, one ledger row */
  rowsPerChunk: 100_000,
  /** 数据迁移 chunks of one table loading side by side */
  chunkConcurrency: 2,
  /** 数据迁移 tables loading side by side where the load order allows */
  tablesInParallel: 2,
  /** how often a long activity (backup, chunk) heartbeats; its heartbeat timeout follows */
  heartbeatSeconds: 60,
  /** 迁移结果验证 rows per verification segment */
  segmentRows: 100_000,
} as const;
