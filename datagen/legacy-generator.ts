import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { creditCodeCheck, orgCodeCheck, regNoCheck } from '../lib/identifiers';
import { encodeRow, Field } from '../migration/copy-text';
import { entityRandom, pick, weighted } from './prng';

/**
 * A legacy registry as the old Oracle system holds it, in the five data categories the seed names:
 * name reservations, enterprises of every kind and individual businesses, enterprise groups, persons,
 * change history, and approval records (applications, materials, process steps). Valid credit codes
 * and registration numbers, Jiangmen divisions (retired ones too), legacy local code values, and the
 * oddities real legacy data holds — some that cleansing repairs, some planted anomalies at a
 * configurable rate that must end in quarantine. Deterministic for a seed; streamed, never buffered.
 */
export const LEGACY_DDL = [
  `CREATE TABLE e_baseinfo (
    pripid varchar(20) PRIMARY KEY, uniscid varchar(18), regno varchar(15), entname varchar(200),
    enttype varchar(10), regstate varchar(10), regcap varchar(40), regcapcur varchar(3), estdate date,
    apprdate varchar(20), opto varchar(20), dom varchar(400), domdistrict varchar(6), regorg varchar(6), opscope varchar(2000))`,
  `CREATE TABLE e_name_reservation (
    nameid varchar(20) PRIMARY KEY, entname varchar(200), enttype varchar(10), apprdate varchar(20), validto varchar(20), regorg varchar(6))`,
  `CREATE TABLE e_group (
    groupid varchar(20) PRIMARY KEY, groupname varchar(200), pripid varchar(20), regcap varchar(40), estdate date)`,
  `CREATE TABLE e_person (
    personid varchar(24) PRIMARY KEY, pripid varchar(20), name varchar(100), position varchar(10), certype varchar(4), cerno varchar(30))`,
  `CREATE TABLE e_alter (
    altid varchar(24) PRIMARY KEY, pripid varchar(20), altitem varchar(10), altbe varchar(400), altaf varchar(400), altdate varchar(20))`,
  `CREATE TABLE a_application (
    appid varchar(24) PRIMARY KEY, pripid varchar(20), apptype varchar(10), appdate varchar(20), status varchar(10), handler varchar(50))`,
  `CREATE TABLE a_material (
    matid varchar(28) PRIMARY KEY, appid varchar(24), matname varchar(200), pages integer)`,
  `CREATE TABLE a_process (
    procid varchar(28) PRIMARY KEY, appid varchar(24), step varchar(20), handler varchar(50), finished_at timestamp)`,
];

export const LEGACY_TABLES = ['e_baseinfo', 'e_name_reservation', 'e_group', 'e_person', 'e_alter', 'a_application', 'a_material', 'a_process'] as const;
export type LegacyTable = (typeof LEGACY_TABLES)[number];

export interface GenerateOptions {
  /** number of business entities; the whole dataset is about 12 rows per entity */
  entities: number;
  seed?: number;
  /** share of entities (and of applications) planted with an anomaly, 0..1: under the default policies (migration/anomaly-policy.ts) an entity's is loaded flagged, an application naming no entity is quarantined */
  anomalyRate?: number;
}

export interface TableStats {
  rows: number;
  /** what the migration must quarantine, by rule, if it is right (default policies) */
  expectedQuarantine: Record<string, number>;
  /** what it must load flagged, by rule: a data-quality issue each (default policies) */
  expectedFlagged: Record<string, number>;
}
export type DatasetStats = Record<LegacyTable, TableStats>;

/** Rows per entity on average, for sizing a dataset by total rows. */
export const ROWS_PER_ENTITY = 12;

