import { defineQuery } from '@temporalio/workflow';
import type { DecisionRecord, GateState } from './cutover-messages';
import type { StandbySegmentResult, TableAgreement, CatchUp } from '../standby/consistency';
import type { ReplicationHealth, StandbyAlert } from '../standby/health';

/**
 * 备点库 The standby run's contract with the API and the schedule: one workflow type, three actions —
 * setup (建立/接管 build or re-attach, prove streaming, record the configuration, schedule the checks),
 * check (巡检 lag, retained WAL, consistency; scheduled) and drill (容灾演练 restore the off-site copy,
 * gated promote, verify, RTO/RPO). No workflow code imported by clients.
 */
export type StandbyAction = 'setup' | 'check' | 'drill';
export type StandbyCopy = 'standby' | 'dr';

export interface StandbyInput {
  runId: string;
  action: StandbyAction;
  requestedBy: string;
  /** check: which copy (default standby); tables (default the configured scope) */
  copy?: StandbyCopy;
  tables?: string[];
  /** setup: schedule the check every this many minutes (default: the configuration's checkEveryMinutes); 0 = no schedule */
  checkEveryMinutes?: number;
  /** drill: the fresh instance's port, and whether to keep it after the drill */
  drillPort?: number;
  keepDrillInstance?: boolean;
}

/** What a setup records: the seed's 备份的数据内容范围、备份频率、备份路径, and the proof it streams. */
export interface StandbyConfigRecord {
  dialect: string;
  /** 备份的数据内容范围 */
  scope: { tables: string[]; description: string };
  /** 备份频率 */
  frequency: { replication: string; checkEveryMinutes: number };
  /** 备份路径 */
  paths: { primary: string; standby: string; dr: string; standbyLocation: string; drLocation: string };
  thresholds: { lagBytes: number; lagSeconds: number; retainedWalBytes: number };
}

export interface StreamProof {
  primaryLsn: string;
  copies: { copy: StandbyCopy; replayLsn: string | null; reached: boolean; waitedMs: number; streaming: boolean }[];
}

export interface CheckSummary {
  point: string;
  catchUp: CatchUp;
  segments: number;
  differingSegments: number;
  clearedOnRecheck: number;
  rowsCompared: number;
  tables: TableAgreement[];
  /** the differing segments, with their keys and fields (capped) */
  mismatches: StandbySegmentResult[];
  consistent: boolean;
  contentMs: number;
}

export interface DrillSummary {
  instance: string;
  port: number;
  /** the copy's last replayed position when promoted: the restore point */
  restorePoint: string | null;
  /** the primary's position at the same moment */
  primaryLsn: string | null;
  rpoBytes: number | null;
  rpoSeconds: number | null;
  /** restore + promote + first write accepted, without the time the decision took */
  rtoSeconds: number | null;
  /** the same including the wait for the four-eyes decision */
  rtoWallSeconds: number | null;
  decisionWaitSeconds: number | null;
  verify?: CheckSummary;
  actions: string[];
  kept: boolean;
}

export interface StandbyState {
  runId: string;
  action: StandbyAction;
  requestedBy: string;
  status: 'running' | 'waiting_approval' | 'healthy' | 'alerting' | 'completed' | 'failed' | 'rejected';
  phase: string;
  copy: StandbyCopy;
  config?: StandbyConfigRecord;
  setupActions?: string[];
  proof?: StreamProof;
  scheduleId?: string;
  health?: ReplicationHealth[];
  alerts: (StandbyAlert & { copy: StandbyCopy })[];
  check?: CheckSummary;
  drill?: DrillSummary;
  gates: GateState[];
  decisions: DecisionRecord[];
  progress: { done: number; total: number };
  report?: { markdown: string; json: string; html: string };
  /** the report folder under REPORTS_DIR/standby/: the workflow id */
  reportId?: string;
  error?: string;
}

export const STANDBY_STATUSES = ['running', 'waiting_approval', 'healthy', 'alerting', 'completed', 'failed', 'rejected'] as const;
export const standbyStateQuery = defineQuery<StandbyState>('state');
