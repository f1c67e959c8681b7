import path from 'node:path';
import { markdownToHtml } from '../../lib/html';
import type { FileReport } from '../run-kinds';

/**
 * The reports the worker writes under REPORTS_DIR, as the kinds that have them serve them: where each
 * lies (activities/reports.ts, activities/verification.ts) and its Markdown also as HTML. A location
 * is built from the run id and fixed names; the only part taken from a run's state as written is the
 * failure analysis' file name, and that only when it has the shape the activity gives it.
 */
const FAILURE_ANALYSIS_FILE = /^failure-analysis-[A-Za-z0-9-]{0,8}\.md$/;

type Locate<State> = (state: State) => string | undefined;

/** A Markdown report, and the same report as HTML and its JSON twin, all found by one locator of the .md file. */
function markdownFamily<State>(name: string, title: string, locate: Locate<State>): Record<string, FileReport<State>> {
  return {
    [`${name}.md`]: { title: `${title} (Markdown)`, contentType: 'text/markdown; charset=utf-8', file: locate },
    [`${name}.html`]: {
      title: `${title} (HTML)`,
      contentType: 'text/html; charset=utf-8',
      file: locate,
      convert: (text, workflowId) => markdownToHtml(text, `${title} — ${workflowId}`),
    },
    [`${name}.json`]: { title: `${title} (JSON)`, contentType: 'application/json; charset=utf-8', file: (s) => locate(s)?.replace(/\.md$/, '.json') },
  };
}

/** 证据包 the cutover's evidence pack: REPORTS_DIR/<runId>/evidence.md and .json. */
export function evidencePack<State extends { runId: string; evidence?: unknown }>() {
  return markdownFamily<State>('evidence', '证据包 Evidence pack', (s) => (s.evidence ? path.join(s.runId, 'evidence.md') : undefined));
}

/** 迁移结果验证报告: REPORTS_DIR/verification/<runId>/verification-report.md and .json. */
export function verificationReport<State extends { runId: string }>(written: (state: State) => boolean) {
  return markdownFamily<State>('verification-report', '验证报告 Verification report', (s) =>
    written(s) ? path.join('verification', s.runId, 'verification-report.md') : undefined,
  );
}

/** 失败原因分析: REPORTS_DIR/<runId>/failure-analysis-<fallback run>.md and .json, as the fallback recorded it. */
export function failureAnalysis<State extends { runId: string }>(writtenAs: (state: State) => string | undefined) {
  return markdownFamily<State>('failure-analysis', '失败原因分析 Failure analysis', (s) => {
    const written = writtenAs(s);
    const name = written && path.basename(written);
    return name && FAILURE_ANALYSIS_FILE.test(name) ? path.join(s.runId, name) : undefined;
  });
}