const DIVISIONS = [['440703', 40], ['440704', 15], ['440705', 20], ['440781', 10], ['440782', 5], ['440783', 10], ['440784', 8], ['440785', 7]] as const;
const ENTTYPES = [['1130', 30], ['1150', 10], ['1100', 5], ['QY01', 5], ['1220', 2], ['4531', 2], ['4540', 3], ['5100', 2], ['7200', 1], ['9100', 2], ['9500', 25], ['9999', 13]] as const;
const REGSTATES = [['1', 60], ['1001', 15], ['2', 5], ['4', 10], ['3001', 6], ['6', 2], ['迁出', 2]] as const;
const TRADE_WORDS = ['江海', '五邑', '侨乡', '蓬江', '新会', '台山', '开平', '鹤山', '恩平', '葵乡', '陈皮', '银洲', '圭峰'];
const INDUSTRY = ['贸易', '科技', '电子', '五金', '食品', '物流', '建材', '纺织', '餐饮', '摩托车配件', '水产'];
const STREETS = ['建设路', '港口一路', '胜利路', '迎宾大道', '白沙大道', '冈州大道', '台城环市路'];
const SURNAMES = ['陈', '李', '黄', '梁', '张', '林', '吴', '关', '甄', '司徒'];
const GIVEN = ['伟', '芳', '志强', '丽华', '家豪', '嘉欣', '国平', '少文', '永健', '美玲'];
const POSITIONS = ['410A', '410B', '431A', '432K', '490A']; // 董事长, 执行董事, 经理, 监事, 法定代表人
const ALTITEMS = ['01', '02', '03', '05', '10', '11']; // name, address, legal rep, capital, scope, members
const APPTYPES = [['设立', 40], ['变更', 45], ['注销', 15]] as const;
const STEPS = ['受理', '审查', '核准', '发照'];

/** Anomalies planted on an entity, by the rule each breaks: none is on a key, so under the default policies each loads flagged. */
const ENTITY_ANOMALIES = [
  ['unmapped_code:enttype', 1],
  ['required:entname', 1],
  ['invalid_capital:regcap', 1],
  ['invalid_date:apprdate', 1],
  ['check:regcap', 1], // negative capital: the target's CHECK (regcap >= 0) would refuse it
] as const;

const SALT = { entity: 1, anomaly: 2, name: 3, group: 4, person: 5, alter: 6, app: 7, appAnomaly: 8, material: 9, process: 10 };
const pad = (n: number, w = 10) => String(n).padStart(w, '0');
const pripidOf = (i: number) => `JM${pad(i)}`;
const isoDate = (r: () => number, from = 1988, span = 37) =>
  `${from + Math.floor(r() * span)}-${pad(1 + Math.floor(r() * 12), 2)}-${pad(1 + Math.floor(r() * 28), 2)}`;

class Dataset {
  readonly seed: number;
  readonly rate: number;
  readonly stats = Object.fromEntries(LEGACY_TABLES.map((t) => [t, { rows: 0, expectedQuarantine: {}, expectedFlagged: {} }])) as DatasetStats;

  constructor(readonly opts: GenerateOptions) {
    this.seed = opts.seed ?? 20261125;
    this.rate = opts.anomalyRate ?? 0.01;
  }

  /** The rule entity i breaks (loaded flagged under the default policies), or null. */
  entityAnomaly(i: number): string | null {
    const r = entityRandom(this.seed, SALT.anomaly, i);
    return r() < this.rate ? weighted(r, ENTITY_ANOMALIES) : null;
  }

  /** How many applications entity i has (1-2), and whether application k points at no entity at all. */
  applications(i: number): { count: number; orphan: (k: number) => boolean } {
    const r = entityRandom(this.seed, SALT.appAnomaly, i);
    const count = 1 + Math.floor(r() * 2);
    const orphanDraws = [r(), r()];
    return { count, orphan: (k) => orphanDraws[k - 1] < this.rate / 2 };
  }

  private expect(table: LegacyTable, rule: string | null, flagged: string | null = null) {
    const s = this.stats[table];
    s.rows++;
    if (rule) s.expectedQuarantine[rule] = (s.expectedQuarantine[rule] ?? 0) + 1;
    if (flagged) s.expectedFlagged[flagged] = (s.expectedFlagged[flagged] ?? 0) + 1;
  }

