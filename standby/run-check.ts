import { withClient } from '../lib/db';
import type { Mapping } from '../migration/mapping';
import { findTable } from '../migration/mapping';
import { prepareTargetSession } from '../verification/canonical';
import { CatchUp, compareSegment, planStandbySegments, StandbySegmentResult, tableAgreement, TableAgreement, waitForReplay } from './consistency';
import type { ReplicationDialect } from './dialect';
import { primaryPosition } from './health';

/**
 * The consistency check in one process, segments a few at a time: what the standby workflow does with one
 * activity per segment, for tests and bench:standby.
 */
export async function checkConsistencyInProcess(opts: {
  primaryUrl: string;
  standbyUrl: string;
  mapping: Mapping;
  tables?: string[];
  dialect: ReplicationDialect;
  segmentRows: number;
  concurrency: number;
  recheckRounds: number;
  catchUpTimeoutMs: number;
}): Promise<{ point: string; catchUp: CatchUp; segments: StandbySegmentResult[]; tables: TableAgreement[] }> {
  const tables = opts.tables?.length ? opts.tables : opts.mapping.tables.map((t) => t.name);
  // The point first, as the plan activity: the standby replays towards it while the segments are planned.
  const point = await withClient(opts.primaryUrl, (c) => primaryPosition(c, opts.dialect));
  const work = await planStandbySegments(opts.primaryUrl, opts.mapping, tables, opts.segmentRows);
  const catchUp = await withClient(opts.standbyUrl, (c) => waitForReplay(c, opts.dialect, point, opts.catchUpTimeoutMs));
  const segments: StandbySegmentResult[] = [];
  let next = 0;
  const lane = () =>
    withClient(opts.primaryUrl, (primary) =>
      withClient(opts.standbyUrl, async (standby) => {
        const keyCollate = await prepareTargetSession(primary);
        await prepareTargetSession(standby);
        while (next < work.length) {
          const { table, segment } = work[next++];
          segments.push(
            await compareSegment({ primary, standby, keyCollate, dialect: opts.dialect, table: findTable(opts.mapping, table), segment, recheckRounds: opts.recheckRounds, catchUpTimeoutMs: opts.catchUpTimeoutMs }),
          );
        }
      }),
    );
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, lane));
  return { point, catchUp, segments, tables: tableAgreement(segments) };
}
