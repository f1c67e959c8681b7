import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { creditCodeCheck, orgCodeCheck } from '../lib/identifiers';
import { encodeRow, Field } from '../migration/copy-text';
import { pick, seededRandom, weighted } from './prng';

/**
 * A second legacy registry, shaped unlike the bundled one (datagen/legacy-generator.ts), for tests of the
 * engine on a schema it was not written for (issue 13). Pinyin-abbreviated table and column names in
 * their own schema (jmreg), as many provincial systems have them:
 *
 * - 企业基本信息 jmreg.qy_jbxx: a bigint key (qyid, 16 digits), the credit code in CHAR(20) (two blanks of
 *   padding), the type code in CHAR(4) (a three-letter local code is blank-padded), capital numeric(18,4);
 * - 个体工商户 jmreg.gt_jbxx: individual businesses in a table of their own, an integer key, the operator's
 *   name in CHAR(12) (padded);
 * - 变更记录 jmreg.qy_bgjl: a numeric(14,0) key of 2 to 14 digits (9 < 10 as numbers, not as text), the
 *   enterprise's bigint qyid;
 * - 审批申请 jmreg.sp_sqjl: no primary key and no unique index: sqbh is unique by the data alone (the
 *   mapping declares it the key), in a linguistic collation (zh-x-icu) with upper- and lower-case
 *   prefixes; the enterprise as text (qyid varchar); the application type in CHAR(2).
 *
 * - 年报 jmreg.qy_nbxx: annual reports under a composite key (qyid bigint, nbnd CHAR(6) — the year, blank-padded)
 *   and no primary key, only a unique index that lists the key's columns in another order (nbnd, qyid).
 *
 * Planted anomalies at anomalyRate, each counted where the mapping (test/fixtures/registry2/) must put it:
 * an enterprise without a name, with an unknown type code or a negative capital; an individual business
 * without an operator; a change record of an enterprise that never existed; an application of an unknown
 * type. Children of a quarantined enterprise are orphans (orphan:enterprise). Deterministic for a seed.
 */
export const REGISTRY2_SCHEMA = 'jmreg';

const DDL = [
  `CREATE TABLE jmreg.qy_jbxx (
    qyid bigint PRIMARY KEY, tyshxydm char(20), qymc varchar(200), qylx char(4), djjg char(6), clrq date, zczb numeric(18,4), djzt varchar(4))`,
  `CREATE TABLE jmreg.gt_jbxx (
    gtid integer PRIMARY KEY, zch char(15), zhmc varchar(100), jyzxm char(12), jycs varchar(200), djjg char(6), clrq date)`,
  `CREATE TABLE jmreg.qy_bgjl (
    bgid numeric(14,0) PRIMARY KEY, qyid bigint, bgsx varchar(40), bgnr_q text, bgnr_h text, bgrq timestamp)`,
  `CREATE TABLE jmreg.sp_sqjl (
    sqbh varchar(24) COLLATE "zh-x-icu" NOT NULL, qyid varchar(20), sqlx char(2), sqrq date, spr varchar(30))`,
  `CREATE TABLE jmreg.qy_nbxx (
    qyid bigint NOT NULL, nbnd char(6) NOT NULL, zcze numeric(18,2), yysr numeric(18,2), tbrq date)`,
  `CREATE UNIQUE INDEX qy_nbxx_nd_qy ON jmreg.qy_nbxx (nbnd, qyid)`,
];

export const REGISTRY2_TABLES = ['qy_jbxx', 'gt_jbxx', 'qy_bgjl', 'sp_sqjl', 'qy_nbxx'] as const;
export type Registry2Table = (typeof REGISTRY2_TABLES)[number];

export interface Registry2Stats {
  /** per legacy table: rows, and what the migration must quarantine and load flagged by rule if it is right (default policies, migration/anomaly-policy.ts) */
  tables: Record<Registry2Table, { rows: number; expectedQuarantine: Record<string, number>; expectedFlagged: Record<string, number> }>;
}

