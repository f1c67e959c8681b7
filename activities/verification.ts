import { activityInfo, ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import path from 'node:path';
import { redactUrl } from '../lib/settings';
import { withClient } from '../lib/db';
import { withTarget } from '../lib/statement-audit';
import { findTable } from '../migration/mapping';
import type { Chunk } from '../migration/source';
import { activeEntities, BeforeImage, BusinessTestResult, rollBack, runBusinessTests, takeBeforeImages } from '../verification/business-tests';
import { REFERENCE_BUSINESS_LAYOUT } from '../migration/business-layout';
import { prepareTargetSession } from '../verification/canonical';
import { ensureVerificationIndexes, planSegments, SegmentResult, verifySegment } from '../verification/content';
import { countTable, TableCountCheck } from '../verification/counts';
import { CANONICAL_FORM, decideVerdict, renderMarkdown, summariseContent, VerificationReport, writeReport } from '../verification/report';
import { SampleResult, sampleEntities } from '../verification/sampling';
import { SourceThreadPool } from '../verification/source-threads';
import type { ActivityDeps } from './deps';
import { whileBeating } from './heartbeat';
import { runReadPoint } from './read-point';

/**
 * 迁移结果验证 Verification activities over the worker's legacy/target pair. All read-only except the
 * business tests, which undo their own writes; so every one of them may simply run again on retry.
 */
export interface VerificationPlan {
  tables: string[];
  segments: { table: string; segment: Chunk }[];
  readPoint: string | null;
}

const MARKDOWN_CAP = 200_000;

export function verificationActivities(deps: ActivityDeps) {
  const { settings, mapping } = deps;
  const source = deps.legacySource;
  // Created on first use and kept for the worker's life; threads are unref'd, so they never hold the process.
  let threads: SourceThreadPool | undefined;
  const sourceThreads = () =>
    settings.VERIFY_SOURCE_THREADS > 0 ? (threads ??= new SourceThreadPool(settings.VERIFY_SOURCE_THREADS, settings.LEGACY_DATABASE_URL, settings.MAPPING_FILE, settings.LEGACY_SCHEMA)) : undefined;
  /** Sampling queries the legacy database directly; counts and the content pass go through the adapter. */
  const legacyPg = () => {
    if (!/^postgres(ql)?:/.test(settings.LEGACY_DATABASE_URL)) {
      throw ApplicationFailure.nonRetryable('sampling reads a PostgreSQL legacy database (or staging copy); with an Oracle legacy URL set sample.perType to 0 until it supports Oracle', 'UnsupportedLegacy');
    }
    return settings.LEGACY_DATABASE_URL;
  };

  /**
   * Change and cancellation through the business interface on active entities among the candidates.
   * A retry first undoes what an earlier attempt wrote, from the before-images it heartbeated.
   */
  async function businessTests(input: { runId: string; candidates: string[]; entities: number; date: string; rollBackAfter: boolean }): Promise<BusinessTestResult | { skipped: string }> {
    const baseUrl = settings.BUSINESS_API_URL;
    if (!baseUrl) return { skipped: 'BUSINESS_API_URL is not configured on the worker 未配置业务接口' };
    const layout = mapping.businessTests ?? REFERENCE_BUSINESS_LAYOUT;
    const earlier = activityInfo().heartbeatDetails as { images?: BeforeImage[] } | undefined;
    let taken: BeforeImage[] | undefined;
    // It beats while it works, always carrying the before-images a retry must undo first: this attempt's once
    // taken, until then the earlier attempt's.
    return whileBeating(() => withTarget(settings, async (target) => {
      if (earlier?.images?.length) await rollBack(target, earlier.images, layout);
      const active = await activeEntities(target, input.candidates, layout);
      const chosen = input.candidates.filter((p) => active.has(p)).slice(0, input.entities);
      if (!chosen.length) return { baseUrl, ok: false, rolledBack: input.rollBackAfter, cases: [] };
      const images = await takeBeforeImages(target, input.runId, chosen, layout);
      taken = images;
      heartbeat({ images });
      try {
        const cases = await runBusinessTests({ target, baseUrl, images, date: input.date, layout });
        return { baseUrl, ok: cases.length > 0 && cases.every((c) => c.ok), rolledBack: input.rollBackAfter, cases };
      } finally {
        if (input.rollBackAfter) await rollBack(target, images, layout);
      }
    }), () => (taken ? { images: taken } : earlier));
  }

  return {
    /** runId: verify at the run's read point (read-point.ts), the one its backup and migration read at. */
    async verificationPlan(input: { tables?: string[]; segmentRows: number; runId?: string }): Promise<VerificationPlan> {
      const tables = (input.tables?.length ? input.tables : mapping.tables.map((t) => t.name)).map((n) => {
        try {
          return findTable(mapping, n).name;
        } catch (err) {
          throw ApplicationFailure.nonRetryable(`tables: ${(err as Error).message}`, 'BadInput');
        }
      });
      return whileBeating(async () => {
        await withTarget(settings, ensureVerificationIndexes);
        const readPoint = input.runId ? (await runReadPoint(deps, input.runId)).readPoint : await source.readPoint();
        return { tables, segments: await planSegments(source, mapping, tables, input.segmentRows), readPoint };
      });
    },

    async verificationCounts(input: { tables: string[]; readPoint?: string | null }): Promise<TableCountCheck[]> {
      return whileBeating(() =>
        withTarget(settings, async (target) => {
          const out: TableCountCheck[] = [];
          for (const name of input.tables) out.push(await countTable(source, input.readPoint ?? null, target, findTable(mapping, name), mapping));
          return out;
        }),
      );
    },

    async verificationSegment(input: { table: string; segment: Chunk; readPoint: string | null }): Promise<SegmentResult> {
      return withTarget(settings, async (target) => {
        const keyCollate = await prepareTargetSession(target);
        const result = await verifySegment({
          source,
          target,
          keyCollate,
          sourceThreads: sourceThreads(),
          mapping,
          table: findTable(mapping, input.table),
          segment: input.segment,
          readPoint: input.readPoint,
          // Long segments stay alive (and cancellable) between batches.
          onProgress: (rows) => Context.current().heartbeat({ rows }),
        });
        if (!result.ok) deps.logger.warn({ table: result.table, segment: result.segmentId, differences: result.differenceTotals }, 'segment differs 分段不一致');
        return result;
      });
    },

    async verificationSample(input: { perType: number; seed: string }): Promise<SampleResult> {
      const legacyUrl = legacyPg();
      return whileBeating(() =>
        withClient(legacyUrl, (legacy) =>
          withTarget(settings, async (target) => {
            await prepareTargetSession(target);
            return sampleEntities({ legacy, target, mapping, perType: input.perType, seed: input.seed });
          }),
        ),
      );
    },

    async verificationBusinessTests(input: { runId: string; candidates: string[]; entities: number; date: string }): Promise<BusinessTestResult | { skipped: string }> {
      return businessTests({ ...input, rollBackAfter: true });
    },

    /**
     * 业务测试 on the cutover's snapshotted target: the same change and cancellation, left in place —
     * the cutover's rollback step restores the snapshot, and its checksums prove the tests are gone.
     * On the verification's stratified sample (active ones, round-robin over the entity types).
     */
    async cutoverBusinessTests(input: { runId: string; entities: number; date: string; candidates?: string[] }): Promise<BusinessTestResult | { skipped: string }> {
      // The verification's stratified sample (按照主体类型随机定量抽取) when the run has one; else (a run
      // started before the sample was passed on) the first active entities in key order.
      const candidates =
        input.candidates ??
        (await withTarget(settings, async (target) =>
          (await target.query<{ pripid: string }>(`SELECT pripid FROM market_entity WHERE regstate = '1' ORDER BY pripid LIMIT $1`, [input.entities])).rows.map((r) => r.pripid),
        ));
      // Ids of their own, apart from the verify step's (which rolled its own back already).
      return businessTests({ ...input, runId: `${input.runId}-golive`, candidates, rollBackAfter: false });
    },

    async writeVerificationReport(input: {
      runId: string;
      startedAt: string;
      finishedAt: string;
      counts: TableCountCheck[];
      segments: SegmentResult[];
      sample?: SampleResult;
      business?: BusinessTestResult | { skipped: string };
      contentMs: number;
    }): Promise<{ verdict: VerificationReport['verdict']; reasons: string[]; files: { json: string; markdown: string }; markdown: string }> {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(input.runId)) throw ApplicationFailure.nonRetryable(`run id "${input.runId}" cannot name a report folder`, 'BadRunId');
      const content = summariseContent(input.segments);
      const report: VerificationReport = {
        runId: input.runId,
        verdict: 'incomplete',
        reasons: [],
        startedAt: input.startedAt,
        finishedAt: input.finishedAt,
        legacy: redactUrl(settings.LEGACY_DATABASE_URL),
        target: redactUrl(settings.TARGET_DATABASE_URL),
        canonicalForm: CANONICAL_FORM,
        counts: input.counts,
        content,
        failedSegments: input.segments.filter((s) => !s.ok),
        sample: input.sample,
        business: input.business,
        rowsVerified: content.reduce((n, c) => n + c.sourceRows + c.quarantinedRows, 0),
        contentMs: input.contentMs,
      };
      Object.assign(report, decideVerdict(report));
      const files = writeReport(path.join(settings.REPORTS_DIR, 'verification', input.runId), report);
      const markdown = renderMarkdown(report);
      return { verdict: report.verdict, reasons: report.reasons, files, markdown: markdown.length > MARKDOWN_CAP ? markdown.slice(0, MARKDOWN_CAP) + '\n… (truncated; the full report is in the file)\n' : markdown };
    },
  };
}
