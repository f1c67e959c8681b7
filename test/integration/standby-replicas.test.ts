import { Client } from 'pg';
import { withClient } from '../../lib/db';
import { compareSegment, planStandbySegments } from '../../standby/consistency';
import { DIALECTS } from '../../standby/dialect';
import { healthAlerts, replicationHealth } from '../../standby/health';
import { pgStandby } from '../../standby/replicas';
import { checkConsistencyInProcess } from '../../standby/run-check';
import { findTable } from '../../migration/mapping';
import { prepareTargetSession } from '../../verification/canonical';
import { caughtUp, DR_URL, ensureStandbyEnv, mapping, PRIMARY_URL, startWriter, STANDBY_URL, TEST_LAYOUT, TEST_PORTS, url } from '../support/standby-env';

/**
 * 备点库 on real replicas made by scripts/pg-standby.sh: a primary of our own, a streaming standby and the
 * DR copy. Replication health, the consistency check under a live writer, a standby-side change caught and
 * pinpointed, and a stopped standby raising its alert.
 */
const d = DIALECTS.postgresql;
const THRESHOLDS = { lagBytes: 64 << 20, lagSeconds: 60, retainedWalBytes: 1 << 30 };
const CHECK = { dialect: d, segmentRows: 500, concurrency: 2, recheckRounds: 3, catchUpTimeoutMs: 30_000 };

const health = (standbyUrl: string, applicationName: string, slot: string) =>
  withClient(PRIMARY_URL, async (primary) => {
    const standby = new Client({ connectionString: standbyUrl, connectionTimeoutMillis: 3000 });
    let error: string | undefined;
    const connected = await standby.connect().then(
      () => standby,
      (err: Error) => ((error = err.message), null),
    );
    try {
      return await replicationHealth({ primary, standby: connected, standbyError: error, dialect: d, applicationName, slot });
    } finally {
      await connected?.end();
    }
  });

beforeAll(async () => {
  await ensureStandbyEnv();
}, 300_000);

it('the script is idempotent and the standby and DR copy stream (pg_stat_replication, pg_last_wal_replay_lsn)', async () => {
  const again = await pgStandby(TEST_LAYOUT, ['up']);
  expect(again.actions.join('\n')).toMatch(/primary answers .*left as it is/);
  expect(again.actions.join('\n')).not.toMatch(/pg_basebackup|initdb/);
  const status = (await pgStandby(TEST_LAYOUT, ['status'])).stdout;
  expect(status).toMatch(new RegExp(`^standby port=${TEST_PORTS.standby} running standby$`, 'm'));
  expect(status).toMatch(new RegExp(`^dr port=${TEST_PORTS.dr} running standby$`, 'm'));
  const h = await health(STANDBY_URL, 'standby', TEST_LAYOUT.slot);
  expect(h.streaming).toBe(true);
  expect(h.standby).toMatchObject({ reachable: true, inRecovery: true });
  expect(h.slot).toMatchObject({ exists: true, active: true });
  expect(h.lagBytes).toBeGreaterThanOrEqual(0);
  expect(healthAlerts(h, THRESHOLDS, 'standby')).toEqual([]);
  const dr = await health(DR_URL, 'dr', TEST_LAYOUT.drSlot);
  expect(dr.streaming).toBe(true);
  // rows written on the primary arrive on the standby
  const counts = await Promise.all([PRIMARY_URL, STANDBY_URL].map((u) => withClient(u, async (c) => Number((await c.query('SELECT count(*) FROM market_entity')).rows[0].count))));
  expect(counts[0]).toBeGreaterThan(0);
  expect(counts[1]).toBe(counts[0]);
});

it('a check under a live writer reports every table consistent, without false alarms', async () => {
  const writer = startWriter();
  await new Promise((r) => setTimeout(r, 300));
  let result;
  try {
    result = await checkConsistencyInProcess({ primaryUrl: PRIMARY_URL, standbyUrl: STANDBY_URL, mapping, ...CHECK });
  } finally {
    const writes = await writer.stop();
    expect(writes).toBeGreaterThan(20);
  }
  expect(result.catchUp.reached).toBe(true);
  expect(result.segments.filter((s) => !s.ok)).toEqual([]);
  expect(result.tables.map((t) => t.table).sort()).toEqual(mapping.tables.map((t) => t.name).sort());
  for (const t of result.tables) expect(t.primaryRows).toBeGreaterThan(0);
  expect(result.segments.length).toBeGreaterThan(mapping.tables.length);
});