  *entities(): Generator<Field[]> {
    for (let i = 1; i <= this.opts.entities; i++) {
      const r = entityRandom(this.seed, SALT.entity, i);
      const division = weighted(r, DIVISIONS);
      let enttype: string = weighted(r, ENTTYPES);
      const category = enttype === '9500' || enttype === '9999' ? '2' : enttype === '9100' ? '3' : '1';
      let org8 = '';
      for (let k = 0; k < 8; k++) org8 += String(Math.floor(r() * 10));
      const first17 = `9${category}${division}${org8}${orgCodeCheck(org8)}`;
      let uniscid = first17 + creditCodeCheck(first17);
      const oddity = r();
      if (oddity < 0.01) uniscid = uniscid.slice(0, 17) + (uniscid[17] === '0' ? '1' : '0'); // early code failing its checksum: kept, flagged
      const regno14 = `${division}${pad(Math.floor(r() * 1e8), 8)}`;
      const bracket = r() < 0.05 ? '(江门)' : '';
      let entname: string = `江门市${pick(r, TRADE_WORDS)}${pick(r, INDUSTRY)}${i}${bracket}${category === '2' ? '经营部' : '有限公司'}`;
      let regcap: string | null = category === '2' ? null : pick(r, ['50', '100.5', '10万', '5,000.00', '伍拾万元', '3000']);
      let apprdate = pick(r, [isoDate(r), `${1990 + Math.floor(r() * 30)}年${1 + Math.floor(r() * 12)}月${1 + Math.floor(r() * 28)}日`, isoDate(r).replace(/-/g, '')]);
      const anomaly = this.entityAnomaly(i);
      if (anomaly === 'unmapped_code:enttype') enttype = 'X9';
      if (anomaly === 'required:entname') entname = '';
      if (anomaly === 'invalid_capital:regcap') regcap = '约十万左右';
      if (anomaly === 'invalid_date:apprdate') apprdate = '1899-12-31';
      if (anomaly === 'check:regcap') regcap = '-5';
      this.expect('e_baseinfo', null, anomaly);
      yield [
        pripidOf(i), uniscid, regno14 + regNoCheck(regno14), entname, enttype, weighted(r, REGSTATES), regcap,
        category === '2' ? null : '156', isoDate(r), apprdate, r() < 0.7 ? '9999-09-09' : isoDate(r, 2026, 30),
        `广东省江门市${pick(r, STREETS)}${1 + Math.floor(r() * 300)}号`, division, division,
        r() < 0.1 ? '' : '一般项目：销售日用百货；技术服务。（依法须经批准的项目，经相关部门批准后方可开展经营活动）',
      ];
    }
  }

  *nameReservations(): Generator<Field[]> {
    for (let i = 1; i <= this.opts.entities; i++) {
      const r = entityRandom(this.seed, SALT.name, i);
      if (r() >= 0.3) continue;
      this.expect('e_name_reservation', null);
      yield [`N${pad(i)}`, `江门市${pick(r, TRADE_WORDS)}${pick(r, INDUSTRY)}预留${i}有限公司`, weighted(r, ENTTYPES), isoDate(r, 2015, 10), r() < 0.5 ? '9999-12-31' : isoDate(r, 2025, 2), pick(r, DIVISIONS)[0]];
    }
  }

  *groups(): Generator<Field[]> {
    for (let i = 100; i <= this.opts.entities; i += 100) {
      const r = entityRandom(this.seed, SALT.group, i);
      this.expect('e_group', null);
      yield [`G${pad(i)}`, `江门${pick(r, TRADE_WORDS)}企业集团`, pripidOf(i), pick(r, ['5000', '1亿']), isoDate(r, 2000, 25)];
    }
  }

  *persons(): Generator<Field[]> {
    for (let i = 1; i <= this.opts.entities; i++) {
      const r = entityRandom(this.seed, SALT.person, i);
      const n = 1 + Math.floor(r() * 3);
      for (let k = 1; k <= n; k++) {
        this.expect('e_person', null);
        yield [`P${pad(i)}${k}`, pripidOf(i), pick(r, SURNAMES) + pick(r, GIVEN), pick(r, POSITIONS), '10', `4407${pad(Math.floor(r() * 1e8), 8)}${pad(Math.floor(r() * 1e6), 6)}`];
      }
    }
  }

  *changes(): Generator<Field[]> {
    for (let i = 1; i <= this.opts.entities; i++) {
      const r = entityRandom(this.seed, SALT.alter, i);
      const n = Math.floor(r() * 2.4);
      for (let k = 1; k <= n; k++) {
        this.expect('e_alter', null);
        yield [`C${pad(i)}${k}`, pripidOf(i), pick(r, ALTITEMS), `变更前${k}`, `变更后${k}`, pick(r, [isoDate(r, 2005, 20), `${2005 + Math.floor(r() * 20)}年${1 + Math.floor(r() * 12)}月${1 + Math.floor(r() * 28)}日`])];
      }
    }
  }

