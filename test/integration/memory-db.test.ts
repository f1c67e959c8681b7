import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { createClient } from 'redis';
import type { ActivityDeps } from '../../activities/deps';
import { memoryDbActivities, MemoryDbCheck, MemoryDbFlush, MemoryDbWarm } from '../../activities/memory-db';
import { dropDatabase, ensureDatabase, withClient } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { loadMemoryDb, MemoryDbConfig } from '../../environment/memory-db';
import { loadPlanDefinition } from '../../plan/definition';
import { loadSettings } from '../../lib/settings';
import { loadMapping } from '../../migration/mapping';
import { PostgresSource } from '../../migration/pg-source';
import { ensureTargetSchema } from '../../migration/target-schema';
import { inActivity } from '../support/activity-context';
import { closedPort } from '../support/loopback';

/**
 * 内存数据库 on the real Redis (127.0.0.1:6379, shared: every key here lives under this run's own
 * prefix) and the real PostgreSQL: the check reads the server's real settings, the flush deletes the
 * application's keys and nothing else, and the warm-up writes exactly the target's rows.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG = 'postgres://postgres@127.0.0.1:5432';
const id = `t${Date.now().toString(36)}${process.pid}`;
const targetUrl = `${PG}/${id}_mdb_target`;
const app = `${id}:app:`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-memdb-'));
const redis = createClient({ url: REDIS_URL });

function configFile(body: object): string {
  const file = path.join(dir, `memory-db-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(body));
  return file;
}

const goodConfig = () => ({
  enabled: true,
  url: `${REDIS_URL}/0`,
  prefixes: [app],
  batch: 100,
  warmUp: [
    {
      name: '在营市场主体 active entities',
      table: 'market_entity',
      keyColumn: 'pripid',
      columns: ['pripid', 'uniscid', 'entname', 'regstate', 'regcap'],
      keyPrefix: `${app}entity:`,
      filter: { regstate: '1' },
    },
  ],
});

function depsWith(memoryDb: MemoryDbConfig | undefined): ActivityDeps {
  const settings = loadSettings({ LOG_LEVEL: 'silent', TARGET_DATABASE_URL: targetUrl }, { signing: false });
  return {
    settings,
    mapping: loadMapping(settings.MAPPING_FILE),
    logger: createLogger('test', 'silent'),
    legacySource: new PostgresSource(settings.LEGACY_DATABASE_URL), // never opened here
    project: { plan: loadPlanDefinition(settings.PLAN_FILE), flows: { timeoutMs: 1000, flows: [] }, systems: { systems: [] } as never },
    services: { services: [], legacySmokeTests: [] },
    memoryDb,
  };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) out.push(...keys);
  return out.sort();
}

// Entities as the target holds them, from generated text (any Unicode, quotes, empty strings) and NULLs.
const rows = fc.sample(
  fc.record({
    // eslint-disable-next-line no-control-regex -- strips NUL, which PostgreSQL text cannot hold
    entname: fc.string({ unit: 'grapheme', minLength: 0, maxLength: 30 }).map((t) => t.replace(/\u0000/g, '')), // PostgreSQL text holds no NUL
    uniscid: fc.option(fc.stringMatching(/^[0-9A-HJ-NPQRTUWXY]{18}$/), { nil: null }),
    regstate: fc.constantFrom('1', '1', '2', '4'),
    regcap: fc.option(fc.integer({ min: 0, max: 10 ** 9 }).map((n) => (n / 100).toFixed(2)), { nil: null }),
  }),
  { numRuns: 400, seed: 16 },
).map((r, i) => ({ pripid: `P${String(i).padStart(6, '0')}`, ...r }));

beforeAll(async () => {
  await redis.connect();
  await ensureDatabase(targetUrl);
  await withClient(targetUrl, async (c) => {
    await ensureTargetSchema(c, loadMapping(loadSettings({}, { signing: false }).MAPPING_FILE));
    for (const r of rows) {
      await c.query(`INSERT INTO market_entity (pripid, entname, uniscid, enttype, regstate, regcap) VALUES ($1, $2, $3, '1100', $4, $5)`, [r.pripid, r.entname, r.uniscid, r.regstate, r.regcap]);
    }
  });
});

afterAll(async () => {
  if (redis.isOpen) {
    const mine = await keysUnder(`${id}:`);
    if (mine.length) await redis.unlink(mine);
    await redis.quit();
  }
  await dropDatabase(targetUrl);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('内存数据库 in-memory database (real Redis, real PostgreSQL)', () => {
  it('the environment check reports the server’s real version, memory policy and persistence', async () => {
    const a = inActivity(memoryDbActivities(depsWith(loadMemoryDb(configFile(goodConfig())))));
    const check = (await a.checkMemoryDb()) as MemoryDbCheck;
    const info = await redis.info('server');
    expect(check.version).toBe(/redis_version:(\S+)/.exec(info)![1]);
    expect(check.maxmemoryPolicy).toBe((await redis.configGet('maxmemory-policy'))['maxmemory-policy']);
    expect(check.persistence).toEqual({
      rdbSave: (await redis.configGet('save')).save,
      aof: (await redis.configGet('appendonly')).appendonly === 'yes',
      appendfsync: (await redis.configGet('appendfsync')).appendfsync,
    });
    expect(check.url).toBe(`${REDIS_URL}/0`);
  });

  it('flushes the application’s prefixes only: planted stale keys gone, other prefixes untouched', async () => {
    // 2,345 stale keys of several types under the application's prefix (more than one SCAN page at batch 100) …
    const stale = Array.from({ length: 2345 }, (_, i) => `${app}${['entity:', 'code:', 'session:', ''][i % 4]}${i}`);
    for (let i = 0; i < stale.length; i += 500) {
      const m = redis.multi();
      for (const k of stale.slice(i, i + 500)) {
        if (k.includes('entity:')) m.hSet(k, { entname: 'stale' });
        else if (k.includes('code:')) m.rPush(k, 'x');
        else m.set(k, 'stale');
      }
      await m.exec();
    }
    // … and keys the application does not own, some of them close to its prefix.
    const others = [`${id}:app2:x`, `${id}:apP:x`, `${id}:ap`, `${id}:other:app:x`, `${id}:app`, `${id}:app*`];
    for (const k of others) await redis.set(k, 'keep');

    const a = inActivity(memoryDbActivities(depsWith(loadMemoryDb(configFile(goodConfig())))));
    const r = (await a.flushMemoryDb({ runId: 'r1', why: 'after the migration' })) as MemoryDbFlush;
    expect(r).toEqual({ deleted: { [app]: stale.length }, total: stale.length });
    expect(await keysUnder(app)).toEqual([]);
    for (const k of others) expect(await redis.get(k)).toBe('keep');
    // Nothing left to delete: a second flush (an activity retry) counts zero and changes nothing.
    expect(await a.flushMemoryDb({ runId: 'r1', why: 'retry' })).toEqual({ deleted: { [app]: 0 }, total: 0 });
    for (const k of others) expect(await redis.get(k)).toBe('keep');
  });

  it('warms from the target: one hash per filtered row, equal to the row (NULLs left out), and no stale entity survives a flush + warm', async () => {
    await redis.hSet(`${app}entity:GONE`, { entname: 'an entity the target no longer has' });
    await redis.hSet(`${app}entity:P000000`, { entname: 'stale name', extra: 'stale field' });
    const a = inActivity(memoryDbActivities(depsWith(loadMemoryDb(configFile(goodConfig())))));
    await a.flushMemoryDb({ runId: 'r2', why: 'after the rollback' });
    const warm = (await a.warmMemoryDb({ runId: 'r2' })) as MemoryDbWarm;

    const active = await withClient(targetUrl, async (c) =>
      (await c.query(`SELECT pripid, uniscid, entname, regstate, regcap::text AS regcap FROM market_entity WHERE regstate = '1' ORDER BY pripid`)).rows as Record<string, string | null>[],
    );
    expect(active.length).toBeGreaterThan(100);
    expect(warm).toEqual({ items: [{ name: '在营市场主体 active entities', table: 'market_entity', keys: active.length }], total: active.length });
    expect(await keysUnder(`${app}entity:`)).toEqual(active.map((r) => `${app}entity:${r.pripid}`).sort());
    for (const row of active) {
      const expected = Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null));
      expect(await redis.hGetAll(`${app}entity:${row.pripid}`)).toEqual(expected);
    }
  });

  it('not configured: each step says so and touches nothing', async () => {
    const a = inActivity(memoryDbActivities(depsWith({ ...loadMemoryDb(configFile(goodConfig())), enabled: false })));
    await redis.set(`${app}kept`, 'v');
    expect(await a.flushMemoryDb({ runId: 'r3', why: 'x' })).toEqual({ notConfigured: expect.stringContaining('no in-memory database') });
    expect(await redis.get(`${app}kept`)).toBe('v');
  });

  it('an unreachable server fails with its address and cause, without the password', async () => {
    const port = await closedPort();
    const a = inActivity(memoryDbActivities(depsWith(loadMemoryDb(configFile({ ...goodConfig(), url: `redis://127.0.0.1:${port}/0` })))));
    await expect(a.flushMemoryDb({ runId: 'r4', why: 'x' })).rejects.toThrow(new RegExp(`the in-memory database at redis://127\\.0\\.0\\.1:${port}/0 is not reachable: .*ECONNREFUSED`));
  });

  it('refuses a bad configuration at load, naming each problem by its JSON path', () => {
    const bad = {
      ...goodConfig(),
      url: 'redis://:secret@127.0.0.1:6379',
      prefixes: [app, `${app}entity:`, 'no-colon', 'glob*:'],
      extra: true,
      warmUp: [{ ...goodConfig().warmUp[0], keyPrefix: 'elsewhere:', columns: ['entname'] }],
    };
    let message = '';
    try {
      loadMemoryDb(configFile(bad));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('url: must not carry a password: set MEMORY_DB_PASSWORD instead');
    expect(message).toContain('prefixes[2]: expected a key prefix');
    expect(message).toContain('prefixes[3]: expected a key prefix');
    expect(message).toContain('extra: unknown property (known: description, enabled, url, prefixes, warmUp, batch)');
    expect(message).not.toContain('secret');
    // Once the shape is right, the cross-field rules: a warm-up outside the owned prefixes, a nested prefix, the key column.
    let second = '';
    try {
      loadMemoryDb(configFile({ ...goodConfig(), prefixes: [app, `${app}entity:`], warmUp: bad.warmUp }));
    } catch (err) {
      second = (err as Error).message;
    }
    expect(second).toContain('warmUp[0].keyPrefix: "elsewhere:" is under none of the prefixes');
    expect(second).toContain('warmUp[0].columns: must include the keyColumn "pripid"');
    expect(second).toContain(`prefixes[1]: "${app}entity:" lies inside prefixes[0]`);
  });
});
