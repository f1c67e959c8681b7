import type { Client } from 'pg';
import { z } from 'zod';

/**
 * 国产数据库方言 The target's SQL dialect: the statements and features where PostgreSQL, the openGauss
 * family (openGauss, GaussDB, Vastbase — they descend from openGauss, itself grown from PostgreSQL 9.2)
 * and KingbaseES differ, held as rows of data, each citing where it comes from. Everything the product
 * sends to the target where the dialects differ is rendered from this table; the statement audit
 * (lib/statement-audit.ts) checks what was really sent against the CONSTRUCTS below.
 *
 * A form is chosen for a dialect only where a vendor source confirms it. Where none was found the
 * dialect gets a portable form that PostgreSQL also runs, so that a rehearsal on PostgreSQL with
 * TARGET_DIALECT=opengauss exercises exactly the statements openGauss would receive.
 */
export const DIALECTS = ['postgresql', 'opengauss', 'kingbase'] as const;
export const dialectSchema = z.enum(DIALECTS);
export type Dialect = z.infer<typeof dialectSchema>;

export const SNAPSHOT_STRATEGIES = ['template', 'undo-log'] as const;
export type SnapshotStrategy = (typeof SNAPSHOT_STRATEGIES)[number];

export interface Source {
  title: string;
  url: string;
}

