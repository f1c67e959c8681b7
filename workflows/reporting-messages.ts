import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';

/**
 * The reporting workflow's contract with the API and schedules; no workflow code imported by clients.
 * Each shape is a zod schema: its TypeScript type is inferred here, and the API's start body and state schema
 * (api/kinds/reporting.ts) are generated from it.
 */

const reportedTable = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/);
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

export const reportingInput = z.object({
  runId: z.string(),
  /** reported tables; default all of the spec */
  tables: z.array(reportedTable).max(200).describe('上报表 reported tables; default all of the spec').optional(),
  /** 补报 backfill: re-send rows whose date item lies in [from, to) (the watermark does not move) */
  backfill: z
    .strictObject({ item: reportedTable, from: day, to: day })
    .describe('补报 backfill: re-send the rows whose date item lies in [from, to); the watermark does not move')
    .optional(),
  requestedBy: z.string().optional(),
});
export type ReportingInput = z.infer<typeof reportingInput>;

export const REPORTING_VERDICTS = ['passed', 'held', 'rejected'] as const;
export type ReportingVerdict = (typeof REPORTING_VERDICTS)[number];

export const REPORTING_TABLE_STATES = ['waiting', 'running', 'empty', 'verified', 'held', 'rejected'] as const;

export const reportingTableProgress = z.object({
  table: z.string(),
  state: z.enum(REPORTING_TABLE_STATES),
  batchId: z.string().optional(),
  rows: z.number().int(),
  rejected: z.number().int(),
  /** the end of the last verified window */
  watermark: z.string().nullable().optional(),
  lagSeconds: z.number().nullable().optional(),
});
export type ReportingTableProgress = z.infer<typeof reportingTableProgress>;

export const REPORTING_PHASES = ['prepare', 'cycle', 'monitor', 'finished'] as const;

export const reportingProgress = z.object({
  runId: z.string(),
  phase: z.enum(REPORTING_PHASES),
  tables: z.array(reportingTableProgress).describe('每表进度 per table: state, rows, held rows, batch, watermark (last verified window), lag'),
  verdict: z.enum(REPORTING_VERDICTS).optional(),
  alerts: z.array(z.string()).describe('告警 alerts the monitor raised').optional(),
  reportFiles: z.object({ json: z.string(), markdown: z.string(), html: z.string() }).optional(),
});
export type ReportingProgress = z.infer<typeof reportingProgress>;

export const reportingProgressQuery = defineQuery<ReportingProgress>('progress');
