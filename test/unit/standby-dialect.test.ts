import fc from 'fast-check';
import { Client } from 'pg';
import { detectDialect, DIALECTS, lsnDiffBytes, lsnToBigInt, REPLICATION_DIALECTS } from '../../standby/dialect';

describe('replication dialect table 复制函数方言表', () => {
  it('names the openGauss functions by their xlog/location names and PostgreSQL by wal/lsn', () => {
    expect(DIALECTS.opengauss.lastReplayLsn).toBe('pg_last_xlog_replay_location()');
    expect(DIALECTS.opengauss.currentLsn).toBe('pg_current_xlog_location()');
    expect(DIALECTS.postgresql.lastReplayLsn).toBe('pg_last_wal_replay_lsn()');
    expect(DIALECTS.postgresql.currentLsn).toBe('pg_current_wal_lsn()');
    for (const d of REPLICATION_DIALECTS) for (const v of Object.values(DIALECTS[d])) expect(v).toMatch(/^[a-z_]+(\(\))?$/);
    // no openGauss entry keeps a wal/lsn function name it does not have (restart_lsn is a column both have)
    expect(Object.entries(DIALECTS.opengauss).filter(([k, v]) => k !== 'slotRestartColumn' && /wal|lsn/.test(v))).toEqual([]);
  });

  it('detects the family from version()', () => {
    expect(detectDialect('PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64-pc-linux-gnu')).toBe('postgresql');
    expect(detectDialect('(openGauss 5.0.1 build 33b035fd) compiled at 2023-12-15')).toBe('opengauss');
    expect(detectDialect('PostgreSQL 9.2.4 (Vastbase G100 V2.2)')).toBe('opengauss');
    expect(detectDialect('KingbaseES V008R006C008B0014 on x86_64')).toBe('postgresql');
  });

  it('computes LSN differences as the server does (property, checked against pg_wal_lsn_diff)', async () => {
    const lsn = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff })).map(([hi, lo]) => `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`);
    fc.assert(fc.property(lsn, lsn, (a, b) => lsnDiffBytes(a, b) === -lsnDiffBytes(b, a) && (lsnToBigInt(a) >= lsnToBigInt(b)) === lsnDiffBytes(a, b) >= 0));
    const pairs = fc.sample(fc.tuple(lsn, lsn), 50);
    const client = new Client({ connectionString: process.env.RUNBOOK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    try {
      for (const [a, b] of pairs) {
        const { rows } = await client.query<{ d: string }>(`SELECT ${DIALECTS.postgresql.lsnDiff}($1::pg_lsn, $2::pg_lsn)::text AS d`, [a, b]);
        expect(lsnDiffBytes(a, b)).toBe(Number(rows[0].d));
      }
    } finally {
      await client.end();
    }
    expect(() => lsnToBigInt('0/XYZ')).toThrow(/not an LSN/);
  });
});
