import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import type { ActivityDeps } from '../../activities/deps';
import { targetActivities, UNDO_TRIGGER } from '../../activities/target';
import { dialectOf, insertFragments, render, run } from '../../lib/dialect';
import { loadSettings } from '../../lib/settings';
import { checkTargetDialect, normaliseStatement, recordStatements } from '../../lib/statement-audit';
import { auditStatements, setDialect } from '../../lib/dialect';
import { registerTarget } from '../../lib/target-guard';
import { loadMapping } from '../../migration/mapping';
import { ensureTargetSchema } from '../../migration/target-schema';
import { Client } from 'pg';

/**
 * npm run test:opengauss — the target side against a real openGauss (OPENGAUSS_URL): the dialect is
 * detected from version(), '' stays apart from NULL, the target schema and the chunk ledger's portable
 * upsert run, the guard registers an identity without pg_control_system(), the undo-log snapshot and
 * rollback give the snapshot's checksums back with the triggers removed, the xlog position function
 * answers, and every statement sent is clean for openGauss by the audit. Needs no Temporal server and
 * no legacy database (the legacy URL points nowhere: the guard then has nothing to compare against).
 */
const url = process.env.OPENGAUSS_URL!;
const mapping = loadMapping(path.join(__dirname, '..', '..', 'config', 'mapping.json'));
const settings = loadSettings({
  TARGET_DATABASE_URL: url,
  LEGACY_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/no_legacy',
  // the statement audit of the activities is filed in the same database (portable SQL)
  RUNBOOK_DATABASE_URL: process.env.OPENGAUSS_RUNBOOK_URL ?? url,
  TARGET_DIALECT: 'opengauss',
  LOG_LEVEL: 'silent',
}, { signing: false });

const sent = new Map<string, number>();
async function og<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  recordStatements(c, sent);
  await c.connect();
  setDialect(c, 'opengauss');
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('target side on a real openGauss', () => {
  it('is detected as openGauss, with DBCOMPATIBILITY keeping \'\' apart from NULL', async () => {
    const r = await og((c) => checkTargetDialect(c, 'opengauss'));
    expect(r.detected).toBe('opengauss');
  });

  it('creates the target schema and keeps one ledger row per chunk with the portable upsert', async () => {
    await og(async (c) => {
      for (const t of [...mapping.tables].reverse()) await c.query(`DROP TABLE IF EXISTS "${t.target.table}"`);
      await c.query('DROP TABLE IF EXISTS migration_chunk');
      await ensureTargetSchema(c, mapping);
      const ledger = ['table_name', 'chunk_id', 'run_id', 'key_from', 'key_to', 'rows_read', 'rows_loaded', 'rows_quarantined', 'checksum', 'attempt'];
      for (const attempt of [1, 2]) {
        await c.query('BEGIN');
        await run(c, render(dialectOf(c), 'upsert', insertFragments('migration_chunk', ledger, ['table_name', 'chunk_id'], ['finished_at']), ['market_entity', 'c1', 'og', null, 'K9', 10, 9, 1, 'abc', attempt]));
        await c.query('COMMIT');
      }
      expect((await c.query(`SELECT count(*)::int AS n, max(attempt) AS a FROM migration_chunk`)).rows[0]).toEqual({ n: 1, a: 2 });
      const [lsn] = await run<{ lsn: string }>(c, render('opengauss', 'currentLsn'));
      expect(lsn.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/i);
    });
  });

  it('rolls back by the undo log: checksums equal, triggers removed', async () => {
    await registerTarget(url, settings.LEGACY_DATABASE_URL, 'opengauss-test', 'opengauss');
    await og(async (c) => {
      await c.query(`INSERT INTO market_entity (pripid, entname, enttype, regstate, regcap, estdate) VALUES ('OG-1', '测试一', '1100', '1', 1, DATE '2001-03-05'), ('OG-2', '测试二', '1100', '1', 2, NULL)`);
    });
    const env = new MockActivityEnvironment();
    const acts = targetActivities({ settings, mapping, logger: pino({ level: 'silent' }) } as unknown as ActivityDeps);
    const runId = `og-${Date.now()}`;
    const snap = (await env.run(acts.snapshotTarget, { runId })) as Awaited<ReturnType<typeof acts.snapshotTarget>>;
    expect(snap.strategy).toBe('undo-log');
    await og(async (c) => {
      await c.query(`UPDATE market_entity SET dom = '变更', estdate = DATE '2002-01-01' WHERE pripid = 'OG-1'`);
      await c.query(`DELETE FROM market_entity WHERE pripid = 'OG-2'`);
      await c.query(`INSERT INTO market_entity (pripid, entname, enttype, regstate, regcap) VALUES ('OG-3', '测试三', '1100', '1', 3)`);
    });
    await env.run(acts.rollbackTarget, { runId });
    expect(await env.run(acts.targetChecksums)).toEqual(snap.checksums);
    await og(async (c) => expect((await c.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = $1`, [UNDO_TRIGGER])).rows[0].n).toBe(0));
  });

  it('sent nothing openGauss lacks (the statements of this file)', () => {
    const audit = auditStatements([...sent.keys()].map(normaliseStatement), 'opengauss');
    expect(audit.lacking).toEqual([]);
  });
});
