import type { Op } from './batch-format';
import type { ReportSpec } from './spec';

/** 汇聚及上报 The shapes of a report cycle: its context, the batch ledger's row, a batch's manifest. */
export interface ReportContext {
  spec: ReportSpec;
  registryUrl: string;
  provinceUrl: string;
  outboxDir: string;
  /** the national receiver; without it the outbox is the delivery */
  receiverUrl?: string;
}

export type BatchState = 'applied' | 'delivered' | 'verified' | 'held' | 'rejected';

export interface Manifest {
  batchId: string;
  table: string;
  sequence: number;
  kind: 'full' | 'changes' | 'backfill';
  window: { from: string | null; to: string; fromXid: string | null; toXid: string };
  rows: number;
  counts: Record<Op, number>;
  sha256: string;
  format: 'jsonl';
  encoding: 'utf-8';
  items: string[];
}

export interface BatchRow {
  batch_id: string;
  table_name: string;
  sequence: string;
  kind: Manifest['kind'];
  from_xid: string | null;
  to_xid: string;
  window_from: Date | null;
  window_to: Date;
  rows: number;
  deletes: number;
  rejected: number;
  skipped: number;
  sha256: string;
  /** SHA-256 of a first load's canonical lines (items, op) as sent to the province; null otherwise */
  canonical_sha256: string | null;
  /** written by earlier versions for a first load (its extraction's bytes); no longer read */
  source_sha256: string | null;
  /** a first load's row count per registry table read, in its snapshot (source-check.ts); null otherwise */
  source_counts: Record<string, number> | null;
  file: string;
  state: BatchState;
  reasons: string[];
  differing_keys: { key: string; where: string }[];
}

export interface PrepareResult {
  table: string;
  batchId?: string;
  rows: number;
  rejected: number;
  skipped: number;
  /** no change since the watermark: the watermark moved, no batch was made */
  empty: boolean;
  /** a batch of this table is open (not verified): nothing new is prepared past it */
  open?: { batchId: string; state: BatchState };
}
