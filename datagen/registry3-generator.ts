import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { encodeRow, Field } from '../migration/copy-text';
import { pick, seededRandom, weighted } from './prng';

/**
 * A third legacy registry (issue 13), shaped as a county system keeps it, for the engine's union, composite
 * keys and code tables kept in the legacy database, in its own schema djk (登记库):
 *
 * - 企业 djk.qy_zt: enterprises keyed by a numeric(16,0) 主体标识 ztbs; the type as a local code (CHAR(4));
 * - 个体 djk.gt_zt: individual businesses keyed by their registration number zch varchar(18); no type column
 *   (the mapping derives 9500); both feed ONE target table market_entity (a union, discriminator source_kind),
 *   and a few registration numbers equal an enterprise's ztbs: key collisions, both rows held;
 * - 年报 djk.nb: annual reports under a composite key (ztbs, nd smallint), children of the enterprises; a report
 *   of a colliding enterprise waits for it, a few name an enterprise that never existed (orphans);
 * - 代码表 djk.dm_qylx: the type codes, read by a query in the mapping (valid ones only: yxbz = '1');
 * - 操作日志 djk.czrz: the operation log, a table without any key (无键表): the operator as CHAR(8) (padded), some
 *   entries repeated exactly (the legacy wrote them twice or three times over), a few with no operator (held).
 * Deterministic for a seed; stats say where every row must land if the engine is right.
 */
export const REGISTRY3_SCHEMA = 'djk';

const DDL = [
  `CREATE TABLE djk.dm_qylx (dm char(4) PRIMARY KEY, xdm varchar(4) NOT NULL, yxbz char(1) NOT NULL, mc varchar(60))`,
  `CREATE TABLE djk.qy_zt (ztbs numeric(16,0) PRIMARY KEY, mc varchar(200), lx char(4), clrq date)`,
  `CREATE TABLE djk.gt_zt (zch varchar(18) PRIMARY KEY, zhmc varchar(100), clrq date)`,
  `CREATE TABLE djk.nb (ztbs numeric(16,0) NOT NULL, nd smallint NOT NULL, zcze numeric(18,2), PRIMARY KEY (ztbs, nd))`,
  // no primary key, no unique column: exact duplicates are real rows
  `CREATE TABLE djk.czrz (czry char(8), czlx varchar(20), ztbs numeric(16,0), czsj timestamp(0))`,
];

export const REGISTRY3_TABLES = ['dm_qylx', 'qy_zt', 'gt_zt', 'nb', 'czrz'] as const;
export type Registry3Table = (typeof REGISTRY3_TABLES)[number];

export interface Registry3Stats {
  rows: Record<Registry3Table, number>;
  /** keys both entity tables give (each row held under key_collision) */
  collisions: string[];
  /** reports held: waiting for a held enterprise, or naming none */
  reportsWaiting: number;
  reportsOrphan: number;
  /** 操作日志 log entries written more than once: each [entry's operator, action, ztbs, time as text, times held] */
  logRepeats: [string, string, string, string, number][];
  /** log entries with no operator (the mapping holds them: required) */
  logHeld: number;
}

/** local type code → target code; 9999 is no longer valid (yxbz 0) and is not read by the mapping's query */
const CODES: [string, string, string][] = [
  ['1100', '1100', '1'],
  ['1130', '1130', '1'],
  ['QY1 ', '1150', '1'],
  ['9999', '9500', '0'],
];
const WORDS = ['江门', '蓬江', '新会', '五邑', '侨乡', '恒达', '华盛', '利丰'];

