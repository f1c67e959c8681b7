import { withClient } from '../lib/db';
import type { Mapping } from '../migration/mapping';
import { findTable } from '../migration/mapping';
import type { Chunk, SourceAdapter } from '../migration/source';
import { prepareTargetSession } from './canonical';
import { ensureVerificationIndexes, SegmentResult, verifySegment } from './content';

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
}): Promise<SegmentResult[]> {
  const { source, targetUrl, mapping } = opts;
  await withClient(targetUrl, ensureVerificationIndexes);
  const readPoint = await source.readPoint();
  const work: { table: string; segment: Chunk }[] = [];
  for (const name of opts.tables ?? mapping.tables.map((t) => t.name)) {
    for (const segment of await source.planChunks(findTable(mapping, name), opts.segmentRows)) work.push({ table: name, segment });
  }
  const results: SegmentResult[] = [];
  let next = 0;
  const lane = () =>
    withClient(targetUrl, async (target) => {
      const keyCollate = await prepareTargetSession(target);
      while (next < work.length) {
        const { table, segment } = work[next++];
        results.push(await verifySegment({ source, target, mapping, table: findTable(mapping, table), segment, readPoint, keyCollate }));
      }
    });
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, lane));
  return results;
}