  /** The rule under which application k of entity i must be quarantined, or null: only one naming an entity the registry never had. */
  private applicationFate(i: number, k: number): string | null {
    return this.applications(i).orphan(k) ? 'orphan:market_entity' : null;
  }

  *applicationRows(): Generator<Field[]> {
    for (let i = 1; i <= this.opts.entities; i++) {
      const r = entityRandom(this.seed, SALT.app, i);
      const apps = this.applications(i);
      for (let k = 1; k <= apps.count; k++) {
        this.expect('a_application', this.applicationFate(i, k));
        // An orphan approval record: it names an entity the registry never had.
        const pripid = apps.orphan(k) ? `JM9${pad(i, 9)}` : pripidOf(i);
        yield [`A${pad(i)}${k}`, pripid, weighted(r, APPTYPES), isoDate(r, 2010, 15), pick(r, ['已办结', '已核准']), pick(r, SURNAMES) + pick(r, GIVEN)];
      }
    }
  }

  *materials(): Generator<Field[]> {
    for (let i = 1; i <= this.opts.entities; i++) {
      const r = entityRandom(this.seed, SALT.material, i);
      const apps = this.applications(i);
      for (let k = 1; k <= apps.count; k++) {
        // its application is held in quarantine: it waits for it (waiting_for:approval_application:<appid>)
        const orphan = this.applicationFate(i, k) ? 'waiting_for:approval_application' : null;
        for (let m = 1; m <= 2; m++) {
          this.expect('a_material', orphan);
          yield [`M${pad(i)}${k}${m}`, `A${pad(i)}${k}`, pick(r, ['申请书', '章程', '身份证明', '住所证明']), String(1 + Math.floor(r() * 20))];
        }
      }
    }
  }

  *processSteps(): Generator<Field[]> {
    for (let i = 1; i <= this.opts.entities; i++) {
      const r = entityRandom(this.seed, SALT.process, i);
      const apps = this.applications(i);
      for (let k = 1; k <= apps.count; k++) {
        // its application is held in quarantine: it waits for it (waiting_for:approval_application:<appid>)
        const orphan = this.applicationFate(i, k) ? 'waiting_for:approval_application' : null;
        const n = 1 + Math.floor(r() * 3.5);
        for (let s = 1; s <= n; s++) {
          this.expect('a_process', orphan);
          yield [`S${pad(i)}${k}${s}`, `A${pad(i)}${k}`, STEPS[s - 1], pick(r, SURNAMES) + pick(r, GIVEN), `${isoDate(r, 2010, 15)} ${pad(Math.floor(r() * 24), 2)}:${pad(Math.floor(r() * 60), 2)}:00`];
        }
      }
    }
  }

  rows(table: LegacyTable): Generator<Field[]> {
    switch (table) {
      case 'e_baseinfo': return this.entities();
      case 'e_name_reservation': return this.nameReservations();
      case 'e_group': return this.groups();
      case 'e_person': return this.persons();
      case 'e_alter': return this.changes();
      case 'a_application': return this.applicationRows();
      case 'a_material': return this.materials();
      case 'a_process': return this.processSteps();
    }
  }
}

/** (Re)creates the generated legacy tables — only those — and loads a generated dataset by COPY. */
export async function loadLegacyDataset(client: Client, opts: GenerateOptions): Promise<DatasetStats> {
  const data = new Dataset(opts);
  await client.query(`DROP TABLE IF EXISTS ${LEGACY_TABLES.join(', ')}`);
  for (const ddl of LEGACY_DDL) await client.query(ddl);
  for (const table of LEGACY_TABLES) {
    const rows = data.rows(table);
    const lines = Readable.from((function* () { for (const r of rows) yield encodeRow(r); })());
    await pipeline(lines, client.query(copyFrom(`COPY ${table} FROM STDIN`)));
  }
  await client.query(`ANALYZE`);
  return data.stats;
}
