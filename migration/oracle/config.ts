import { z } from 'zod';
import { validateUtcOffset } from './convert';

/**
 * Settings of the Oracle source, from code or from the environment. Errors name the field (and the
 * environment variable it came from); the password never appears in an error or a description.
 */

const schemaName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_$#]{0,127}$/, 'expected an Oracle schema (user) name such as JMLEGACY');

export const oracleOptionsSchema = z.object({
  user: z.string().min(1, 'required'),
  password: z.string().min(1, 'required'),
  /** Easy Connect ("host:1521/FREEPDB1") or a TNS alias */
  connectString: z.string().min(1, 'required'),
  /** owner of the legacy tables; default: the connecting user's current schema */
  schema: schemaName.optional(),
  /**
   * Rows per round trip (fetchArraySize and prefetchRows). Large values cut round trips on bulk
   * reads; each chunk stream buffers at most this many rows, which bounds the worker's memory.
   */
  fetchArraySize: z.number().int().min(1).max(100_000).default(2000),
  /** connections per worker process: one per chunk read in parallel */
  poolMax: z.number().int().min(1).max(64).default(4),
  /** 'key': keyset ranges in key order (the default); 'rowid': ROWID ranges, for tables without a usable key index */
  chunking: z.enum(['key', 'rowid']).default('key'),
  /** offset of DATE/TIMESTAMP wall-clock values when a timestamptz target needs one; the registry is in Beijing time */
  naiveUtcOffset: z.string().refine(validateUtcOffset, 'expected a UTC offset such as +08:00').default('+08:00'),
  /**
   * Thick mode: the directory of Oracle Instant Client. Needed for Oracle 11g (Thin mode refuses servers
   * before 12.1, NJS-138) and for a national character set other than AL16UTF16 (NJS-100). Unset: Thin mode.
   */
  clientLibDir: z.string().min(1).optional(),
  /**
   * Longest a single round trip may take (the driver's callTimeout): a hung read (a dead network path, a
   * blocked session) fails with NJS-123 and is retried, instead of holding a pool slot for hours.
   * Planning sorts a whole key column in one call: keep this above the largest table's plan time.
   */
  callTimeoutSeconds: z.number().int().min(1).max(86_400).default(1800),
  /**
   * Rows per round trip for tables with CLOB/BLOB columns: each row's LOBs arrive inline, so a batch holds
   * up to this many LOB values in memory (and Thin mode does not prefetch LOB queries).
   */
  lobFetchArraySize: z.number().int().min(1).max(100_000).default(100),
  /** how long the run reads at its SCN (minutes): the preflight checks undo retention against it */
  plannedRunMinutes: z.number().int().min(1).max(10_080).default(720),
}).strict();

export type OracleSourceOptions = z.infer<typeof oracleOptionsSchema>;
export type OracleSourceInput = z.input<typeof oracleOptionsSchema>;

export class OracleConfigError extends Error {
  constructor(problems: string[]) {
    super(`invalid Oracle source settings — ${problems.join('; ')}`);
    this.name = 'OracleConfigError';
  }
}

export function validateOracleOptions(input: unknown, fieldLabel: (field: string) => string = (f) => f): OracleSourceOptions {
  const parsed = oracleOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new OracleConfigError(
      parsed.error.issues.map((i) =>
        // an unknown key is reported at the root: name the key, never a value (it could be the password)
        i.code === 'unrecognized_keys' ? `unknown setting(s) ${i.keys.join(', ')}` : `${fieldLabel(String(i.path[0] ?? '(root)'))}: ${i.message}`,
      ),
    );
  }
  return parsed.data;
}

/** "oracle://user:password@host[:port]/service" → driver connect attributes. */
export function parseOracleUrl(url: string): { user: string; password: string; connectString: string } {
  const problem = (what: string): OracleConfigError =>
    new OracleConfigError([`ORACLE_URL: ${what} (expected oracle://user:password@host[:port]/service)`]);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw problem('not a URL');
  }
  if (u.protocol !== 'oracle:') throw problem(`scheme is "${u.protocol}"`);
  const service = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname) throw problem('no host');
  if (!service) throw problem('no service name');
  if (!u.username) throw problem('no user');
  if (!u.password) throw problem('no password');
  return {
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    connectString: `${u.hostname}:${u.port || '1521'}/${service}`,
  };
}

const ENV_NAMES: Record<string, string> = {
  user: 'ORACLE_USER',
  password: 'ORACLE_PASSWORD',
  connectString: 'ORACLE_CONNECT_STRING',
  schema: 'ORACLE_SCHEMA',
  fetchArraySize: 'ORACLE_FETCH_ARRAY_SIZE',
  poolMax: 'ORACLE_POOL_MAX',
  chunking: 'ORACLE_CHUNKING',
  naiveUtcOffset: 'ORACLE_NAIVE_UTC_OFFSET',
  clientLibDir: 'ORACLE_CLIENT_LIB_DIR',
  callTimeoutSeconds: 'ORACLE_CALL_TIMEOUT_SECONDS',
  lobFetchArraySize: 'ORACLE_LOB_FETCH_ARRAY_SIZE',
  plannedRunMinutes: 'ORACLE_PLANNED_RUN_MINUTES',
};

function optionalInt(value: string | undefined): number | string | undefined {
  if (value === undefined || value === '') return undefined;
  return /^\d+$/.test(value) ? Number(value) : value;
}

/**
 * From ORACLE_URL, or from ORACLE_USER / ORACLE_PASSWORD / ORACLE_CONNECT_STRING (for TNS aliases
 * and passwords awkward to URL-encode), plus the optional ORACLE_* tuning variables.
 * Returns null when no Oracle connection is configured at all.
 */
export function oracleOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OracleSourceOptions | null {
  const url = env.ORACLE_URL;
  if (!url && !env.ORACLE_CONNECT_STRING) return null;
  const connection = url
    ? parseOracleUrl(url)
    : { user: env.ORACLE_USER, password: env.ORACLE_PASSWORD, connectString: env.ORACLE_CONNECT_STRING };
  const fromUrl = Boolean(url);
  return validateOracleOptions(
    {
      ...connection,
      schema: env.ORACLE_SCHEMA || undefined,
      fetchArraySize: optionalInt(env.ORACLE_FETCH_ARRAY_SIZE),
      poolMax: optionalInt(env.ORACLE_POOL_MAX),
      chunking: env.ORACLE_CHUNKING || undefined,
      naiveUtcOffset: env.ORACLE_NAIVE_UTC_OFFSET || undefined,
      clientLibDir: env.ORACLE_CLIENT_LIB_DIR || undefined,
      callTimeoutSeconds: optionalInt(env.ORACLE_CALL_TIMEOUT_SECONDS),
      lobFetchArraySize: optionalInt(env.ORACLE_LOB_FETCH_ARRAY_SIZE),
      plannedRunMinutes: optionalInt(env.ORACLE_PLANNED_RUN_MINUTES),
    },
    (field) => (fromUrl && ['user', 'password', 'connectString'].includes(field) ? 'ORACLE_URL' : (ENV_NAMES[field] ?? field)),
  );
}

/** For logs and reports: who connects where, never the password. */
export function describeOracleTarget(options: Pick<OracleSourceOptions, 'user' | 'connectString' | 'schema'>): string {
  return `oracle ${options.user}@${options.connectString}${options.schema ? ` schema ${options.schema.toUpperCase()}` : ''}`;
}
