import { oracleOptionsFromEnv } from './oracle/config';
import { OracleSource } from './oracle/oracle-source';
import { PostgresSource } from './pg-source';
import type { SourceAdapter } from './source';

/**
 * The adapter for the legacy database named by its connection string: oracle://… in production,
 * postgres://… for tests, the demo and PostgreSQL staging copies. One per worker process, shared by
 * its activities (the Oracle adapter keeps a connection pool).
 */
export function openLegacySource(url: string): SourceAdapter {
  const scheme = url.slice(0, url.indexOf(':'));
  if (scheme === 'postgres' || scheme === 'postgresql') return new PostgresSource(url);
  if (scheme === 'oracle') return new OracleSource(oracleOptionsFromEnv({ ...process.env, ORACLE_URL: url })!);
  throw new Error(`LEGACY_DATABASE_URL: unsupported scheme "${scheme}" (expected postgres:// or oracle://)`);
}