it('a row changed on the standby side only (a promoted copy) is caught and pinpointed to its segment and key', async () => {
  await pgStandby(TEST_LAYOUT, ['remove', 'tamper']).catch(() => undefined);
  await caughtUp(STANDBY_URL);
  await pgStandby(TEST_LAYOUT, ['clone', 'standby', 'tamper', String(TEST_PORTS.tamper)]);
  await pgStandby(TEST_LAYOUT, ['promote', 'tamper']);
  const tamperUrl = url(TEST_PORTS.tamper);
  try {
    const victim = await withClient(PRIMARY_URL, async (c) => (await c.query(`SELECT pripid FROM market_entity ORDER BY pripid COLLATE "C" OFFSET 137 LIMIT 1`)).rows[0].pripid as string);
    await withClient(tamperUrl, async (c) => {
      for (let i = 0; i < 50; i++) {
        const r = await c.query('SELECT pg_is_in_recovery() AS r');
        if (!r.rows[0].r) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      await c.query(`UPDATE market_entity SET entname = entname || '（篡改）' WHERE pripid = $1`, [victim]);
    });
    const result = await checkConsistencyInProcess({ primaryUrl: PRIMARY_URL, standbyUrl: tamperUrl, mapping, ...CHECK, catchUpTimeoutMs: 2000 });
    expect(result.catchUp.promoted).toBe(true);
    const bad = result.segments.filter((s) => !s.ok);
    expect(bad).toHaveLength(1);
    expect(bad[0].table).toBe('market_entity');
    expect(bad[0].differences).toHaveLength(1);
    expect(bad[0].differences[0]).toMatchObject({ kind: 'changed', key: victim });
    expect(bad[0].differences[0].fields).toEqual([expect.objectContaining({ column: 'entname', target: expect.stringMatching(/（篡改）$/) })]);
    // the key lies in the reported segment's range
    expect(bad[0].keyFrom === null || Buffer.compare(Buffer.from(victim), Buffer.from(bad[0].keyFrom)) > 0).toBe(true);
    expect(bad[0].keyTo === null || Buffer.compare(Buffer.from(victim), Buffer.from(bad[0].keyTo)) <= 0).toBe(true);
    expect(result.tables.find((t) => t.table === 'market_entity')).toMatchObject({ ok: false, differingSegments: 1 });

    // a row only the copy has is named too
    await withClient(tamperUrl, (c) => c.query(`INSERT INTO entity_change (altid, pripid, altitem, altdate) VALUES ('ZZ-only-on-copy', $1, '名称', current_date)`, [victim]));
    const table = findTable(mapping, 'entity_change');
    const segs = await planStandbySegments(PRIMARY_URL, mapping, ['entity_change'], 100_000);
    const last = segs[segs.length - 1].segment;
    const extra = await withClient(PRIMARY_URL, (primary) =>
      withClient(tamperUrl, async (standby) => {
        const keyCollate = await prepareTargetSession(primary);
        return compareSegment({ primary, standby, keyCollate, dialect: d, table, segment: last, recheckRounds: 1, catchUpTimeoutMs: 1000 });
      }),
    );
    expect(extra.ok).toBe(false);
    expect(extra.differences).toEqual([expect.objectContaining({ kind: 'extra_in_target', key: 'ZZ-only-on-copy' })]);
  } finally {
    await pgStandby(TEST_LAYOUT, ['remove', 'tamper']);
  }
});

it('a stopped standby raises the not-streaming and unreachable alerts, each saying what to do', async () => {
  await pgStandby(TEST_LAYOUT, ['stop', 'standby']);
  try {
    const h = await health(STANDBY_URL, 'standby', TEST_LAYOUT.slot);
    expect(h.streaming).toBe(false);
    expect(h.slot).toMatchObject({ exists: true, active: false });
    const alerts = healthAlerts(h, THRESHOLDS, 'standby');
    expect(alerts.map((a) => a.kind).sort()).toEqual(['not_streaming', 'standby_unreachable']);
    for (const a of alerts) expect(a.action).toMatch(/start|Start/);
    // retained WAL over a (tiny) threshold is its own alert
    expect(healthAlerts({ ...h, slot: { ...h.slot, retainedWalBytes: 10 } }, { ...THRESHOLDS, retainedWalBytes: 1 }, 'standby').map((a) => a.kind)).toContain('retained_wal');
  } finally {
    await pgStandby(TEST_LAYOUT, ['start', 'standby']);
  }
  await caughtUp(STANDBY_URL);
  expect((await health(STANDBY_URL, 'standby', TEST_LAYOUT.slot)).streaming).toBe(true);
});
