import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { decisionRecord, gateState } from './cutover-messages';
import type { StandbySegmentResult, TableAgreement, CatchUp } from '../standby/consistency';
import type { ReplicationHealth, StandbyAlert } from '../standby/health';

/**
 * 备点库 The standby run's contract with the API and the schedule: one workflow type, three actions —
 * setup (建立/接管 build or re-attach, prove streaming, record the configuration, schedule the checks),
 * check (巡检 lag, retained WAL, consistency; scheduled) and drill (容灾演练 restore the off-site copy,
 * gated promote, verify, RTO/RPO). No workflow code imported by clients.
 * Each shape is a zod schema: its TypeScript type is inferred here, and the API's start body and state schema
 * (api/kinds/standby.ts) are generated from it.
 */
export const STANDBY_ACTIONS = ['setup', 'check', 'drill'] as const;
export type StandbyAction = (typeof STANDBY_ACTIONS)[number];
export const STANDBY_COPIES = ['standby', 'dr'] as const;
export type StandbyCopy = (typeof STANDBY_COPIES)[number];

/** A shape another module owns (standby/), carried as it is: documented as an object passed through. */
const carried = <T extends object>() => z.custom<T>().meta({ type: 'object', additionalProperties: true });

export const standbyInput = z.object({
  runId: z.string(),
  action: z.enum(STANDBY_ACTIONS).describe('setup 配置 | check 巡检 | drill 容灾演练'),
  requestedBy: z.string(),
  /** check: which copy (default standby); tables (default the configured scope) */
  copy: z.enum(STANDBY_COPIES).describe('check: which copy (default standby)').optional(),
  tables: z.array(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/)).max(64).describe('表 default: the configured scope').optional(),
  /** setup: schedule the check every this many minutes (default: the configuration's checkEveryMinutes); 0 = no schedule */
  checkEveryMinutes: z.number().int().min(0).max(1440).describe('setup: schedule the check every N minutes (0 = none; default from config/standby.json)').optional(),
  /** drill: the fresh instance's port, and whether to keep it after the drill */
  drillPort: z.number().int().min(1024).max(65535).describe('drill: port of the fresh instance (default 25440; not in the machine’s ephemeral port range)').optional(),
  keepDrillInstance: z.boolean().describe('drill: keep the promoted instance afterwards').optional(),
});
export type StandbyInput = z.infer<typeof standbyInput>;

/** What a setup records: the seed's 备份的数据内容范围、备份频率、备份路径, and the proof it streams. */
export const standbyConfigRecord = z.object({
  dialect: z.string(),
  /** 备份的数据内容范围 */
  scope: z.object({ tables: z.array(z.string()), description: z.string() }).describe('备份的数据内容范围 scope'),
  /** 备份频率 */
  frequency: z.object({ replication: z.string(), checkEveryMinutes: z.number() }).describe('备份频率 frequency'),
  /** 备份路径 */
  paths: z.object({ primary: z.string(), standby: z.string(), dr: z.string(), standbyLocation: z.string(), drLocation: z.string() }).describe('备份路径 paths'),
  thresholds: z.object({ lagBytes: z.number(), lagSeconds: z.number(), retainedWalBytes: z.number() }),
});
export type StandbyConfigRecord = z.infer<typeof standbyConfigRecord>;

export const streamProof = z.object({
  primaryLsn: z.string(),
  copies: z.array(z.object({ copy: z.enum(STANDBY_COPIES), replayLsn: z.string().nullable(), reached: z.boolean(), waitedMs: z.number(), streaming: z.boolean() })),
});
export type StreamProof = z.infer<typeof streamProof>;

export const checkSummary = z.object({
  point: z.string(),
  catchUp: carried<CatchUp>(),
  segments: z.number().int(),
  differingSegments: z.number().int(),
  clearedOnRecheck: z.number().int(),
  rowsCompared: z.number().int(),
  tables: z.array(carried<TableAgreement>()),
  /** the differing segments, with their keys and fields (capped) */
  mismatches: z.array(carried<StandbySegmentResult>()),
  consistent: z.boolean(),
  contentMs: z.number(),
});
export type CheckSummary = z.infer<typeof checkSummary>;

export const drillSummary = z.object({
  instance: z.string(),
  port: z.number().int(),
  /** the copy's last replayed position when promoted: the restore point */
  restorePoint: z.string().nullable(),
  /** the primary's position at the same moment */
  primaryLsn: z.string().nullable(),
  rpoBytes: z.number().nullable(),
  rpoSeconds: z.number().nullable(),
  /** restore + promote + first write accepted, without the time the decision took */
  rtoSeconds: z.number().nullable(),
  /** the same including the wait for the four-eyes decision */
  rtoWallSeconds: z.number().nullable(),
  decisionWaitSeconds: z.number().nullable(),
  verify: checkSummary.optional(),
  actions: z.array(z.string()),
  kept: z.boolean(),
});
export type DrillSummary = z.infer<typeof drillSummary>;

export const STANDBY_STATUSES = ['running', 'waiting_approval', 'healthy', 'alerting', 'completed', 'failed', 'rejected'] as const;

export const standbyState = z.object({
  runId: z.string(),
  action: z.enum(STANDBY_ACTIONS),
  requestedBy: z.string(),
  status: z.enum(STANDBY_STATUSES),
  phase: z.string(),
  copy: z.enum(STANDBY_COPIES),
  config: standbyConfigRecord.describe('备份的数据内容范围、备份频率、备份路径').optional(),
  setupActions: z.array(z.string()).optional(),
  proof: streamProof.optional(),
  scheduleId: z.string().optional(),
  health: z.array(carried<ReplicationHealth>()).describe('复制状态 lag, slot').optional(),
  alerts: z.array(carried<StandbyAlert & { copy: StandbyCopy }>()).describe('告警 each with what to do'),
  check: checkSummary.describe('一致性 consistency').optional(),
  drill: drillSummary.describe('容灾演练 RTO/RPO').optional(),
  gates: z.array(gateState),
  decisions: z.array(decisionRecord),
  progress: z.object({ done: z.number().int(), total: z.number().int() }),
  report: z.object({ markdown: z.string(), json: z.string(), html: z.string() }).optional(),
  /** the report folder under REPORTS_DIR/standby/: the workflow id */
  reportId: z.string().optional(),
  error: z.string().optional(),
});
export type StandbyState = z.infer<typeof standbyState>;

export const standbyStateQuery = defineQuery<StandbyState>('state');
