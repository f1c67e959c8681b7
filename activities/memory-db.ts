import { ApplicationFailure } from '@temporalio/activity';
import { createClient } from 'redis';
import { quoteIdent, withClient } from '../lib/db';
import type { MemoryDbConfig, WarmUpItem } from '../environment/memory-db';
import type { ActivityDeps } from './deps';
import { beating } from './heartbeat';

/**
 * 内存数据库 The new system's Redis around the cutover. What it holds about the target is stale after the
 * migration, after the rollback to the snapshot and in a fallback, and serving it would be a wrong
 * answer to a citizen: so the runbook deletes the application's keys — only under its prefixes, by SCAN
 * and UNLINK, never FLUSHALL on a shared server — and warms it from the target before the switch.
 */
export interface MemoryDbCheck {
  url: string;
  version: string;
  mode: string;
  maxmemory: number;
  maxmemoryPolicy: string;
  /** RDB snapshots ("save" rules; '' = off), AOF on/off and its fsync policy */
  persistence: { rdbSave: string; aof: boolean; appendfsync: string };
  /** things an operator should know, said plainly (e.g. an eviction policy that drops keys the application needs) */
  warnings: string[];
}

export interface MemoryDbFlush {
  /** keys deleted per prefix */
  deleted: Record<string, number>;
  total: number;
}

export interface MemoryDbWarm {
  items: { name: string; table: string; keys: number }[];
  total: number;
}

export type MemoryDbOutcome<T> = T | { notConfigured: string };

function redisClient(url: string, password: string | undefined) {
  // A dropped connection fails the activity (it retries); no silent reconnect loop inside one attempt.
  return createClient({ url, password: password || undefined, socket: { connectTimeout: 5000, reconnectStrategy: false } });
}
type Redis = ReturnType<typeof redisClient>;

/** The URL without credentials, for reports and logs. */
function shown(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

export async function withRedis<T>(cfg: MemoryDbConfig, fn: (r: Redis) => Promise<T>, password = process.env.MEMORY_DB_PASSWORD): Promise<T> {
  const client = redisClient(cfg.url, password);
  let lastError: Error | undefined;
  client.on('error', (err: Error) => (lastError = err));
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`内存数据库不可达 the in-memory database at ${shown(cfg.url)} is not reachable: ${(lastError ?? (err as Error)).message}`, { cause: err });
  }
  try {
    return await fn(client);
  } finally {
    if (client.isOpen) await client.quit().catch(() => client.destroy());
  }
}

/** INFO / CONFIG GET as the check reads them. */
function infoField(info: string, name: string): string {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
}

/** Deletes every key under each prefix, a batch at a time; a key outside the prefixes is never sent to UNLINK. */
export async function flushPrefixes(r: Redis, prefixes: string[], batch: number): Promise<MemoryDbFlush> {
  const deleted: Record<string, number> = {};
  for (const prefix of prefixes) {
    deleted[prefix] = 0;
    for await (const keys of r.scanIterator({ MATCH: `${prefix}*`, COUNT: batch })) {
      const mine = keys.filter((k) => k.startsWith(prefix));
      if (mine.length) deleted[prefix] += await r.unlink(mine);
    }
  }
  return { deleted, total: Object.values(deleted).reduce((a, b) => a + b, 0) };
}

/** The warm-up query of one item: its columns as text, filtered, most-read first, limited. */
export function warmUpSql(w: WarmUpItem): { text: string; values: string[] } {
  const filters = Object.entries(w.filter);
  return {
    text: [
      `SELECT ${w.columns.map((c) => `${quoteIdent(c)}::text AS ${quoteIdent(c)}`).join(', ')} FROM ${quoteIdent(w.table)}`,
      filters.length ? `WHERE ${filters.map(([c], i) => `${quoteIdent(c)}::text = $${i + 1}`).join(' AND ')}` : '',
      `ORDER BY ${quoteIdent(w.orderBy ?? w.keyColumn)}${w.desc ? ' DESC' : ''}`,
      w.limit ? `LIMIT ${w.limit}` : '',
    ]
      .filter(Boolean)
      .join(' '),
    values: filters.map(([, v]) => v),
  };
}

