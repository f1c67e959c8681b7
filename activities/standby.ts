import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { Client as TemporalClient, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import path from 'node:path';
import { Client } from 'pg';
import { withClient } from '../lib/db';
import { redactUrl } from '../lib/settings';
import { temporalConnectionOptions } from '../lib/temporal-connection';
import { findTable } from '../migration/mapping';
import type { Chunk } from '../migration/source';
import { loadStandbyConfig, StandbyConfig } from '../standby/config';
import { compareSegment, planStandbySegments, StandbySegmentResult, waitForReplay, CatchUp } from '../standby/consistency';
import { replicationDialect } from '../standby/dialect';
import { healthAlerts, primaryPosition, ReplicationHealth, replicationHealth, StandbyAlert, standbyReplay } from '../standby/health';
import { pgStandby, portOf, ReplicaLayout, ReplicaScriptRefusal } from '../standby/replicas';
import { readTrend, recordTrend, writeStandbyReport } from '../standby/report';
import { prepareTargetSession } from '../verification/canonical';
import type { StandbyConfigRecord, StandbyCopy, StandbyInput, StandbyState, StreamProof } from '../workflows/standby-messages';
import type { ActivityDeps } from './deps';

/**
 * 备点库 activities over the worker's primary / standby / DR copy (STANDBY_*_URL; connection strings never
 * leave the worker). Reads, except setup (the script is idempotent), the drill's restore and promote (into
 * a fresh instance of their own, never the primary or the standby) and the trend row (written once per run).
 */
const NAME = /^[a-z][a-z0-9_]{0,30}$/;

/** The script can take minutes (a base backup): heartbeat meanwhile, so a live attempt is never presumed dead and retried beside itself. */
async function heartbeating<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => heartbeat(), 5000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export function standbyActivities(deps: ActivityDeps) {
  const { settings, mapping } = deps;
  let loaded: StandbyConfig | undefined;
  const config = () => (loaded ??= deps.standby ?? loadStandbyConfig(settings.STANDBY_FILE));
  const dialect = () => replicationDialect(config().dialect);
  const copyUrl = (copy: StandbyCopy | number) => {
    if (typeof copy === 'number') {
      const u = new URL(settings.STANDBY_DR_URL);
      u.port = String(copy);
      return u.toString();
    }
    return copy === 'dr' ? settings.STANDBY_DR_URL : settings.STANDBY_URL;
  };
  const copyConfig = (copy: StandbyCopy) => (copy === 'dr' ? config().dr : config().standby);
  const layout = (): ReplicaLayout => {
    if (!settings.STANDBY_DIR) throw ApplicationFailure.nonRetryable('STANDBY_DIR is empty: the replicas are managed elsewhere, so this worker cannot build, restore or promote one', 'ReplicasNotLocal');
    const local = (url: string) => ['127.0.0.1', 'localhost'].includes(new URL(url).hostname);
    return {
      dir: settings.STANDBY_DIR,
      primaryPort: portOf(settings.STANDBY_PRIMARY_URL),
      standbyPort: portOf(settings.STANDBY_URL),
      drPort: portOf(settings.STANDBY_DR_URL),
      slot: config().standby.slot,
      drSlot: config().dr.slot,
      externalPrimary: !local(settings.STANDBY_PRIMARY_URL),
    };
  };
  const tables = (requested?: string[]) => {
    const names = requested?.length ? requested : config().scope.tables.length ? config().scope.tables : mapping.tables.map((t) => t.name);
    return names.map((n) => {
      try {
        return findTable(mapping, n).name;
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`tables: ${(err as Error).message}`, 'BadInput');
      }
    });
  };

  /** A session on a copy, or the reason there is none (a stopped standby is a finding, not a failure). */
  async function tryConnect(url: string): Promise<{ client: Client | null; error?: string }> {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return { client };
    } catch (err) {
      return { client: null, error: (err as Error).message.replace(/postgres(ql)?:\/\/\S+/g, '<url>') };
    }
  }

  async function health(copy: StandbyCopy): Promise<{ health: ReplicationHealth; alerts: StandbyAlert[] }> {
    return withClient(settings.STANDBY_PRIMARY_URL, async (primary) => {
      const { client, error } = await tryConnect(copyUrl(copy));
      try {
        const h = await replicationHealth({ primary, standby: client, standbyError: error, dialect: dialect(), applicationName: copyConfig(copy).applicationName, slot: copyConfig(copy).slot });
        return { health: h, alerts: healthAlerts(h, config().thresholds, copyConfig(copy).applicationName) };
      } finally {
        await client?.end().catch(() => undefined);
      }
    });
  }

  return {
    /** 备份的数据内容范围、备份频率、备份路径 as configured, for the run's record. Preflight: a bad file stops here. */
    async standbyConfigRecord(input: { tables?: string[]; checkEveryMinutes?: number }): Promise<StandbyConfigRecord> {
      const c = config();
      return {
        dialect: c.dialect,
        scope: { tables: tables(input.tables), description: c.scope.description },
        frequency: { replication: '连续 continuous streaming replication (WAL, physical slot)', checkEveryMinutes: input.checkEveryMinutes ?? c.checkEveryMinutes },
        paths: {
          primary: redactUrl(settings.STANDBY_PRIMARY_URL),
          standby: redactUrl(settings.STANDBY_URL),
          dr: redactUrl(settings.STANDBY_DR_URL),
          standbyLocation: c.standby.location,
          drLocation: c.dr.location,
        },
        thresholds: c.thresholds,
      };
    },

    /** Build or re-attach the replicas (scripts/pg-standby.sh, idempotent) where this machine manages them. */
    async standbyBuild(): Promise<{ actions: string[] }> {
      if (!settings.STANDBY_DIR) return { actions: ['STANDBY_DIR empty: replicas managed elsewhere; attaching to the configured URLs only'] };
      try {
        return { actions: (await heartbeating(pgStandby(layout(), ['up']))).actions };
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, 'StandbyBuildFailed');
      }
    },

    /** Proof that both copies stream: a position written on the primary now, replayed on each copy. */
    async standbyProveStreaming(input: { timeoutSeconds?: number }): Promise<StreamProof> {
      const d = dialect();
      const primaryLsn = await withClient(settings.STANDBY_PRIMARY_URL, async (c) => {
        await c.query('SELECT txid_current()'); // a commit record: WAL that must reach the copies
        return primaryPosition(c, d);
      });
      const copies: StreamProof['copies'] = [];
      for (const copy of ['standby', 'dr'] as const) {
        const h = await health(copy);
        const { client, error } = await tryConnect(copyUrl(copy));
        if (!client) throw new Error(`${copy} does not answer: ${error}`);
        try {
          const c = await waitForReplay(client, d, primaryLsn, (input.timeoutSeconds ?? 60) * 1000, () => heartbeat());
          copies.push({ copy, replayLsn: c.replayLsn, reached: c.reached, waitedMs: c.waitedMs, streaming: h.health.streaming });
        } finally {
          await client.end();
        }
      }
      const bad = copies.filter((c) => !c.reached || !c.streaming);
      if (bad.length) throw new Error(`not streaming: ${bad.map((c) => `${c.copy} (streaming ${c.streaming}, replayed ${c.replayLsn ?? 'nothing'} of ${primaryLsn})`).join('; ')}`);
      return { primaryLsn, copies };
    },

    /** The scheduled check: every N minutes, overlap skip; re-running setup updates it instead of failing. */
    async standbySchedule(input: { scheduleId: string; everyMinutes: number; requestedBy: string }): Promise<{ scheduleId: string; created: boolean }> {
      const connection = await Connection.connect(temporalConnectionOptions(settings));
      try {
        const client = new TemporalClient({ connection, namespace: settings.TEMPORAL_NAMESPACE });
        const args: StandbyInput[] = [{ runId: input.scheduleId, action: 'check', requestedBy: `schedule:${input.requestedBy}` }];
        const action = { type: 'startWorkflow' as const, workflowType: 'standby', workflowId: `standby-check-${input.scheduleId}`, taskQueue: settings.TASK_QUEUE, args, staticSummary: `备点库巡检 Standby check (every ${input.everyMinutes} min)` };
        const spec = { intervals: [{ every: `${input.everyMinutes} minutes` as const }] };
        try {
          await client.schedule.create({ scheduleId: input.scheduleId, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' } });
          return { scheduleId: input.scheduleId, created: true };
        } catch (err) {
          if (!(err instanceof ScheduleAlreadyRunning)) throw err;
          await client.schedule.getHandle(input.scheduleId).update((prev) => ({ ...prev, spec, action }));
          return { scheduleId: input.scheduleId, created: false };
        }
      } finally {
        await connection.close();
      }
    },

    async standbyHealth(input: { copy: StandbyCopy }): Promise<{ health: ReplicationHealth; alerts: StandbyAlert[] }> {
      return health(input.copy);
    },

    async standbyPlan(input: { tables?: string[] }): Promise<{ tables: string[]; segments: { table: string; segment: Chunk }[]; point: string; concurrency: number; heartbeatSeconds: number }> {
      const names = tables(input.tables);
      // The point first: the standby replays towards it while the segments are planned.
      const point = await withClient(settings.STANDBY_PRIMARY_URL, (c) => primaryPosition(c, dialect()));
      const segments = await planStandbySegments(settings.STANDBY_PRIMARY_URL, mapping, names, config().consistency.segmentRows);
      const { concurrency, heartbeatSeconds } = config().consistency;
      return { tables: names, segments, point, concurrency, heartbeatSeconds };
    },

    /** Waits (heartbeating) until the copy replayed past the check's point; says how it ended. */
    async standbyCatchUp(input: { copy: StandbyCopy | number; point: string }): Promise<CatchUp> {
      return withClient(copyUrl(input.copy), (c) => waitForReplay(c, dialect(), input.point, config().consistency.catchUpTimeoutSeconds * 1000, () => heartbeat()));
    },

    async standbySegment(input: { copy: StandbyCopy | number; table: string; segment: Chunk; point: string }): Promise<StandbySegmentResult> {
      const c = config().consistency;
      return withClient(settings.STANDBY_PRIMARY_URL, (primary) =>
        withClient(copyUrl(input.copy), async (standby) => {
          // A retried segment (a worker died mid-check) checks again that the copy is past the point.
          await waitForReplay(standby, dialect(), input.point, c.catchUpTimeoutSeconds * 1000, () => heartbeat());
          const keyCollate = await prepareTargetSession(primary);
          await prepareTargetSession(standby);
          const r = await compareSegment({
            primary,
            standby,
            keyCollate,
            dialect: dialect(),
            table: findTable(mapping, input.table),
            segment: input.segment,
            recheckRounds: c.recheckRounds,
            catchUpTimeoutMs: c.catchUpTimeoutSeconds * 1000,
            onProgress: () => Context.current().heartbeat(),
          });
          if (!r.ok) deps.logger.warn({ table: r.table, segment: r.segmentId, differences: r.differenceTotals }, 'standby segment differs 备点库分段不一致');
          return r;
        }),
      );
    },

    /** 容灾演练: a fresh instance restored from a base backup of the off-site copy (streams from it until promoted). */
    async standbyDrillRestore(input: { name: string; port: number }): Promise<{ actions: string[]; startedAt: string; restoredAt: string }> {
      if (!NAME.test(input.name) || ['primary', 'standby', 'dr'].includes(input.name)) throw ApplicationFailure.nonRetryable(`drill instance name "${input.name}" refused: a fresh name, never primary/standby/dr`, 'BadInput');
      if ([layout().primaryPort, layout().standbyPort, layout().drPort].includes(input.port)) throw ApplicationFailure.nonRetryable(`port ${input.port} belongs to a running copy`, 'BadInput');
      const startedAt = new Date().toISOString();
      // A retry after a crash: the half-made instance is removed and the restore starts again.
      const l = layout();
      const status = (await pgStandby(l, ['status'])).stdout;
      const existing = new RegExp(`^${input.name} port=${input.port} running standby$`, 'm').test(status);
      if (existing) return { actions: [`${input.name} already restored and in recovery (re-attached)`], startedAt, restoredAt: new Date().toISOString() };
      await pgStandby(l, ['remove', input.name]).catch(() => undefined);
      const { actions } = await heartbeating(pgStandby(l, ['clone', 'dr', input.name, String(input.port)])).catch((err: Error) => {
        throw err instanceof ReplicaScriptRefusal ? ApplicationFailure.nonRetryable(err.message, 'BadInput') : err;
      });
      return { actions, startedAt, restoredAt: new Date().toISOString() };
    },

    /** Promote the drill instance (after the four-eyes gate): positions before, first write after. */
    async standbyDrillPromote(input: { name: string; port: number }): Promise<{ actions: string[]; restorePoint: string | null; primaryLsn: string; rpoBytes: number; rpoSeconds: number | null; promotedAt: string }> {
      const d = dialect();
      const url = copyUrl(input.port);
      // The moment of the "disaster": cut the drill copy off from its upstream, then read both positions.
      const before = await withClient(url, async (c) => {
        const r = await standbyReplay(c, d);
        const ts = await c.query<{ t: Date | null }>(`SELECT ${d.lastReplayTimestamp} AS t`);
        return { ...r, lastCommit: ts.rows[0].t };
      });
      const primary = await withClient(settings.STANDBY_PRIMARY_URL, async (c) => {
        const lsn = await primaryPosition(c, d);
        const bytes = before.replayLsn ? Number((await c.query<{ b: string }>(`SELECT ${d.lsnDiff}($1, $2)::text AS b`, [lsn, before.replayLsn])).rows[0].b) : null;
        // The newest commit on the primary (track_commit_timestamp): lost time is its distance from the copy's
        // last replayed commit. Without it, the time since that commit is the bound (an idle primary inflates it).
        const now = (await c.query<{ n: Date }>('SELECT now() AS n')).rows[0].n;
        const last = await c.query<{ t: Date | null }>('SELECT (pg_last_committed_xact()).timestamp AS t').catch(() => null);
        return { lsn, bytes, now, lastCommit: last?.rows[0]?.t ?? null };
      });
      const { actions } = before.inRecovery ? await heartbeating(pgStandby(layout(), ['promote', input.name])) : { actions: [`${input.name} was already promoted`] };
      await withClient(url, async (c) => {
        for (let i = 0; i < 200; i++) {
          if (!(await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0].r) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await c.query('CREATE TABLE IF NOT EXISTS dr_drill_probe (at timestamptz NOT NULL)');
        await c.query('INSERT INTO dr_drill_probe VALUES (now())');
      });
      const rpoBytes = Math.max(0, primary.bytes ?? 0);
      const newest = primary.lastCommit ?? primary.now;
      const rpoSeconds = rpoBytes === 0 ? 0 : before.lastCommit ? Math.max(0, (newest.getTime() - before.lastCommit.getTime()) / 1000) : null;
      return { actions, restorePoint: before.replayLsn, primaryLsn: primary.lsn, rpoBytes, rpoSeconds, promotedAt: new Date().toISOString() };
    },

    async standbyDrillRemove(input: { name: string }): Promise<{ actions: string[] }> {
      if (!NAME.test(input.name) || ['primary', 'standby', 'dr'].includes(input.name)) throw ApplicationFailure.nonRetryable(`refusing to remove "${input.name}"`, 'BadInput');
      return heartbeating(pgStandby(layout(), ['remove', input.name]));
    },

    /** The run's report files and its row in the trend (one per run); returns the files and the Markdown. */
    async writeStandbyReport(input: { state: StandbyState; workflowId: string }): Promise<{ markdown: string; json: string; html: string; text: string }> {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(input.workflowId)) throw ApplicationFailure.nonRetryable(`workflow id "${input.workflowId}" cannot name a report folder`, 'BadRunId');
      const s = input.state;
      const h = s.health?.find((x) => x) ?? null;
      const trend = await withClient(settings.RUNBOOK_DATABASE_URL, async (c) => {
        if (s.action === 'check' && h) {
          await recordTrend(c, {
            at: h.at,
            workflowId: input.workflowId,
            copy: s.copy,
            lagBytes: h.lagBytes,
            lagSeconds: h.lagSeconds,
            retainedWalBytes: h.slot.retainedWalBytes,
            streaming: h.streaming,
            consistent: s.check ? s.check.consistent : null,
            differingSegments: s.check ? s.check.differingSegments : null,
          });
        }
        return readTrend(c, s.copy);
      });
      return writeStandbyReport(path.join(settings.REPORTS_DIR, 'standby', input.workflowId), s, input.workflowId, trend);
    },
  };
}
