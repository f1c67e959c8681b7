import { defineQuery } from '@temporalio/workflow';

/** The reporting workflow's contract with the API and schedules; no workflow code imported by clients. */
export interface ReportingInput {
  runId: string;
  /** reported tables; default all of the spec */
  tables?: string[];
  /** 补报 backfill: re-send rows whose date item lies in [from, to) (the watermark does not move) */
  backfill?: { item: string; from: string; to: string };
  requestedBy?: string;
}

export type ReportingVerdict = 'passed' | 'held' | 'rejected';

export interface ReportingTableProgress {
  table: string;
  state: 'waiting' | 'running' | 'empty' | 'verified' | 'held' | 'rejected';
  batchId?: string;
  rows: number;
  rejected: number;
  watermark?: string | null;
  lagSeconds?: number | null;
}

export interface ReportingProgress {
  runId: string;
  phase: 'prepare' | 'cycle' | 'monitor' | 'finished';
  tables: ReportingTableProgress[];
  verdict?: ReportingVerdict;
  alerts?: string[];
  reportFiles?: { json: string; markdown: string; html: string };
}

export const reportingProgressQuery = defineQuery<ReportingProgress>('progress');
