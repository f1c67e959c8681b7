/**
 * The slice of node-oracledb (thin mode) this adapter uses. oracledb ships no TypeScript types and
 * @types/oracledb trails the driver; declaring only what we call keeps the compiler honest about it
 * and gives the unit tests one small surface to script a fake connection against.
 */

/** oracledb.DB_TYPE_* constants are objects compared by identity; `name` is e.g. "DB_TYPE_NUMBER". */
export interface OracleDbType {
  readonly name: string;
}

/** One column of a result set's metaData (node-oracledb "extended metadata"). */
export interface OracleColumnMeta {
  name: string;
  dbType?: OracleDbType;
  dbTypeName?: string;
  precision?: number;
  scale?: number;
}

export interface FetchTypeResult {
  type?: OracleDbType;
}

export type FetchTypeHandler = (meta: OracleColumnMeta) => FetchTypeResult | undefined;

export interface OracleExecuteOptions {
  resultSet?: boolean;
  outFormat?: number;
  fetchArraySize?: number;
  prefetchRows?: number;
  fetchTypeHandler?: FetchTypeHandler;
}

export type OracleBinds = Record<string, string | number>;

export interface OracleResultSet {
  readonly metaData: OracleColumnMeta[];
  getRows(numRows: number): Promise<unknown[][]>;
  close(): Promise<void>;
}

export interface OracleExecuteResult {
  rows?: unknown[][];
  metaData?: OracleColumnMeta[];
  resultSet?: OracleResultSet;
}

export interface OracleConnection {
  execute(sql: string, binds?: OracleBinds, options?: OracleExecuteOptions): Promise<OracleExecuteResult>;
  /** returns a pooled connection to its pool */
  close(): Promise<void>;
  /** milliseconds a single round trip may take (0: no limit); exceeded → NJS-123, the connection stays usable */
  callTimeout?: number;
}

export interface OraclePool {
  getConnection(): Promise<OracleConnection>;
  close(drainTime?: number): Promise<void>;
}

export interface OraclePoolAttributes {
  user: string;
  password: string;
  connectString: string;
  poolMin: number;
  poolMax: number;
  poolIncrement: number;
}

export interface OracleDriver {
  readonly thin: boolean;
  readonly OUT_FORMAT_ARRAY: number;
  readonly DB_TYPE_NUMBER: OracleDbType;
  readonly DB_TYPE_BINARY_FLOAT: OracleDbType;
  readonly DB_TYPE_BINARY_DOUBLE: OracleDbType;
  readonly DB_TYPE_VARCHAR: OracleDbType;
  readonly DB_TYPE_NVARCHAR: OracleDbType;
  readonly DB_TYPE_CHAR: OracleDbType;
  readonly DB_TYPE_NCHAR: OracleDbType;
  readonly DB_TYPE_LONG: OracleDbType;
  readonly DB_TYPE_CLOB: OracleDbType;
  readonly DB_TYPE_NCLOB: OracleDbType;
  readonly DB_TYPE_BLOB: OracleDbType;
  readonly DB_TYPE_RAW: OracleDbType;
  readonly DB_TYPE_LONG_RAW: OracleDbType;
  readonly DB_TYPE_DATE: OracleDbType;
  readonly DB_TYPE_TIMESTAMP: OracleDbType;
  readonly DB_TYPE_TIMESTAMP_TZ: OracleDbType;
  readonly DB_TYPE_TIMESTAMP_LTZ: OracleDbType;
  readonly DB_TYPE_ROWID: OracleDbType;
  createPool(attrs: OraclePoolAttributes): Promise<OraclePool>;
  /** switches the process to Thick mode (Oracle Instant Client); once per process, before any connection */
  initOracleClient?(options: { libDir?: string }): void;
}

/**
 * The real driver. Loaded lazily so that importing this module (for SQL generation, say) never
 * touches the driver; thin mode is the default and needs no Oracle Client libraries.
 */
export function loadOracleDriver(clientLibDir?: string): OracleDriver {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const driver = require('oracledb') as OracleDriver;
  // Thick mode (Oracle 11g, a UTF8 national character set): Instant Client from clientLibDir. The
  // driver allows one switch per process; a second call with the process already thick is a no-op.
  if (clientLibDir && driver.thin) driver.initOracleClient!({ libDir: clientLibDir });
  return driver;
}
