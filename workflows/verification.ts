import { proxyActivities, RetryPolicy, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { RunbookKind, RunbookPhase, RunbookStatus } from './search-attributes';
import type { Activities } from '../activities';
import type { SegmentResult } from '../verification/content';
import type { BusinessTestResult } from '../verification/business-tests';
import type { SampleResult } from '../verification/sampling';
import { VerificationInput, VerificationOutcome, VerificationProgress, verificationProgressQuery } from './verification-messages';

/**
 * 迁移结果验证 Verification of the worker's legacy/target pair, on its own (API) or as the cutover's
 * verify step: counts, full-content checksums per key-range segment (one activity each, a few at a
 * time), stratified sampling, business tests, and the report. The verdict is the report's; this
 * function only orders the work.
 */
const RETRY: RetryPolicy = { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 10 };
/** Failed segments kept in full in the workflow: the rest are counted, so history stays small. */
const FAILED_SEGMENTS_KEPT = 40;

export async function verification(input: VerificationInput): Promise<VerificationOutcome> {
  const label = input.stepLabel ? `${input.stepLabel} · ` : '';
  const act = (summary: string, long = false) =>
    proxyActivities<Activities>({
      startToCloseTimeout: long ? '2 hours' : '30 minutes',
      // Every verification activity beats (activities/verification.ts): a worker killed in the middle of the
      // counts or the sample is replaced within two minutes, not after the half hour (drill:faults found it).
      heartbeatTimeout: '2 minutes',
      retry: RETRY,
      summary: `${label}${summary}`,
    });
  const startedAt = new Date().toISOString();
  const progress: VerificationProgress = { runId: input.runId, phase: 'plan', segments: 0, segmentsDone: 0, segmentsFailed: 0 };
  setHandler(verificationProgressQuery, () => progress);
  const show = () =>
    setCurrentDetails(`### 迁移结果验证 Verification ${input.runId}: ${progress.phase}\n\nsegments ${progress.segmentsDone}/${progress.segments} verified, ${progress.segmentsFailed} differ`);
  show();

  const plan = await act('验证计划 plan segments').verificationPlan({ tables: input.tables, segmentRows: input.segmentRows ?? 100_000, runId: input.runId });
  progress.segments = plan.segments.length;
  progress.phase = 'counts';
  show();
  const counts = await act('记录数核对 counts').verificationCounts({ tables: plan.tables, readPoint: plan.readPoint });

  progress.phase = 'content';
  show();
  const started = Date.now();
  const kept: SegmentResult[] = [];
  const passed: SegmentResult[] = [];
  let next = 0;
  const lane = async () => {
    while (next < plan.segments.length) {
      const n = next++;
      const { table, segment } = plan.segments[n];
      const r = await act(`全量校验 checksum ${table} · segment ${segment.id} (${n + 1}/${plan.segments.length})`, true).verificationSegment({ table, segment, readPoint: plan.readPoint });
      progress.segmentsDone++;
      if (!r.ok) {
        progress.segmentsFailed++;
        if (kept.length < FAILED_SEGMENTS_KEPT) kept.push(r);
      } else passed.push({ ...r, differences: [] });
      show();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, input.concurrency ?? 2) }, lane));
  const contentMs = Date.now() - started;

  progress.phase = 'sampling';
  show();
  const perType = input.sample?.perType ?? 3;
  const seed = input.sample?.seed ?? input.runId;
  const sample: SampleResult | undefined = perType > 0 ? await act(`抽样 sampling ${perType} per entity type`).verificationSample({ perType, seed }) : undefined;

  progress.phase = 'business-tests';
  show();
  const entities = input.businessTests?.entities ?? 2;
  const business: BusinessTestResult | { skipped: string } =
    entities > 0 && sample
      ? await act('业务测试 business tests: 变更 change, 注销 cancellation').verificationBusinessTests({
          runId: input.runId,
          // the business interface changes and cancels market_entity rows (business-tests.ts); entities of other tables are sampled, not tested
          candidates: sample.entities.filter((e) => e.ok && (e.table === undefined || e.table === 'market_entity')).map((e) => e.pripid),
          entities,
          date: startedAt.slice(0, 10),
        })
      : { skipped: entities > 0 ? 'no sample to test on' : 'not requested (businessTests.entities = 0)' };

  progress.phase = 'report';
  show();
  const written = await act('验证报告 write report').writeVerificationReport({
    runId: input.runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    counts,
    // Passing segments travel without their (empty) difference lists; failed ones with theirs.
    segments: [...passed, ...kept],
    sample,
    business,
    contentMs,
  });
  // Failed segments beyond those kept are still failures: the verdict must not improve by dropping them.
  const dropped = progress.segmentsFailed - kept.length;
  const reasons = dropped > 0 ? [...written.reasons, `${dropped} further differing segments not detailed`] : written.reasons;
  const verdict = dropped > 0 ? 'failed' : written.verdict;
  progress.phase = 'finished';
  show();
  // Ops filter runs in the Web UI by these: the verdict is the status.
  upsertSearchAttributes([
    { key: RunbookKind, value: 'verification' },
    { key: RunbookPhase, value: 'finished' },
    { key: RunbookStatus, value: verdict },
  ]);
  const rowsVerified = [...passed, ...kept].reduce((n, s) => n + s.sourceRows + s.quarantinedRows, 0);
  return {
    runId: input.runId,
    verdict,
    reasons,
    counts: counts.map((c) => ({ table: c.table, source: c.source, loaded: c.loaded, quarantined: c.quarantined, ok: c.ok })),
    segments: plan.segments.length,
    failedSegments: progress.segmentsFailed,
    rowsVerified,
    sampled: sample?.entities.length ?? 0,
    sampleFailures: sample?.entities.filter((e) => !e.ok).length ?? 0,
    sampleForBusinessTests: roundRobinByType(sample?.entities.filter((e) => e.ok) ?? []),
    businessCases: 'cases' in business ? business.cases.length : 0,
    businessFailures: 'cases' in business ? business.cases.filter((c) => !c.ok).length : 0,
    reportFiles: written.files,
    markdown: written.markdown + `\n_workflow ${workflowInfo().workflowId}_\n`,
  };
}

/** The sampled entities one entity type after another (the first of each type, then the second …), so a few business tests cover several types. */
export function roundRobinByType(entities: { pripid: string; enttype: string }[]): string[] {
  const byType = new Map<string, string[]>();
  for (const e of entities) byType.set(e.enttype, [...(byType.get(e.enttype) ?? []), e.pripid]);
  const lists = [...byType.values()];
  const out: string[] = [];
  for (let i = 0; out.length < entities.length; i++) for (const l of lists) if (i < l.length) out.push(l[i]);
  return out;
}
