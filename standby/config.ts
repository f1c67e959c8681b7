import { z } from 'zod';
import { readConfigFile } from '../lib/config-file';
import { replicationDialectSchema } from './dialect';

/**
 * 备点库配置 The standby's configuration as data (config/standby.json), validated strictly at load (unknown
 * keys refused, every problem with its JSON path). Connection strings are not here: they stay in the
 * worker's environment (STANDBY_PRIMARY_URL, STANDBY_URL, STANDBY_DR_URL), so no secret reaches history.
 * The seed's three facts are recorded in every setup run: 备份的数据内容范围 (scope), 备份频率 (frequency),
 * 备份路径 (where each copy lives).
 */
const copySchema = z.strictObject({
  /** the WAL receiver's application_name, as pg_stat_replication shows it */
  applicationName: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
  /** the physical replication slot on the primary */
  slot: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
  /** 备份路径: where it lives, as ops name it (host, data directory, site) */
  location: z.string().min(1).max(300),
});

export const standbyConfigSchema = z.strictObject({
  dialect: replicationDialectSchema,
  standby: copySchema,
  dr: copySchema,
  /** 备份的数据内容范围: the mapped target tables the consistency check compares; [] = all */
  scope: z.strictObject({ tables: z.array(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/)).max(64), description: z.string().min(1).max(300) }),
  /** 备份频率: replication is continuous; the check runs every this many minutes (a Temporal Schedule) */
  checkEveryMinutes: z.number().int().min(1).max(24 * 60),
  thresholds: z.strictObject({
    lagBytes: z.number().int().min(0),
    lagSeconds: z.number().min(0),
    retainedWalBytes: z.number().int().min(0),
  }),
  consistency: z.strictObject({
    segmentRows: z.number().int().min(100).max(10_000_000),
    concurrency: z.number().int().min(1).max(16),
    /** how long a check waits for the standby to replay past the primary's captured position */
    catchUpTimeoutSeconds: z.number().int().min(1).max(3600),
    /** rounds of re-checking differing rows after lag cleared, before anything is called a mismatch */
    recheckRounds: z.number().int().min(1).max(20),
    /** 心跳 how soon a segment or the catch-up wait of a worker that died is taken up by another (its heartbeat timeout) */
    heartbeatSeconds: z.number().int().min(5).max(600).default(60),
  }),
});
export type StandbyConfig = z.infer<typeof standbyConfigSchema>;

export function loadStandbyConfig(file: string): StandbyConfig {
  return readConfigFile(file, standbyConfigSchema);
}
