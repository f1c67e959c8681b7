import { withClient } from '../lib/db';
import type { Mapping } from '../migration/mapping';
import { findTable } from '../migration/mapping';
import type { SourceAdapter } from '../migration/source';
import { prepareTargetSession } from './canonical';
import { ensureVerificationIndexes, planSegments, SegmentResult, verifySegment } from './content';
import { SourceThreadPool } from './source-threads';

/**
 * The full-content pass in one process, segments of all tables a few at a time: what the
 * verification workflow does with one activity per segment, for tests and bench:verify.
 */
export async function verifyContentInProcess(opts: {
  source: SourceAdapter;
  targetUrl: string;
  mapping: Mapping;
  tables?: string[];
  segmentRows: number;
  concurrency: number;
  /** run the source side on this many worker threads (same legacy URL and mapping file); none = this thread */
  threads?: { size: number; legacyUrl: string; mappingFile: string };
}): Promise<SegmentResult[]> {
  const { source, targetUrl, mapping } = opts;
  const sourceThreads = opts.threads?.size ? new SourceThreadPool(opts.threads.size, opts.threads.legacyUrl, opts.threads.mappingFile) : undefined;
  await withClient(targetUrl, ensureVerificationIndexes);
  const readPoint = await source.readPoint();
  const work = await planSegments(source, mapping, opts.tables ?? mapping.tables.map((t) => t.name), opts.segmentRows);
  const results: SegmentResult[] = [];
  let next = 0;
  const lane = () =>
    withClient(targetUrl, async (target) => {
      const keyCollate = await prepareTargetSession(target);
      while (next < work.length) {
        const { table, segment } = work[next++];
        results.push(await verifySegment({ source, target, mapping, table: findTable(mapping, table), segment, readPoint, keyCollate, sourceThreads }));
      }
    });
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, lane));
  } finally {
    await sourceThreads?.close();
  }
  return results;
}
