import { oracleOptionsFromEnv } from './oracle/config';
import { OracleSource } from './oracle/oracle-source';
import { PostgresSource } from './pg-source';
import type { SourceAdapter } from './source';

/**
 * The adapter for the legacy database named by its connection string: oracle://… in production,
 * postgres://… for tests, the demo and PostgreSQL staging copies. One per worker process, shared by
 * its activities (the Oracle adapter keeps a connection pool).
 */
/**
 * LEGACY_SCHEMA as the mapping takes it (loadMapping's legacySchema): a PostgreSQL legacy database's bare
 * table names are qualified with it; an Oracle source qualifies tables itself (ORACLE_SCHEMA), so none.
 */
export function legacyMappingSchema(url: string, legacySchema: string): string | undefined {
  return legacySchema && !url.startsWith('oracle:') ? legacySchema : undefined;
}

export function openLegacySource(url: string, legacySchema = ''): SourceAdapter {
  const scheme = url.slice(0, url.indexOf(':'));
  if (scheme === 'postgres' || scheme === 'postgresql') return new PostgresSource(url);
  // LEGACY_SCHEMA is ORACLE_SCHEMA's default: the Oracle adapter qualifies every table with it.
  if (scheme === 'oracle') return new OracleSource(oracleOptionsFromEnv({ ...process.env, ORACLE_URL: url, ORACLE_SCHEMA: process.env.ORACLE_SCHEMA || legacySchema || undefined })!);
  throw new Error(`LEGACY_DATABASE_URL: unsupported scheme "${scheme}" (expected postgres:// or oracle://)`);
}
