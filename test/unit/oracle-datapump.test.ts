import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backupActivities } from '../../activities/backup';
import type { ActivityDeps } from '../../activities/deps';
import { createLogger } from '../../lib/logger';
import { loadSettings } from '../../lib/settings';
import type { Mapping, TableMapping } from '../../migration/mapping';
import { checkExpdp, expdpParfile, parseExpdpLog } from '../../migration/oracle/datapump';
import { OracleSource } from '../../migration/oracle/oracle-source';
import { inActivity } from '../support/activity-context';
import { legacyTable, rowsInChunk, ScriptedOracle, scriptedResultSet } from './oracle-scripted';

/**
 * 备份旧库 The Data Pump export as the backup of record: the runbook writes the parameter file with the
 * run's FLASHBACK_SCN, and checks the log and dump files the DBA hands back against its own counts AS OF
 * the same SCN. The log below has the layout expdp 19c writes.
 */
const LOG = `
Export: Release 19.0.0.0.0 - Production on Tue Dec 1 02:00:01 2026
Version 19.3.0.0.0

Copyright (c) 1982, 2019, Oracle and/or its affiliates.  All rights reserved.

Connected to: Oracle Database 19c Enterprise Edition Release 19.0.0.0.0 - Production
Starting "SYSTEM"."SYS_EXPORT_TABLE_01":  system/******** parfile=expdp-run7.par
Processing object type TABLE_EXPORT/TABLE/TABLE_DATA
Processing object type TABLE_EXPORT/TABLE/TABLE
. . exported "JMLEGACY"."E_BASEINFO"                     5.234 MB       2 rows
. . exported "JMLEGACY"."E_APPROVAL":"P2019"             6.07 KB       1 rows
. . exported "JMLEGACY"."E_APPROVAL":"P2020"                 0 KB       0 rows
Master table "SYSTEM"."SYS_EXPORT_TABLE_01" successfully loaded/unloaded
******************************************************************************
Dump file set for SYSTEM.SYS_EXPORT_TABLE_01 is:
  /u01/app/oracle/admin/ORCL/dpdump/jm_run7_01.dmp
Job "SYSTEM"."SYS_EXPORT_TABLE_01" successfully completed at Tue Dec 1 02:03:44 2026 elapsed 0 00:03:41
`;

const table = (name: string, source: string, key: string): TableMapping => ({
  name,
  title: name,
  category: 'entity',
  source: { table: source, key },
  target: { table: name, checks: [] },
  columns: [{ target: key, type: 'numeric', source: key, required: true }],
});
const mapping: Mapping = { tables: [table('market_entity', 'e_baseinfo', 'pripid'), table('approval', 'e_approval', 'apprno')], codeTables: new Map() };

