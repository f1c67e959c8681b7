import fc from 'fast-check';
import {
  auditStatements,
  CONSTRUCTS,
  DEFAULT_SNAPSHOT,
  detectDialect,
  dialectFits,
  DIALECTS,
  DialectUnsupported,
  insertFragments,
  render,
  StatementName,
  STATEMENTS,
  supports,
} from '../../lib/dialect';
import { loadSettings, snapshotStrategy } from '../../lib/settings';

/** Fragments every entry may ask for, as the product fills them. */
const FRAGMENTS = {
  ...insertFragments('migration_chunk', ['table_name', 'chunk_id', 'run_id', 'rows_read'], ['table_name', 'chunk_id']),
  index: '"migration_quarantine_key"',
  database: '"jm_target_snap"',
  template: '"jm_target"',
};
const VALUES = ['market_entity', 'c0001', 'run-1', 42];

describe('the dialect table (lib/dialect.ts)', () => {
  describe.each(DIALECTS)('%s', (dialect) => {
    it.each(Object.keys(STATEMENTS) as StatementName[])('renders %s in a form the dialect has, or refuses it', (name) => {
      if (!supports(dialect, name)) {
        expect(() => render(dialect, name, FRAGMENTS, VALUES)).toThrow(DialectUnsupported);
        return;
      }
      const stmts = render(dialect, name, FRAGMENTS, VALUES);
      expect(stmts.length).toBeGreaterThan(0);
      for (const s of stmts) {
        expect(s.text).not.toMatch(/\{\w+\}/); // every fragment filled
        const used = [...s.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
        expect(s.values).toHaveLength(used.length ? Math.max(...used) : 0);
      }
      // What the product renders for a dialect never holds a construct that dialect lacks.
      const audit = auditStatements(stmts.map((s) => s.text), dialect);
      expect(audit.lacking).toEqual([]);
      // openGauss is what the rehearsal proves: not even an unconfirmed construct may reach it.
      if (dialect !== 'kingbase') expect(audit.unverified).toEqual([]);
    });
  });

  it('every entry cites a source or is the same everywhere', () => {
    for (const [name, e] of Object.entries(STATEMENTS)) {
      const forms = DIALECTS.map((d) => JSON.stringify(e.forms[d]));
      if (new Set(forms).size > 1 && name !== 'createIndex') expect(e.sources.length).toBeGreaterThan(0);
    }
    for (const c of CONSTRUCTS) {
      const differs = new Set(DIALECTS.map((d) => c.support[d])).size > 1;
      if (differs && Object.values(c.support).includes('no')) expect(c.sources.length).toBeGreaterThan(0);
    }
  });

  it('upserts the chunk ledger with ON CONFLICT on PostgreSQL and KingbaseES, and portably (DELETE + INSERT, keys only) on openGauss', () => {
    expect(render('postgresql', 'upsert', FRAGMENTS, VALUES)).toEqual([
      {
        text: 'INSERT INTO "migration_chunk" ("table_name", "chunk_id", "run_id", "rows_read") VALUES ($1, $2, $3, $4) ON CONFLICT ("table_name", "chunk_id") DO UPDATE SET "run_id" = EXCLUDED."run_id", "rows_read" = EXCLUDED."rows_read"',
        values: VALUES,
      },
    ]);
    expect(render('kingbase', 'upsert', FRAGMENTS, VALUES)).toEqual(render('postgresql', 'upsert', FRAGMENTS, VALUES));
    expect(render('opengauss', 'upsert', FRAGMENTS, VALUES)).toEqual([
      { text: 'DELETE FROM "migration_chunk" WHERE "table_name" = $1 AND "chunk_id" = $2', values: ['market_entity', 'c0001'] },
      { text: 'INSERT INTO "migration_chunk" ("table_name", "chunk_id", "run_id", "rows_read") VALUES ($1, $2, $3, $4)', values: VALUES },
    ]);
  });

  it('gives each statement exactly the values it uses, whatever the key columns and their place', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z_]{0,6}$/), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 255 }),
        (columns, mask) => {
          const conflict = columns.filter((_, i) => (mask >> i) & 1);
          if (!conflict.length) conflict.push(columns[columns.length - 1]);
          const values = columns.map((c) => `v:${c}`);
          const [del, ins] = render('opengauss', 'upsert', insertFragments('t', columns, conflict), values);
          expect(del.values).toEqual(conflict.map((c) => `v:${c}`));
          expect(ins.values).toEqual(values);
          const [absent] = render('opengauss', 'insertIfAbsent', insertFragments('t', columns, conflict), values);
          expect(absent.values).toEqual(values);
          for (const c of conflict) expect(absent.text).toContain(`"${c}" = $${columns.indexOf(c) + 1}`);
        },
      ),
    );
  });

  it('names the guard identity, replication positions and snapshot per dialect', () => {
    expect(render('postgresql', 'identity')[0].text).toContain('pg_control_system()');
    for (const d of ['opengauss', 'kingbase'] as const) expect(render(d, 'identity')[0].text).not.toContain('pg_control_system');
    expect(render('opengauss', 'replayLsn')[0].text).toContain('pg_last_xlog_replay_location()');
    expect(render('postgresql', 'replayLsn')[0].text).toContain('pg_last_wal_replay_lsn()');
    expect(render('opengauss', 'currentLsn')[0].text).toContain('pg_current_xlog_location()');
    expect(render('opengauss', 'lsnDiff', {}, ['0/1', '0/0'])[0].text).toBe('SELECT pg_xlog_location_diff($1, $2)::text AS bytes');
    expect(supports('opengauss', 'copyDatabase')).toBe(false);
    expect(DEFAULT_SNAPSHOT).toEqual({ postgresql: 'template', opengauss: 'undo-log', kingbase: 'undo-log' });
    expect(render('postgresql', 'dropDatabase', FRAGMENTS)[0].text).toBe('DROP DATABASE "jm_target_snap" WITH (FORCE)');
    expect(render('kingbase', 'dropDatabase', FRAGMENTS, ['jm_target_snap']).map((s) => s.text)).toEqual([
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      'DROP DATABASE "jm_target_snap"',
    ]);
  });

  it('detects the dialect from version() strings as the servers print them', () => {
    expect(detectDialect('PostgreSQL 15.14 (Debian 15.14-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc')).toBe('postgresql');
    expect(detectDialect('(openGauss 5.0.1 build 33b035fd) compiled at 2023-12-15 20:28:52 commit 0 last mr   on x86_64-unknown-linux-gnu, compiled by g++ (GCC) 7.3.0, 64-bit')).toBe('opengauss');
    expect(detectDialect('PostgreSQL 9.2.4 (GaussDB Kernel 505.1.0 build 0a0b0c0d) compiled at 2024-01-01 on x86_64')).toBe('opengauss');
    expect(detectDialect('PostgreSQL 9.2.4 (Vastbase G100 V2.2 (Build 10)) on x86_64')).toBe('opengauss');
    expect(detectDialect('KingbaseES V008R006C008B0014 on x86_64-pc-linux-gnu, compiled by gcc (GCC) 4.8.5, 64-bit')).toBe('kingbase');
    expect(detectDialect('MySQL 8.0')).toBeUndefined();
    expect(dialectFits('opengauss', 'postgresql')).toBe(true); // the rehearsal on PostgreSQL
    expect(dialectFits('postgresql', 'opengauss')).toBe(false);
    expect(dialectFits('kingbase', 'opengauss')).toBe(false);
  });

  it('the audit finds what a dialect lacks, and only that', () => {
    const sent = [
      'INSERT INTO migration_chunk (table_name) VALUES ($1) ON CONFLICT (table_name) DO NOTHING',
      'SELECT system_identifier::text AS sysid FROM pg_control_system()',
      'CREATE DATABASE "x_snap" TEMPLATE "x"',
      'CREATE DATABASE "y" TEMPLATE template0',
      'SELECT pg_last_wal_replay_lsn()',
      'SELECT 1',
    ];
    const og = auditStatements(sent, 'opengauss');
    expect(og.clean).toBe(false);
    expect(og.lacking.map((f) => [f.construct, f.statements.length])).toEqual([
      ['on-conflict', 1],
      ['pg-control-system', 1],
      ['create-database-template', 1],
      ['wal-lsn-functions', 1],
    ]);
    expect(auditStatements(sent, 'postgresql')).toMatchObject({ clean: true, lacking: [], unverified: [] });
    expect(auditStatements(['INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE NOTHING'], 'postgresql').lacking.map((f) => f.construct)).toEqual(['on-duplicate-key']);
  });

  it('refuses the template strategy for a dialect without CREATE DATABASE … TEMPLATE, before anything runs', () => {
    expect(() => loadSettings({ TARGET_DIALECT: 'opengauss', TARGET_SNAPSHOT_STRATEGY: 'template' }, { signing: false })).toThrow(/TARGET_SNAPSHOT_STRATEGY: "template" needs CREATE DATABASE … TEMPLATE <database>, which the opengauss dialect does not have/);
    expect(() => loadSettings({ TARGET_DIALECT: 'oracle' }, { signing: false })).toThrow(/TARGET_DIALECT/);
    expect(snapshotStrategy(loadSettings({ TARGET_DIALECT: 'opengauss' }, { signing: false }))).toBe('undo-log');
    expect(snapshotStrategy(loadSettings({}, { signing: false }))).toBe('template');
    expect(snapshotStrategy(loadSettings({ TARGET_SNAPSHOT_STRATEGY: 'undo-log' }, { signing: false }))).toBe('undo-log');
  });
});