export function memoryDbActivities(deps: ActivityDeps) {
  const configured = (): MemoryDbConfig | undefined => (deps.memoryDb?.enabled ? deps.memoryDb : undefined);
  const notConfigured = { notConfigured: 'no in-memory database is configured (MEMORY_DB_FILE enabled: false)' };

  return beating({
    /** 环境检查 reachable, version, memory policy and persistence settings, and the warm-up columns exist in the target. */
    async checkMemoryDb(): Promise<MemoryDbOutcome<MemoryDbCheck>> {
      const cfg = configured();
      if (!cfg) return notConfigured;
      const check = await withRedis(cfg, async (r) => {
        const info = await r.info('server');
        const cfgGet = async (k: string) => ((await r.configGet(k)) as Record<string, string>)[k] ?? '';
        const maxmemory = Number(await cfgGet('maxmemory'));
        const maxmemoryPolicy = await cfgGet('maxmemory-policy');
        const persistence = { rdbSave: await cfgGet('save'), aof: (await cfgGet('appendonly')) === 'yes', appendfsync: await cfgGet('appendfsync') };
        const warnings: string[] = [];
        if (maxmemory === 0) warnings.push('maxmemory is 0 (unlimited): the cache can grow until the host runs out of memory');
        if (maxmemoryPolicy === 'noeviction' && maxmemory > 0) warnings.push('maxmemory-policy noeviction: writes fail once maxmemory is reached');
        if (!persistence.rdbSave && !persistence.aof) warnings.push('no persistence (save "" and appendonly no): a restart empties the cache, which then warms from the target again');
        return { url: shown(cfg.url), version: infoField(info, 'redis_version'), mode: infoField(info, 'redis_mode'), maxmemory, maxmemoryPolicy, persistence, warnings };
      });
      const missing = await withClient(deps.settings.TARGET_DATABASE_URL, async (c) => {
        const out: string[] = [];
        for (const w of cfg.warmUp) {
          const { rows } = await c.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, [w.table]);
          const have = new Set(rows.map((x) => x.column_name));
          for (const col of new Set([...w.columns, ...Object.keys(w.filter), ...(w.orderBy ? [w.orderBy] : [])])) if (!have.has(col)) out.push(`${w.table}.${col} (warm-up "${w.name}")`);
        }
        return out;
      });
      if (missing.length) throw ApplicationFailure.nonRetryable(`内存数据库预热配置错误 the warm-up list names columns the target does not have: ${missing.join(', ')}`, 'MemoryDbConfig');
      return check;
    },

    /** 内存数据库清理 Deletes the application's keys (its prefixes only) and says how many per prefix. */
    async flushMemoryDb(input: { runId: string; why: string }): Promise<MemoryDbOutcome<MemoryDbFlush>> {
      const cfg = configured();
      if (!cfg) return notConfigured;
      const r = await withRedis(cfg, (c) => flushPrefixes(c, cfg.prefixes, cfg.batch));
      deps.logger.warn({ runId: input.runId, why: input.why, deleted: r.deleted }, '内存数据库清理 in-memory database keys of the application deleted');
      return r;
    },

    /** 内存数据库预热 Loads the warm-up list from the target: one hash per row, keyed prefix + key value. */
    async warmMemoryDb(input: { runId: string }): Promise<MemoryDbOutcome<MemoryDbWarm>> {
      const cfg = configured();
      if (!cfg) return notConfigured;
      const items: MemoryDbWarm['items'] = [];
      await withRedis(cfg, (r) =>
        withClient(deps.settings.TARGET_DATABASE_URL, async (c) => {
          for (const w of cfg.warmUp) {
            const { text, values } = warmUpSql(w);
            const { rows } = await c.query<Record<string, string | null>>(text, values);
            for (let i = 0; i < rows.length; i += cfg.batch) {
              const multi = r.multi();
              for (const row of rows.slice(i, i + cfg.batch)) {
                const key = w.keyPrefix + row[w.keyColumn];
                // NULL columns are left out of the hash: Redis has no NULL, and '' would read as a value.
                const fields = Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null)) as Record<string, string>;
                multi.unlink(key);
                multi.hSet(key, fields);
                if (w.ttlSeconds) multi.expire(key, w.ttlSeconds);
              }
              await multi.exec();
            }
            items.push({ name: w.name, table: w.table, keys: rows.length });
          }
        }),
      );
      const total = items.reduce((n, i) => n + i.keys, 0);
      deps.logger.info({ runId: input.runId, items }, '内存数据库预热 in-memory database warmed from the target');
      return { items, total };
    },
  });
}