describe('Data Pump parameter file and log', () => {
  it('exports exactly the mapped tables AS OF the run’s SCN, with a log to hand back', () => {
    const par = expdpParfile({ schema: 'jmlegacy', tables: ['e_baseinfo', 'e_approval'], scn: '8124650033', runId: 'run-7' });
    expect(par.split('\n').filter((l) => !l.startsWith('#') && l)).toEqual([
      'TABLES=JMLEGACY.E_BASEINFO,JMLEGACY.E_APPROVAL',
      'FLASHBACK_SCN=8124650033',
      'DIRECTORY=DATA_PUMP_DIR',
      'DUMPFILE=jm_run_7_%U.dmp',
      'LOGFILE=jm_run_7.log',
      'FILESIZE=16G',
      'CONTENT=ALL',
      'EXCLUDE=STATISTICS',
      'METRICS=YES',
    ]);
    expect(() => expdpParfile({ schema: 'jmlegacy', tables: ['e_baseinfo'], scn: '81246;DROP', runId: 'r' })).toThrow(/not an SCN/);
    expect(() => expdpParfile({ schema: 'jm legacy', tables: ['e_baseinfo'], scn: '1', runId: 'r' })).toThrow(/not a usable Oracle identifier/);
  });

  it('reads rows per table (partitions summed) and the job’s outcome', () => {
    const log = parseExpdpLog(LOG);
    expect(Object.fromEntries(log.rows)).toEqual({ 'JMLEGACY.E_BASEINFO': 2, 'JMLEGACY.E_APPROVAL': 1 });
    expect(log.completed).toBe(true);
    expect(log.errors).toEqual([]);
    const failed = parseExpdpLog(
      LOG.replace('successfully completed at', 'completed with 1 error(s) at').replace('Master table', 'ORA-01555: snapshot too old: rollback segment number 9 with name "_SYSSMU9$" too small\nMaster table'),
    );
    expect(failed.completed).toBe(false);
    expect(failed.errors).toEqual([expect.stringMatching(/^ORA-01555/), expect.stringMatching(/completed with 1 error/)]);
  });

  it('every disagreement with the runbook’s counts is a problem, all at once', () => {
    const expected = new Map([
      ['JMLEGACY.E_BASEINFO', 3],
      ['JMLEGACY.E_APPROVAL', 1],
      ['JMLEGACY.E_PERSON', 10],
    ]);
    const problems = checkExpdp(parseExpdpLog(LOG), expected, []);
    expect(problems.map((p) => p.problem)).toEqual([
      'no dump files (*.dmp) were handed back',
      expect.stringMatching(/E_BASEINFO: the export has 2 rows, COUNT\(\*\) AS OF the run's SCN is 3/),
      'JMLEGACY.E_PERSON is not in the export log',
    ]);
  });
});

describe('the backup step hands the export to the DBA and checks what comes back', () => {
  const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-datapump-'));
  afterAll(() => fs.rmSync(backupDir, { recursive: true, force: true }));

  it('writes the parfile at the pinned SCN, then proves the DBA’s log, counts and dump files', async () => {
    const counts: Record<string, number> = { E_BASEINFO: 2, E_APPROVAL: 1 };
    const db = new ScriptedOracle([
      { match: /FROM all_tab_columns/, rows: (b) => [[b.table_name === 'E_BASEINFO' ? 'PRIPID' : 'APPRNO', 'NUMBER', 'N', 20, 0]] },
      { match: /DBMS_FLASHBACK/, rows: [['8124650033']] },
      { match: /ROW_NUMBER\(\)/, rows: [] },
      { match: /^SELECT COUNT\(\*\) AS row_count FROM "JMLEGACY"\."E_BASEINFO" AS OF SCN :read_scn$/, rows: () => [[counts.E_BASEINFO]] },
      { match: /^SELECT COUNT\(\*\) AS row_count FROM "JMLEGACY"\."E_APPROVAL" AS OF SCN :read_scn$/, rows: () => [[counts.E_APPROVAL]] },
      { match: /^SELECT "PRIPID"/, resultSet: () => scriptedResultSet([['1'], ['2']]) },
      { match: /^SELECT "APPRNO"/, resultSet: () => scriptedResultSet([['7']]) },
    ]);
    const settings = loadSettings({ BACKUP_DIR: backupDir, LOG_LEVEL: 'warn' }, { signing: false });
    const legacySource = new OracleSource({ user: 'migr', password: 'pw', connectString: 'db/JMREG', schema: 'jmlegacy' }, db.driver());
    const deps = { settings, mapping, logger: createLogger('test', 'warn'), legacySource } as unknown as ActivityDeps;
    const acts = inActivity(backupActivities(deps));

    const manifest = await acts.backupLegacy({ runId: 'run7' });
    expect(manifest.readPoint).toBe('8124650033');
    const par = fs.readFileSync(manifest.dataPumpParfile!, 'utf8');
    expect(par).toContain('FLASHBACK_SCN=8124650033\n');
    expect(par).toContain('TABLES=JMLEGACY.E_BASEINFO,JMLEGACY.E_APPROVAL\n');

    await expect(acts.checkLegacyDataPump({ runId: 'run7' })).rejects.toThrow(/must hold the export's one \.log file \(found 0\)/);

    const dp = path.join(backupDir, 'run7', 'datapump');
    fs.mkdirSync(dp, { recursive: true });
    fs.writeFileSync(path.join(dp, 'jm_run7.log'), LOG);
    fs.writeFileSync(path.join(dp, 'jm_run7_01.dmp'), 'dump bytes');
    const ok = await acts.checkLegacyDataPump({ runId: 'run7' });
    expect(ok).toMatchObject({ ok: true, readPoint: '8124650033', problems: [], rows: { 'JMLEGACY.E_BASEINFO': 2, 'JMLEGACY.E_APPROVAL': 1 } });
    expect(ok.files).toEqual([{ file: path.join(dp, 'jm_run7_01.dmp'), bytes: 10, sha256: createHash('sha256').update('dump bytes').digest('hex') }]);
    expect(JSON.parse(fs.readFileSync(path.join(dp, 'datapump.json'), 'utf8')).ok).toBe(true);

    // the legacy table grew between the SCN and the count? No: the count is AS OF the same SCN. A dump
    // taken at another SCN shows as a row difference.
    counts.E_BASEINFO = 5;
    const bad = await acts.checkLegacyDataPump({ runId: 'run7' });
    expect(bad.ok).toBe(false);
    expect(bad.problems.map((p) => p.where)).toEqual(['datapump.JMLEGACY.E_BASEINFO']);
    await legacySource.close();
  });
});

describe('the adapter export beside it: every column raw, key then ROWID, chunk by chunk', () => {
  it('keeps unmapped columns and a DATE’s time of day, orders repeated keys by ROWID, and names what it cannot read', async () => {
    const rows = [
      ['1', '江门甲', ' 2003-05-12 14:23:11', Buffer.from([0xca, 0xfe])],
      ['1', '江门甲（迁出）', ' 2003-05-12 00:00:00', null],
      ['2', 'a\tb', null, Buffer.alloc(0)],
    ];
    const db = new ScriptedOracle([
      {
        match: /FROM all_tab_columns/,
        rows: [
          ['PRIPID', 'NUMBER', 'N', 20, 0],
          ['ENTNAME', 'VARCHAR2', 'Y', null, null],
          ['ESTDATE', 'DATE', 'Y', null, null],
          ['PHOTO', 'BLOB', 'Y', null, null],
          ['EXTRA', 'XMLTYPE', 'Y', null, null],
        ],
      },
      { match: /ROW_NUMBER\(\)/, rows: [['1']] },
      { match: /^SELECT "PRIPID", "ENTNAME", TO_CHAR\("ESTDATE", 'SYYYY-MM-DD HH24:MI:SS'\) AS "ESTDATE", "PHOTO" FROM "E_BASEINFO" AS OF SCN :read_scn/, resultSet: (b) => scriptedResultSet(rowsInChunk(rows, b, true)) },
    ]);
    const src = new OracleSource({ user: 'migr', password: 'pw', connectString: 'db/JMREG', fetchArraySize: 2 }, db.driver());
    const { stream, omitted } = await src.exportRaw(legacyTable([{ target: 'pripid', type: 'numeric', source: 'pripid', required: true }]), '4711');
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(
      ['1\t江门甲\t 2003-05-12 14:23:11\t\\\\xcafe', '1\t江门甲（迁出）\t 2003-05-12 00:00:00\t\\N', '2\ta\\tb\t\\N\t\\\\x', ''].join('\n'),
    );
    expect(omitted).toEqual(['EXTRA (XMLTYPE)']);
    const reads = db.executed.filter((e) => e.options.resultSet);
    expect(reads).toHaveLength(2); // (-∞, 1] and (1, +∞): no whole-table sort
    for (const r of reads) {
      expect(r.sql).toMatch(/ORDER BY "PRIPID", ROWID$/);
      expect(r.binds.read_scn).toBe('4711');
    }
    expect(db.allReleased()).toBe(true);
    await src.close();
  });
});