const DIVISIONS = [['440703', 40], ['440704', 15], ['440705', 20], ['440781', 10], ['440782', 5], ['440783', 10]] as const;
/** local type codes: QY1 is three letters, stored blank-padded in CHAR(4) */
const QYLX = [['1100', 20], ['1130', 40], ['1150', 15], ['QY01', 10], ['QY1', 10], ['NZ01', 5]] as const;
const DJZT = [['KY', 80], ['ZX', 10], ['DX', 5], ['QC', 5]] as const;
const SQLX = [['SL', 50], ['BG', 35], ['ZX', 10], ['Q', 5]] as const;
const SURNAMES = ['陈', '李', '黄', '梁', '张', '吴', '伍', '关'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '强', '磊', '洋', '艳', '勇', '军', '杰'];
const WORDS = ['江门', '蓬江', '新会', '五邑', '侨乡', '恒达', '华盛', '利丰', '鸿运', '金海'];

function creditCode(rand: () => number, division: string): string {
  let org = '';
  for (let i = 0; i < 8; i++) org += String(Math.floor(rand() * 10));
  org += orgCodeCheck(org);
  const body = `91${division}${org}`;
  return body + (creditCodeCheck(body) ?? '0');
}

function date(rand: () => number, fromYear: number, toYear: number): string {
  const y = fromYear + Math.floor(rand() * (toYear - fromYear + 1));
  const m = 1 + Math.floor(rand() * 12);
  const d = 1 + Math.floor(rand() * 28);
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

const count = (rules: Record<string, number>, rule: string) => (rules[rule] = (rules[rule] ?? 0) + 1);

/** (Re)creates the jmreg schema — only it — and loads a generated registry by COPY. */
export async function loadRegistry2(client: Client, opts: { enterprises: number; individuals: number; seed?: number; anomalyRate?: number }): Promise<Registry2Stats> {
  const rand = seededRandom(opts.seed ?? 2);
  const rate = opts.anomalyRate ?? 0.03;
  const empty = () => ({ rows: 0, expectedQuarantine: {}, expectedFlagged: {} });
  const stats: Registry2Stats = { tables: { qy_jbxx: empty(), gt_jbxx: empty(), qy_bgjl: empty(), sp_sqjl: empty(), qy_nbxx: empty() } };
  const rows: Record<Registry2Table, Field[][]> = { qy_jbxx: [], gt_jbxx: [], qy_bgjl: [], sp_sqjl: [], qy_nbxx: [] };
  // the annual reports draw from their own sequence: the other tables stay what they were for a seed
  const rand3 = seededRandom((opts.seed ?? 2) + 1000);
  const name = () => pick(rand, SURNAMES) + pick(rand, GIVEN) + (rand() < 0.5 ? pick(rand, GIVEN) : '');

  let bg = 0;
  let sq = 0;
  for (let i = 0; i < opts.enterprises; i++) {
    const qyid = 4407_0000_0000_0000n + BigInt(i) * 7919n;
    const division = weighted(rand, DIVISIONS);
    let qymc: string | null = `${pick(rand, WORDS)}${pick(rand, WORDS)}${['有限公司', '实业有限公司', '贸易有限公司'][i % 3]}`;
    let qylx: string = weighted(rand, QYLX);
    let zczb = ((1 + Math.floor(rand() * 5_000_000)) / 100).toFixed(4);
    // anomalies on non-key fields: loaded flagged under the default policies, so their children load too
    if (rand() < rate) {
      const kind = i % 3;
      if (kind === 0) {
        qymc = null;
        count(stats.tables.qy_jbxx.expectedFlagged, 'required:entname');
      } else if (kind === 1) {
        qylx = 'ZZZZ';
        count(stats.tables.qy_jbxx.expectedFlagged, 'unmapped_code:enttype');
      } else {
        zczb = `-${zczb}`;
        count(stats.tables.qy_jbxx.expectedFlagged, 'check:regcap');
      }
    }
    rows.qy_jbxx.push([String(qyid), creditCode(rand, division), qymc, qylx, division, date(rand, 1995, 2024), zczb, weighted(rand, DJZT)]);

    // 变更记录: keys of 2 to 14 digits, so numeric and text order disagree
    for (let c = Math.floor(rand() * 4); c > 0; c--) {
      bg++;
      const bgid = BigInt(bg) * 37n + (bg % 4 === 0 ? 10n ** 13n : bg % 4 === 1 ? 10n ** 6n : 0n);
      const orphan = rand() < rate;
      const parent = orphan ? 9999_0000_0000_0000n + BigInt(bg) : qyid;
      if (orphan) count(stats.tables.qy_bgjl.expectedQuarantine, 'orphan:enterprise');
      rows.qy_bgjl.push([String(bgid), String(parent), pick(rand, ['名称', '住所', '法定代表人', '注册资本']), name(), name(), `${date(rand, 2000, 2024)} ${String(Math.floor(rand() * 24)).padStart(2, '0')}:30:00`]);
    }
    // 年报: one report per year for some years; a few name an enterprise that never existed (orphans)
    for (let y = 2014 + Math.floor(rand3() * 6); y <= 2024; y += 1 + Math.floor(rand3() * 3)) {
      const orphan = rand3() < rate;
      if (orphan) count(stats.tables.qy_nbxx.expectedQuarantine, 'orphan:enterprise');
      rows.qy_nbxx.push([String(orphan ? 9999_0000_0000_0000n + BigInt(i) : qyid), String(y), ((rand3() * 1e7) | 0).toFixed(2), ((rand3() * 1e6) | 0).toFixed(2), `${y + 1}-0${1 + Math.floor(rand3() * 6)}-15`]);
    }
    // 审批申请: no primary key; sqbh unique by construction, some lower case (a linguistic collation sorts them among the upper case)
    for (let a = Math.floor(rand() * 3); a > 0; a--) {
      sq++;
      const sqbh = `${sq % 5 === 0 ? 'sq' : 'SQ'}${division}${String(sq).padStart(7, '0')}`;
      let sqlx: string = weighted(rand, SQLX);
      if (rand() < rate) {
        sqlx = 'XX';
        count(stats.tables.sp_sqjl.expectedFlagged, 'unmapped_code:apptype');
      }
      rows.sp_sqjl.push([sqbh, String(qyid), sqlx, date(rand, 2005, 2024), name()]);
    }
  }
  for (let i = 0; i < opts.individuals; i++) {
    const gtid = 100_000 + i * 13;
    const division = weighted(rand, DIVISIONS);
    let jyzxm: string | null = name();
    if (rand() < rate) {
      jyzxm = null;
      count(stats.tables.gt_jbxx.expectedFlagged, 'required:opername');
    }
    const seq = String(i).padStart(8, '0');
    rows.gt_jbxx.push([gtid.toString(), `${division}6${seq}`, rand() < 0.3 ? null : `${pick(rand, WORDS)}${['商行', '小卖部', '五金店', '餐馆'][i % 4]}`, jyzxm, `江门市${pick(rand, WORDS)}路${1 + (i % 200)}号`, division, date(rand, 1990, 2024)]);
  }

  await client.query(`DROP SCHEMA IF EXISTS ${REGISTRY2_SCHEMA} CASCADE`);
  await client.query(`CREATE SCHEMA ${REGISTRY2_SCHEMA}`);
  for (const ddl of DDL) await client.query(ddl);
  for (const table of REGISTRY2_TABLES) {
    stats.tables[table].rows = rows[table].length;
    await pipeline(Readable.from(rows[table].map((r) => encodeRow(r))), client.query(copyFrom(`COPY ${REGISTRY2_SCHEMA}.${table} FROM STDIN`)));
  }
  await client.query(`ANALYZE`);
  return stats;
}
