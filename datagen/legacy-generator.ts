import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { creditCodeCheck, orgCodeCheck, regNoCheck } from '../lib/identifiers';
import { encodeRow, Field } from '../migration/copy-text';
import { pick, seededRandom, weighted } from './prng';

/**
 * A legacy registry as the old Oracle system holds it: business entities with valid credit codes and
 * registration numbers, Jiangmen division codes (retired ones included), legacy local code values,
 * and planted anomalies at a configurable rate. Deterministic for a seed.
 */
export const LEGACY_DDL = `CREATE TABLE IF NOT EXISTS e_baseinfo (
  pripid varchar(20) PRIMARY KEY,
  uniscid varchar(18),
  regno varchar(15),
  entname varchar(200),
  enttype varchar(10),
  regstate varchar(10),
  regcap numeric(20, 6),
  estdate date,
  dom varchar(400),
  domdistrict varchar(6),
  regorg varchar(6)
)`;

export interface GenerateOptions {
  entities: number;
  seed?: number;
  /** share of rows with a planted anomaly (unmapped code, missing required name), 0..1 */
  anomalyRate?: number;
}

export interface GeneratedStats {
  entities: number;
  anomalies: { unmappedEnttype: number; missingName: number };
}

const DIVISIONS = [
  ['440703', 40],
  ['440704', 15],
  ['440705', 20],
  ['440781', 10],
  ['440782', 5], // 新会市, retired in 2002 but still in legacy rows
  ['440783', 10],
  ['440784', 8],
  ['440785', 7],
] as const;
const ENTTYPES = [
  ['1130', 30],
  ['1150', 10],
  ['1100', 5],
  ['QY01', 5], // local code for LLC
  ['1220', 2],
  ['4531', 2],
  ['4540', 3],
  ['5100', 2],
  ['7200', 1],
  ['9100', 2],
  ['9500', 25],
  ['9999', 13], // local code for individual business
] as const;
const REGSTATES = [
  ['1', 60],
  ['1001', 15],
  ['2', 5],
  ['4', 10],
  ['3001', 6],
  ['6', 2],
  ['迁出', 2],
] as const;
const TRADE_WORDS = ['江海', '五邑', '侨乡', '蓬江', '新会', '台山', '开平', '鹤山', '恩平', '葵乡', '陈皮', '粤西', '银洲', '圭峰'];
const INDUSTRY = ['贸易', '科技', '电子', '五金', '食品', '物流', '建材', '纺织', '餐饮', '摩托车配件', '陈皮', '水产'];
const STREETS = ['建设路', '港口一路', '胜利路', '迎宾大道', '白沙大道', '江门万达广场', '冈州大道', '台城环市路'];
const ORG_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

function suffixFor(enttype: string): string {
  if (enttype === '9500' || enttype === '9999') return '经营部';
  if (enttype === '4540') return '个人独资企业';
  if (enttype.startsWith('453')) return '(有限合伙)';
  if (enttype === '9100') return '专业合作社';
  if (enttype === '7200') return '江门代表处';
  if (enttype.startsWith('12')) return '股份有限公司';
  return '有限公司';
}

export function* generateEntities(opts: GenerateOptions, stats: GeneratedStats): Generator<Field[]> {
  const rand = seededRandom(opts.seed ?? 20261125);
  const anomalyRate = opts.anomalyRate ?? 0.01;
  for (let i = 1; i <= opts.entities; i++) {
    const division = weighted(rand, DIVISIONS);
    let enttype: string = weighted(rand, ENTTYPES);
    const category = enttype === '9500' || enttype === '9999' ? '2' : enttype === '9100' ? '3' : '1';
    let org8 = '';
    for (let k = 0; k < 8; k++) org8 += ORG_ALPHABET[Math.floor(rand() * 10)];
    const first17 = `9${category}${division}${org8}${orgCodeCheck(org8)}`;
    const uniscid = first17 + creditCodeCheck(first17);
    const seq = String(Math.floor(rand() * 1e8)).padStart(8, '0');
    const regno14 = `${division}${seq}`;
    let entname: string | null = `江门市${pick(rand, TRADE_WORDS)}${pick(rand, INDUSTRY)}${i}${suffixFor(enttype)}`;
    if (rand() < anomalyRate) {
      if (rand() < 0.5) {
        enttype = 'X9';
        stats.anomalies.unmappedEnttype++;
      } else {
        entname = '';
        stats.anomalies.missingName++;
      }
    }
    const year = 1988 + Math.floor(rand() * 37);
    const month = 1 + Math.floor(rand() * 12);
    const day = 1 + Math.floor(rand() * 28);
    stats.entities++;
    yield [
      `JM${String(i).padStart(10, '0')}`,
      uniscid,
      regno14 + regNoCheck(regno14),
      entname,
      enttype,
      weighted(rand, REGSTATES),
      category === '2' ? null : (Math.floor(rand() * 100000) / 100).toFixed(2),
      `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
      `广东省江门市${pick(rand, STREETS)}${1 + Math.floor(rand() * 300)}号`,
      division,
      division,
    ];
  }
}

/** Creates the legacy tables (if missing), empties them, and loads a generated dataset by COPY. */
export async function loadLegacyDataset(client: Client, opts: GenerateOptions): Promise<GeneratedStats> {
  const stats: GeneratedStats = { entities: 0, anomalies: { unmappedEnttype: 0, missingName: 0 } };
  await client.query(LEGACY_DDL);
  await client.query('TRUNCATE e_baseinfo');
  const rows = generateEntities(opts, stats);
  const lines = Readable.from(
    (function* () {
      for (const r of rows) yield encodeRow(r);
    })(),
  );
  await pipeline(lines, client.query(copyFrom('COPY e_baseinfo FROM STDIN')));
  await client.query('ANALYZE e_baseinfo');
  return stats;
}
