import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { OracleSource } from '../migration/oracle/oracle-source';
import type { ActivityDeps } from './deps';
import { whileBeating } from './heartbeat';

/**
 * 读取点 The run's one legacy read point. The first activity of a run that needs one (the backup, in a
 * cutover) pins it; every later one — each table's plan and chunks, the verification — reads at the same
 * point, so the backup, the migrated tables and the verification are one state of the legacy data even
 * while the legacy application still writes. On Oracle it is an SCN (AS OF SCN); a PostgreSQL legacy has
 * none (null: its snapshots cannot outlive a session, and the cutover stops the legacy application).
 *
 * Kept beside the run's backup (BACKUP_DIR/<runId>/read-point.json), which every worker of the run
 * already shares (the fallback reads the backup there too); linked into place whole, once, so two workers
 * racing to pin agree on the first. A pin made for another kind of legacy database is refused.
 * A run whose SCN grew too old (ORA-01555/08181 are non-retryable) is re-planned as a whole: a new run.
 */
export interface RunReadPoint {
  runId: string;
  /** Oracle SCN; null = no read point (PostgreSQL legacy) */
  readPoint: string | null;
  source: 'postgres' | 'oracle';
  pinnedAt: string;
}

export async function runReadPoint(deps: Pick<ActivityDeps, 'settings' | 'legacySource'>, runId: string): Promise<RunReadPoint> {
  const dir = path.join(deps.settings.BACKUP_DIR, safeSegment(runId));
  const file = path.join(dir, 'read-point.json');
  const existing = readPinned(file);
  if (existing) return sameSource(existing, deps.legacySource.kind, file);
  const pinned: RunReadPoint = { runId, readPoint: await deps.legacySource.readPoint(), source: deps.legacySource.kind, pinnedAt: new Date().toISOString() };
  fs.mkdirSync(dir, { recursive: true });
  // written whole to a private file, then linked into place: link fails if the name exists, so the
  // first pin wins and nobody ever reads a half-written file
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(tmp, JSON.stringify(pinned, null, 2), { mode: 0o444 });
  try {
    fs.linkSync(tmp, file);
    return pinned;
  } catch (err) {
    // another worker pinned it first: theirs is the run's
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return sameSource(readPinned(file)!, deps.legacySource.kind, file);
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Run ids become folder names: refuse anything that could climb out of the backup directory. */
export function safeSegment(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) {
    throw ApplicationFailure.nonRetryable(`run id "${id}" cannot name a backup folder (letters, digits, . _ - only)`, 'BadRunId');
  }
  return id;
}

function sameSource(pinned: RunReadPoint, kind: RunReadPoint['source'], file: string): RunReadPoint {
  if (pinned.source !== kind) {
    throw ApplicationFailure.nonRetryable(
      `${file} pins run ${pinned.runId} to a ${pinned.source} legacy database, but this worker reads ${kind}: the workers of one run must read the same legacy database`,
      'ReadPointMismatch',
    );
  }
  return pinned;
}

function readPinned(file: string): RunReadPoint | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = JSON.parse(text) as RunReadPoint;
  if (parsed.readPoint !== null && !/^\d+$/.test(String(parsed.readPoint))) throw new Error(`${file}: readPoint "${String(parsed.readPoint)}" is not an SCN`);
  return parsed;
}

/** One table's proof that the legacy side did not move after the run's read point. */
export interface UnchangedCheck {
  table: string;
  rowsAtReadPoint: number;
  rowsNow: number;
  rowsInChangedBlocks: number;
  unchanged: boolean;
}

export function readPointActivities(deps: ActivityDeps) {
  return {
    /**
     * 旧库未变更 Before the switch: proves no legacy table changed after the run's SCN (the legacy
     * application really stopped), per table — counts then and now, and rows in blocks changed since.
     * A change means rows the migration did not carry: the report says which tables, the operator decides.
     */
    async proveLegacyUnchanged(input: { runId: string }): Promise<UnchangedCheck[]> {
      const source = deps.legacySource;
      if (!(source instanceof OracleSource)) throw ApplicationFailure.nonRetryable('the unchanged-since-SCN proof reads an Oracle legacy database', 'UnsupportedLegacy');
      const { readPoint } = await runReadPoint(deps, input.runId);
      if (!readPoint) throw ApplicationFailure.nonRetryable(`run ${input.runId} has no SCN read point`, 'NoReadPoint');
      return whileBeating(async () => {
        const out: UnchangedCheck[] = [];
        for (const t of deps.mapping.tables) {
          const c = await source.changesSince(t, readPoint);
          out.push({ table: t.source.table, ...c, unchanged: c.rowsNow === c.rowsAtReadPoint && c.rowsInChangedBlocks === 0 });
        }
        return out;
      });
    },
  };
}