/** Vendor and reference pages the table cites (looked up December 2026). */
const SRC = {
  pgControl: { title: 'PostgreSQL 9.6+: pg_control_system() (commit dc7d70e "Expose control file data via SQL accessible functions")', url: 'https://github.com/postgrespro/postgres/commit/dc7d70ea05deca9dfc6a25043d406b57cc8f6c30' },
  gaussControl: { title: 'GaussDB 系统信息函数: pg_control_system() listed, one edition noting "由于规格变更,当前版本已经不再支持该函数"; absent from the openGauss function list', url: 'https://huaweicloud.com/s/JeW8ueaAp-i0n-i9veWdh-ihoeezu-e7n-aUr-aMgeWHoOenjSU/t_30_p_3/JeS6keaVsOaNruW6kyBHYXVzc0RCJQ' },
  ogCreateDb: { title: 'openGauss CREATE DATABASE: 缺省情况下新数据库将通过复制标准系统数据库template0来创建,且仅支持使用template0来创建', url: 'https://cnblogs.com/SapientialM/p/13775618.html' },
  ogCompat: { title: 'openGauss 创建和管理数据库: postgres 默认 DBCOMPATIBILITY = A, 该兼容类型下将空字符串作为NULL处理', url: 'https://www.cnblogs.com/GaussDB/articles/18372530' },
  gaussEmpty: { title: 'GaussDB FAQ: What Is the Relationship Between an Empty String and NULL? (A-compatible: \'\' IS NULL is true)', url: 'https://support.huaweicloud.com/intl/en-us/centralized-devg-v8-gaussdb/gaussdb-42-1825.html' },
  ogCompatModes: { title: 'openGauss DBCOMPATIBILITY 取值 A、B、C、PG (O、MY、TD、POSTGRES); A 兼容性下空字符串作为NULL', url: 'https://blog.csdn.net/tttzzzqqq2018/article/details/136676773' },
  gaussUpsert: { title: 'GaussDB INSERT … ON DUPLICATE KEY UPDATE (no ON CONFLICT); keys cannot be updated by it', url: 'https://support.huaweicloud.com/intl/en-us/usermanual-ugo/ugo_conv_01_0056.html' },
  ogUpsertNothing: { title: 'openGauss INSERT … ON DUPLICATE KEY UPDATE NOTHING (JSqlParser #2292, openGauss syntax)', url: 'https://github.com/JSQLParser/JSqlParser/issues/2292' },
  kbOnConflict: { title: 'KingbaseES: INSERT … ON CONFLICT (c1) DO UPDATE SET c3 = excluded.c3', url: 'https://blog.csdn.net/weixin_43965733/article/details/128152487' },
  gaussXlog: { title: 'GaussDB 恢复控制函数: pg_last_xlog_replay_location(), pg_last_xlog_receive_location()', url: 'https://www.huaweicloud.com/guide/productsdesc-bms_397e85173beba2de7b083325c3a7966dsupport1' },
  gaussXlogCurrent: { title: 'GaussDB(DWS) 备份控制函数: pg_current_xlog_location()', url: 'https://huaweicloud.com/guide/productsdesc-bms_b2ec4ec061b284fad599877984e9c0d2support1' },
  pg92Xlog: { title: 'PostgreSQL 9.2 xlog_fn.h: pg_xlog_location_diff, pg_current_xlog_location, pg_last_xlog_replay_location (renamed *_wal_*/lsn in PostgreSQL 10)', url: 'https://docs.huihoo.com/doxygen/postgresql/xlog__fn_8h.html' },
  gaussCollateC: { title: 'GaussDB collation errors: create table t1(a text collate "C") accepted', url: 'https://blog.csdn.net/s44359487yad/article/details/141070934' },
  ogJsonb: { title: 'openGauss JSON/JSONB类型', url: 'https://support.huaweicloud.com/centralized-devg-v2-gaussdb/gaussdb_42_0278.html' },
  gaussAdvisory: { title: 'GaussDB 系统管理函数: 咨询锁函数 (advisory lock functions)', url: 'https://huaweicloud.com/s/JeWtpueUn-Wuv-iIjeS_oeaBr-euoeeQhuezu-e7nyU/t_30_p_1/JeS6keaVsOaNruW6kyBHYXVzc0RCJQ' },
  ogAuth: { title: 'openGauss password_encryption_type 0 md5 / 1 sha256+md5 / 2 sha256 (default 2) / 3 sm3', url: 'https://juejin.cn/post/7430635815073890367' },
  dwsAuth: { title: 'GaussDB(DWS): open-source PostgreSQL drivers need password_encryption_type=1 (md5-compatible) and a reset password', url: 'https://support.huaweicloud.com/intl/en-us/devg-830-dws/dws_04_0093.html' },
  kbPort: { title: 'KingbaseES 服务器配置参数: port 默认值 54321', url: 'https://blog.csdn.net/arthemis_14/article/details/126884258' },
  kbAuth: { title: 'KingbaseES 口令加密: password_encryption 默认 scram-sha-256; md5, sm3, scram-sm3, sm4 supported', url: 'https://blog.csdn.net/kingstone96888/article/details/135361142' },
  kbEmptyStr: { title: 'KingbaseES: set ora_input_emptystr_isnull=off (Oracle-mode \'\' as NULL is a setting)', url: 'https://blog.csdn.net/kingstone96888/article/details/135361224' },
  pgDropForce: { title: 'PostgreSQL 13+: DROP DATABASE … WITH (FORCE)', url: 'https://www.postgresql.org/docs/13/sql-dropdatabase.html' },
  pgTablesample: { title: 'PostgreSQL 9.5+: TABLESAMPLE (not found in the openGauss or KingbaseES pages searched)', url: 'https://wiki.postgresql.org/wiki/TABLESAMPLE_Implementation' },
  pgToRegclass: { title: 'PostgreSQL 9.4+: to_regclass() (not found in the openGauss pages searched)', url: 'https://github.com/postgrespro/postgres/commit/0886fc6a5c75b294544263ea979b9cf6195407d9' },
  pgIndexIne: { title: 'PostgreSQL 9.5+: CREATE INDEX IF NOT EXISTS (not found in the openGauss pages searched)', url: 'https://www.postgresql.org/message-id/E1XmJgk-0001A6-2e%40gemulon.postgresql.org' },
} satisfies Record<string, Source>;

/**
 * 'yes' a source confirms it, 'no' a source says it is absent or different, 'unverified' no source
 * was found either way (the product then sends a portable form instead).
 */
export type Support = 'yes' | 'no' | 'unverified';

