import type { ColumnType } from '../mapping';

/**
 * What a legacy Oracle column is, as far as conversion cares. The kind comes from the data
 * dictionary (ALL_TAB_COLUMNS.DATA_TYPE), read once per table before any chunk is planned, because
 * the chunk query itself must already differ per kind (datetimes are formatted server-side, see sql.ts).
 */
export type LegacyKind =
  | 'number' // NUMBER, FLOAT, INTEGER: decimal, fetched as the driver's exact string
  | 'float' // BINARY_FLOAT, BINARY_DOUBLE: IEEE floats, fetched as JS numbers
  | 'text' // VARCHAR2, NVARCHAR2, CHAR, NCHAR, LONG, ROWID, UROWID
  | 'clob' // CLOB, NCLOB: fetched inline as strings
  | 'binary' // RAW, LONG RAW, BLOB: fetched as Buffers
  | 'date' // DATE: always carries a time of day, to the second
  | 'timestamp' // TIMESTAMP(n)
  | 'timestamp_tz' // TIMESTAMP(n) WITH TIME ZONE: carries its own offset or region
  | 'timestamp_ltz'; // TIMESTAMP(n) WITH LOCAL TIME ZONE: stored in the DB time zone, shown in the session's

export interface LegacyColumn {
  /** the dictionary's column name (upper case for unquoted legacy DDL) */
  name: string;
  /** ALL_TAB_COLUMNS.DATA_TYPE, e.g. "NUMBER", "TIMESTAMP(6) WITH TIME ZONE" */
  dataType: string;
  kind: LegacyKind;
}

const SIMPLE_KINDS: Record<string, LegacyKind> = {
  NUMBER: 'number',
  FLOAT: 'number',
  INTEGER: 'number',
  BINARY_FLOAT: 'float',
  BINARY_DOUBLE: 'float',
  VARCHAR2: 'text',
  NVARCHAR2: 'text',
  CHAR: 'text',
  NCHAR: 'text',
  LONG: 'text',
  ROWID: 'text',
  UROWID: 'text',
  CLOB: 'clob',
  NCLOB: 'clob',
  RAW: 'binary',
  'LONG RAW': 'binary',
  BLOB: 'binary',
  DATE: 'date',
};

/** null for types the adapter does not read (XMLTYPE, objects, INTERVAL, BFILE, JSON, VECTOR …). */
export function legacyKind(dataType: string): LegacyKind | null {
  const simple = SIMPLE_KINDS[dataType];
  if (simple) return simple;
  const ts = /^TIMESTAMP(?:\(\d\))?( WITH LOCAL TIME ZONE| WITH TIME ZONE)?$/.exec(dataType);
  if (!ts) return null;
  if (ts[1] === ' WITH LOCAL TIME ZONE') return 'timestamp_ltz';
  if (ts[1] === ' WITH TIME ZONE') return 'timestamp_tz';
  return 'timestamp';
}

const DATETIME_KINDS: ReadonlySet<LegacyKind> = new Set(['date', 'timestamp', 'timestamp_tz', 'timestamp_ltz']);

export function isDatetimeKind(kind: LegacyKind): boolean {
  return DATETIME_KINDS.has(kind);
}

/**
 * Which legacy kinds may feed which target type. Text feeds everything: legacy registries keep
 * numbers and dates as text ("10万", "二〇〇三年"), and judging those is the mapping's cleansing job
 * or the target's (a rejected row is quarantined), not the adapter's. Anything else listed as
 * incompatible is a mapping mistake and stops the table before a row moves.
 */
const COMPATIBLE: Record<ColumnType, ReadonlySet<LegacyKind>> = {
  text: new Set<LegacyKind>(['number', 'float', 'text', 'clob', 'binary', 'date', 'timestamp', 'timestamp_tz', 'timestamp_ltz']),
  numeric: new Set<LegacyKind>(['number', 'float', 'text', 'clob']),
  integer: new Set<LegacyKind>(['number', 'float', 'text', 'clob']),
  bigint: new Set<LegacyKind>(['number', 'float', 'text', 'clob']),
  boolean: new Set<LegacyKind>(['number', 'text']),
  date: new Set<LegacyKind>(['text', 'date', 'timestamp', 'timestamp_tz', 'timestamp_ltz']),
  timestamp: new Set<LegacyKind>(['text', 'date', 'timestamp', 'timestamp_tz', 'timestamp_ltz']),
  timestamptz: new Set<LegacyKind>(['text', 'date', 'timestamp', 'timestamp_tz', 'timestamp_ltz']),
};

export function isCompatible(kind: LegacyKind, target: ColumnType): boolean {
  return COMPATIBLE[target].has(kind);
}