export async function loadRegistry3(client: Client, opts: { enterprises: number; individuals: number; seed?: number; collisions?: number }): Promise<Registry3Stats> {
  const rand = seededRandom(opts.seed ?? 3);
  const rows: Record<Registry3Table, Field[][]> = { dm_qylx: CODES.map(([dm, xdm, yxbz]) => [dm, xdm, yxbz, `类型${xdm}`]), qy_zt: [], gt_zt: [], nb: [], czrz: [] };
  const ztbs = (i: number) => String(4407_0300_0000_0000n + BigInt(i) * 101n);
  const collisionEvery = Math.max(1, Math.floor(opts.enterprises / (opts.collisions ?? 5)));
  const collisions: string[] = [];
  let reportsWaiting = 0;
  let reportsOrphan = 0;
  for (let i = 0; i < opts.enterprises; i++) {
    const id = ztbs(i);
    const colliding = i % collisionEvery === collisionEvery - 1 && collisions.length < (opts.collisions ?? 5);
    if (colliding) collisions.push(id);
    rows.qy_zt.push([id, `${pick(rand, WORDS)}${pick(rand, WORDS)}有限公司`, weighted(rand, [['1100', 50], ['1130', 30], ['QY1 ', 20]] as const).trimEnd(), `20${String(10 + Math.floor(rand() * 14))}-0${1 + Math.floor(rand() * 9)}-1${Math.floor(rand() * 9)}`]);
    for (let y = 2015 + Math.floor(rand() * 4); y <= 2024; y += 1 + Math.floor(rand() * 2)) {
      const orphan = rand() < 0.01;
      if (orphan) reportsOrphan++;
      else if (colliding) reportsWaiting++;
      rows.nb.push([orphan ? String(9999_0000_0000_0000n + BigInt(i)) : id, String(y), ((rand() * 1e7) | 0).toFixed(2)]);
    }
  }
  for (let i = 0; i < opts.individuals; i++) {
    rows.gt_zt.push([`44070360${String(i).padStart(10, '0')}`, `${pick(rand, WORDS)}商行`, `2015-0${1 + (i % 9)}-01`]);
  }
  // the planted collisions: individual businesses registered under numbers an enterprise also has
  for (const id of collisions) rows.gt_zt.push([id, `${pick(rand, WORDS)}小卖部`, '2016-06-01']);

  // 操作日志 the log: one to three entries per enterprise; every 40th entry written twice or three times; a few with no operator
  const logRepeats: Registry3Stats['logRepeats'] = [];
  let logHeld = 0;
  const OPERATORS = ['张敏', '李华', 'wangf', 'chen01'];
  const ACTIONS = ['设立登记', '变更登记', '年报公示', '注销登记'];
  for (let i = 0; i < opts.enterprises; i++) {
    for (let n = Math.floor(rand() * 3); n >= 0; n--) {
      const entry = rows.czrz.length;
      const when = `2023-0${1 + (entry % 9)}-1${entry % 10} 0${entry % 10}:${String(entry % 60).padStart(2, '0')}:00`;
      const operator = entry % 97 === 5 ? null : pick(rand, OPERATORS);
      if (operator === null) logHeld++;
      const row: Field[] = [operator, pick(rand, ACTIONS), ztbs(i), when];
      const times = operator !== null && entry % 40 === 0 ? 2 + (entry % 80 === 0 ? 1 : 0) : 1;
      for (let t = 0; t < times; t++) rows.czrz.push(row);
      if (times > 1) logRepeats.push([operator!, row[1]!, row[2]!, when, times]);
    }
  }

  await client.query(`DROP SCHEMA IF EXISTS ${REGISTRY3_SCHEMA} CASCADE`);
  await client.query(`CREATE SCHEMA ${REGISTRY3_SCHEMA}`);
  for (const ddl of DDL) await client.query(ddl);
  for (const table of REGISTRY3_TABLES) {
    await pipeline(Readable.from(rows[table].map((r) => encodeRow(r))), client.query(copyFrom(`COPY ${REGISTRY3_SCHEMA}.${table} FROM STDIN`)));
  }
  await client.query('ANALYZE');
  return { rows: Object.fromEntries(REGISTRY3_TABLES.map((t) => [t, rows[t].length])) as Record<Registry3Table, number>, collisions, reportsWaiting, reportsOrphan, logRepeats, logHeld };
}