/** A construct that may appear in a statement, and whether each dialect has it. The audit's rule table. */
export interface Construct {
  id: string;
  title: string;
  detect: RegExp;
  support: Record<Dialect, Support>;
  sources: Source[];
}

export const CONSTRUCTS: readonly Construct[] = [
  { id: 'on-conflict', title: '冲突更新 INSERT … ON CONFLICT', detect: /\bON\s+CONFLICT\b/i, support: { postgresql: 'yes', opengauss: 'no', kingbase: 'yes' }, sources: [SRC.gaussUpsert, SRC.kbOnConflict] },
  { id: 'on-duplicate-key', title: '冲突更新 INSERT … ON DUPLICATE KEY UPDATE', detect: /\bON\s+DUPLICATE\s+KEY\b/i, support: { postgresql: 'no', opengauss: 'yes', kingbase: 'unverified' }, sources: [SRC.gaussUpsert, SRC.ogUpsertNothing] },
  { id: 'pg-control-system', title: '系统标识 pg_control_system()', detect: /\bpg_control_system\s*\(/i, support: { postgresql: 'yes', opengauss: 'no', kingbase: 'unverified' }, sources: [SRC.pgControl, SRC.gaussControl] },
  {
    id: 'create-database-template',
    title: '模板建库 CREATE DATABASE … TEMPLATE <user database>',
    detect: /\bCREATE\s+DATABASE\b[^;]*\bTEMPLATE\b(?!\s*=?\s*"?template0\b)/i,
    support: { postgresql: 'yes', opengauss: 'no', kingbase: 'unverified' },
    sources: [SRC.ogCreateDb],
  },
  { id: 'drop-database-force', title: '强制删库 DROP DATABASE … WITH (FORCE)', detect: /\bWITH\s*\(\s*FORCE\s*\)/i, support: { postgresql: 'yes', opengauss: 'unverified', kingbase: 'unverified' }, sources: [SRC.pgDropForce] },
  { id: 'tablesample', title: '块抽样 TABLESAMPLE', detect: /\bTABLESAMPLE\b/i, support: { postgresql: 'yes', opengauss: 'unverified', kingbase: 'unverified' }, sources: [SRC.pgTablesample] },
  { id: 'to-regclass', title: 'to_regclass()', detect: /\bto_regclass\s*\(/i, support: { postgresql: 'yes', opengauss: 'unverified', kingbase: 'unverified' }, sources: [SRC.pgToRegclass] },
  {
    id: 'create-index-if-not-exists',
    title: 'CREATE INDEX IF NOT EXISTS',
    detect: /\bCREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?IF\s+NOT\s+EXISTS\b/i,
    support: { postgresql: 'yes', opengauss: 'unverified', kingbase: 'unverified' },
    sources: [SRC.pgIndexIne],
  },
  {
    id: 'wal-lsn-functions',
    title: '复制位置函数 pg_*_wal_lsn / pg_wal_lsn_diff',
    detect: /\bpg_(current_wal_\w+|last_wal_\w+|wal_lsn_diff)\s*\(/i,
    support: { postgresql: 'yes', opengauss: 'no', kingbase: 'unverified' },
    sources: [SRC.gaussXlog, SRC.pg92Xlog],
  },
  {
    id: 'xlog-location-functions',
    title: '复制位置函数 pg_*_xlog_location / pg_xlog_location_diff',
    detect: /\bpg_(current_xlog_\w+|last_xlog_\w+|xlog_location_diff)\s*\(/i,
    support: { postgresql: 'no', opengauss: 'yes', kingbase: 'unverified' },
    sources: [SRC.gaussXlog, SRC.gaussXlogCurrent, SRC.pg92Xlog],
  },
  { id: 'execute-function', title: '触发器 EXECUTE FUNCTION (PostgreSQL 11+; EXECUTE PROCEDURE is the old spelling)', detect: /\bEXECUTE\s+FUNCTION\b/i, support: { postgresql: 'yes', opengauss: 'unverified', kingbase: 'unverified' }, sources: [] },
  { id: 'identity-column', title: '标识列 GENERATED … AS IDENTITY (PostgreSQL 10+)', detect: /\bGENERATED\s+(ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY\b/i, support: { postgresql: 'yes', opengauss: 'unverified', kingbase: 'unverified' }, sources: [] },
  { id: 'jsonb', title: 'jsonb', detect: /\bjsonb\b/i, support: { postgresql: 'yes', opengauss: 'yes', kingbase: 'unverified' }, sources: [SRC.ogJsonb] },
  { id: 'collate-c', title: '码点排序 COLLATE "C"', detect: /\bCOLLATE\s+"C"/i, support: { postgresql: 'yes', opengauss: 'yes', kingbase: 'unverified' }, sources: [SRC.gaussCollateC] },
  { id: 'advisory-lock', title: '咨询锁 pg_advisory_lock', detect: /\bpg_advisory_(un)?lock\s*\(/i, support: { postgresql: 'yes', opengauss: 'yes', kingbase: 'unverified' }, sources: [SRC.gaussAdvisory] },
];

/** Deployment facts per dialect (not statements): what a deployer must set, with where it is documented. */
export const DEPLOYMENT: Record<Dialect, { defaultPort: number; notes: string[]; sources: Source[] }> = {
  postgresql: { defaultPort: 5432, notes: ['reference platform: every test here runs on PostgreSQL 15'], sources: [] },
  opengauss: {
    defaultPort: 5432,
    notes: [
      'authentication: the pg driver cannot do openGauss sha256 (password_encryption_type 2, the default): set password_encryption_type = 1 (or 0) and host … md5 in pg_hba.conf, then reset the runbook user’s password',
      "create the target with DBCOMPATIBILITY = 'PG': under 'A' (the default of postgres) '' is NULL, which breaks the canonical form; preflight refuses a target where '' IS NULL",
      'encoding UTF8 (client_encoding UTF8 is what the driver asks for)',
    ],
    sources: [SRC.ogAuth, SRC.dwsAuth, SRC.ogCompat, SRC.gaussEmpty, SRC.ogCompatModes],
  },
  kingbase: {
    defaultPort: 54321,
    notes: [
      'port 54321 by default: put it in TARGET_DATABASE_URL',
      'authentication: md5 or scram-sha-256 (the pg driver does both); not sm3 / scram-sm3 / sm4',
      "ora_input_emptystr_isnull must be off (Oracle-mode '' as NULL): preflight refuses a target where '' IS NULL",
    ],
    sources: [SRC.kbPort, SRC.kbAuth, SRC.kbEmptyStr],
  },
};

/** A statement ready for pg: text with $n parameters and its values. */
export interface Stmt {
  text: string;
  values: unknown[];
}

/**
 * The statement forms that differ. Each form is a list of statements (most have one); `{name}` is an
 * SQL fragment filled in by the renderer, `$n` a parameter (renumbered per statement, so a statement
 * gets only the values it uses). `null`: the dialect has no form — the caller must not need it.
 */
export interface StatementEntry {
  title: string;
  forms: Record<Dialect, readonly string[] | null>;
  sources: Source[];
}

const PG_IDENTITY = 'SELECT system_identifier::text AS sysid, current_database() AS db FROM pg_control_system()';
/** A database's own OID on its server's port: a copy (template, dump restore) gets another OID. */
const PORTABLE_IDENTITY = "SELECT 'oid ' || d.oid::text || ' port ' || current_setting('port') AS sysid, current_database() AS db FROM pg_catalog.pg_database d WHERE d.datname = current_database()";
const PG_UPSERT = ['INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({conflict}) DO UPDATE SET {updates}'];
/** Inside the caller's transaction; the form Huawei's own migration guide gives for keys (ugo_conv_01_0056). */
const PORTABLE_UPSERT = ['DELETE FROM {table} WHERE {keyMatch}', 'INSERT INTO {table} ({columns}) VALUES ({values})'];
const PG_INSERT_IF_ABSENT = ['INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING'];
const PORTABLE_INSERT_IF_ABSENT = ['INSERT INTO {table} ({columns}) SELECT {values} WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {keyMatch})'];
const PG_RELATION_EXISTS = ['SELECT to_regclass(quote_ident($1)) IS NOT NULL AS ok'];
const PORTABLE_RELATION_EXISTS = ['SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relname = $1 AND pg_catalog.pg_table_is_visible(c.oid)) AS ok'];
const PG_INDEX = ['CREATE INDEX IF NOT EXISTS {index} ON {table} ({columns})'];
/** Run only when relationExists(index) said no; a concurrent creator's duplicate (42P07) is harmless. */
const PLAIN_INDEX = ['CREATE INDEX {index} ON {table} ({columns})'];
const TERMINATE_AND_DROP = ['SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', 'DROP DATABASE {database}'];

export const STATEMENTS = {
  identity: { title: '目标库身份 target identity (the guard)', forms: { postgresql: [PG_IDENTITY], opengauss: [PORTABLE_IDENTITY], kingbase: [PORTABLE_IDENTITY] }, sources: [SRC.pgControl, SRC.gaussControl] },
  upsert: { title: '台账写入 ledger upsert (chunk ledger)', forms: { postgresql: PG_UPSERT, opengauss: PORTABLE_UPSERT, kingbase: PG_UPSERT }, sources: [SRC.gaussUpsert, SRC.ogUpsertNothing, SRC.kbOnConflict] },
  insertIfAbsent: { title: '登记写入 insert if absent (registrations)', forms: { postgresql: PG_INSERT_IF_ABSENT, opengauss: PORTABLE_INSERT_IF_ABSENT, kingbase: PG_INSERT_IF_ABSENT }, sources: [SRC.gaussUpsert, SRC.kbOnConflict] },
  relationExists: { title: '表是否存在 relation exists', forms: { postgresql: PG_RELATION_EXISTS, opengauss: PORTABLE_RELATION_EXISTS, kingbase: PORTABLE_RELATION_EXISTS }, sources: [SRC.pgToRegclass] },
  createIndexIfNotExists: { title: '建索引 create index once', forms: { postgresql: PG_INDEX, opengauss: null, kingbase: null }, sources: [SRC.pgIndexIne] },
  createIndex: { title: '建索引 plain create index', forms: { postgresql: PLAIN_INDEX, opengauss: PLAIN_INDEX, kingbase: PLAIN_INDEX }, sources: [] },
  createDatabase: {
    title: '建库 create the target database',
    forms: { postgresql: ['CREATE DATABASE {database}'], opengauss: ["CREATE DATABASE {database} DBCOMPATIBILITY 'PG' ENCODING 'UTF8' TEMPLATE template0"], kingbase: ['CREATE DATABASE {database}'] },
    sources: [SRC.ogCompat, SRC.ogCompatModes, SRC.ogCreateDb],
  },
  copyDatabase: { title: '快照 copy a database (template)', forms: { postgresql: ['CREATE DATABASE {database} TEMPLATE {template}'], opengauss: null, kingbase: ['CREATE DATABASE {database} TEMPLATE {template}'] }, sources: [SRC.ogCreateDb] },
  dropDatabase: { title: '删库 drop a database with its sessions', forms: { postgresql: ['DROP DATABASE {database} WITH (FORCE)'], opengauss: TERMINATE_AND_DROP, kingbase: TERMINATE_AND_DROP }, sources: [SRC.pgDropForce] },
  currentLsn: { title: '主库日志位置 primary WAL position', forms: { postgresql: ['SELECT pg_current_wal_lsn()::text AS lsn'], opengauss: ['SELECT pg_current_xlog_location()::text AS lsn'], kingbase: null }, sources: [SRC.gaussXlogCurrent, SRC.pg92Xlog] },
  replayLsn: { title: '备库回放位置 standby replay position', forms: { postgresql: ['SELECT pg_last_wal_replay_lsn()::text AS lsn'], opengauss: ['SELECT pg_last_xlog_replay_location()::text AS lsn'], kingbase: null }, sources: [SRC.gaussXlog, SRC.pg92Xlog] },
  lsnDiff: { title: '日志差值 bytes between two positions', forms: { postgresql: ['SELECT pg_wal_lsn_diff($1, $2)::text AS bytes'], opengauss: ['SELECT pg_xlog_location_diff($1, $2)::text AS bytes'], kingbase: null }, sources: [SRC.pg92Xlog] },
  blockSample: { title: '块抽样 block sample (PostgreSQL legacy side only)', forms: { postgresql: ['SELECT {columns} FROM {table} TABLESAMPLE SYSTEM ($1) REPEATABLE (0)'], opengauss: null, kingbase: null }, sources: [SRC.pgTablesample] },
  keyCollate: { title: '码点排序 key collation', forms: { postgresql: [' COLLATE "C"'], opengauss: [' COLLATE "C"'], kingbase: [' COLLATE "C"'] }, sources: [SRC.gaussCollateC] },
  emptyStringProbe: { title: "空串检查 '' IS NULL probe (DBCOMPATIBILITY / ora_input_emptystr_isnull)", forms: { postgresql: ["SELECT '' IS NULL AS empty_is_null"], opengauss: ["SELECT '' IS NULL AS empty_is_null"], kingbase: ["SELECT '' IS NULL AS empty_is_null"] }, sources: [SRC.ogCompat, SRC.gaussEmpty, SRC.kbEmptyStr] },
} as const satisfies Record<string, StatementEntry>;

export type StatementName = keyof typeof STATEMENTS;

/** Snapshot strategy per dialect: the template copy only where CREATE DATABASE … TEMPLATE <database> is documented. */
export const DEFAULT_SNAPSHOT: Record<Dialect, SnapshotStrategy> = { postgresql: 'template', opengauss: 'undo-log', kingbase: 'undo-log' };

export class DialectUnsupported extends Error {
  override name = 'DialectUnsupported';
}

/** Renders an entry for a dialect: each statement with its fragments filled and its own parameters. */
export function render(dialect: Dialect, name: StatementName, fragments: Record<string, string> = {}, values: unknown[] = []): Stmt[] {
  const forms = STATEMENTS[name].forms[dialect];
  if (!forms) throw new DialectUnsupported(`${STATEMENTS[name].title}: no form for the ${dialect} dialect`);
  return forms.map((form) => compact(form.replace(/\{(\w+)\}/g, (_, k: string) => {
    const f = fragments[k];
    if (f === undefined) throw new Error(`${name}: fragment {${k}} not given`);
    return f;
  }), values));
}

/** Renumbers $n so the statement's values are exactly those it uses (pg refuses extra ones). */
function compact(text: string, values: unknown[]): Stmt {
  const used: number[] = [];
  for (const m of text.matchAll(/\$(\d+)\b/g)) {
    const n = Number(m[1]);
    if (!used.includes(n)) used.push(n);
  }
  used.sort((a, b) => a - b);
  for (const n of used) if (n > values.length) throw new Error(`statement uses $${n} but only ${values.length} values were given`);
  return { text: text.replace(/\$(\d+)\b/g, (_, n: string) => `$${used.indexOf(Number(n)) + 1}`), values: used.map((n) => values[n - 1]) };
}

export function supports(dialect: Dialect, name: StatementName): boolean {
  return STATEMENTS[name].forms[dialect] !== null;
}

/**
 * Fragments of an INSERT of `columns` whose key is `conflict` (quoted identifiers), values $1..$n in
 * column order; `serverNow` columns take the server's now() instead of a value.
 */
export function insertFragments(table: string, columns: string[], conflict: string[], serverNow: string[] = []): Record<string, string> {
  const q = (s: string) => '"' + s.replace(/"/g, '""') + '"';
  const pos = (c: string) => {
    const i = columns.indexOf(c);
    if (i < 0) throw new Error(`key column ${c} is not among the inserted columns`);
    return i + 1;
  };
  const all = [...columns, ...serverNow];
  return {
    table: q(table),
    columns: all.map(q).join(', '),
    values: [...columns.map((_, i) => `$${i + 1}`), ...serverNow.map(() => 'now()')].join(', '),
    conflict: conflict.map(q).join(', '),
    keyMatch: conflict.map((c) => `${q(c)} = $${pos(c)}`).join(' AND '),
    updates: all.filter((c) => !conflict.includes(c)).map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', '),
  };
}

/** Runs the statements of an entry in order; returns the last result's rows. */
export async function run<R extends Record<string, unknown>>(c: Client, stmts: Stmt[]): Promise<R[]> {
  let rows: R[] = [];
  for (const s of stmts) rows = (await c.query<R>(s.text, s.values)).rows;
  return rows;
}

/**
 * Which dialect a server is, from version(): openGauss reports "(openGauss 5.0.0 build …)" and GaussDB
 * / Vastbase their own names — all before any "PostgreSQL 9.2.4" they also print — KingbaseES
 * "KingbaseES V008R006…". Unknown servers are undefined.
 */
export function detectDialect(version: string): Dialect | undefined {
  if (/openGauss|GaussDB|Vastbase|MogDB|PanWeiDB/i.test(version)) return 'opengauss';
  if (/Kingbase/i.test(version)) return 'kingbase';
  if (/PostgreSQL/i.test(version)) return 'postgresql';
  return undefined;
}

/**
 * Whether a configured dialect may drive a detected server. The same dialect, always; and any dialect on
 * PostgreSQL, which runs every form the table renders (that is what the rehearsal on PostgreSQL with
 * TARGET_DIALECT=opengauss proves). PostgreSQL forms on an openGauss or Kingbase server: never.
 */
export function dialectFits(configured: Dialect, detected: Dialect): boolean {
  return configured === detected || detected === 'postgresql';
}

const byClient = new WeakMap<object, Dialect>();
/** The dialect a target client was opened with (lib/statement-audit.ts); PostgreSQL for any other client. */
export function dialectOf(c: object): Dialect {
  return byClient.get(c) ?? 'postgresql';
}
export function setDialect(c: object, dialect: Dialect): void {
  byClient.set(c, dialect);
}

/** Creates an index unless it exists, in the client's dialect. */
export async function ensureIndex(c: Client, index: string, table: string, columns: string[]): Promise<void> {
  const dialect = dialectOf(c);
  const q = (s: string) => '"' + s.replace(/"/g, '""') + '"';
  const fragments = { index: q(index), table: q(table), columns: columns.map(q).join(', ') };
  if (supports(dialect, 'createIndexIfNotExists')) {
    await run(c, render(dialect, 'createIndexIfNotExists', fragments));
    return;
  }
  const [exists] = await run<{ ok: boolean }>(c, render(dialect, 'relationExists', {}, [index]));
  if (exists.ok) return;
  try {
    await run(c, render(dialect, 'createIndex', fragments));
  } catch (err) {
    if ((err as { code?: string }).code !== '42P07') throw err; // created meanwhile by another session
  }
}

export interface AuditFinding {
  construct: string;
  title: string;
  support: Support;
  statements: string[];
  sources: Source[];
}

/** The constructs in `statements` that `dialect` lacks ('no') or that no source confirms ('unverified'). */
export function auditStatements(statements: string[], dialect: Dialect): { dialect: Dialect; clean: boolean; lacking: AuditFinding[]; unverified: AuditFinding[] } {
  const lacking: AuditFinding[] = [];
  const unverified: AuditFinding[] = [];
  for (const c of CONSTRUCTS) {
    const support = c.support[dialect];
    if (support === 'yes') continue;
    const hits = statements.filter((s) => c.detect.test(s));
    if (!hits.length) continue;
    (support === 'no' ? lacking : unverified).push({ construct: c.id, title: c.title, support, statements: hits, sources: c.sources });
  }
  return { dialect, clean: lacking.length === 0 && unverified.length === 0, lacking, unverified };
}
