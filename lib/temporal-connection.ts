import fs from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Settings } from './settings';

/**
 * How the worker and the API reach the Temporal frontend: the address, and TLS (mTLS with a client certificate) when
 * TEMPORAL_TLS_* name PEM files. Read once at start, so a missing file stops the process with its setting's name.
 */
export function temporalConnectionOptions(settings: Settings): { address: string; tls?: TLSConfig } {
  const { TEMPORAL_TLS_CA_FILE: ca, TEMPORAL_TLS_CERT_FILE: cert, TEMPORAL_TLS_KEY_FILE: key, TEMPORAL_TLS_SERVER_NAME: serverName } = settings;
  if (!ca && !cert) return { address: settings.TEMPORAL_ADDRESS };
  const read = (name: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`invalid environment settings — ${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
  };
  return {
    address: settings.TEMPORAL_ADDRESS,
    tls: {
      ...(serverName ? { serverNameOverride: serverName } : {}),
      ...(ca ? { serverRootCACertificate: read('TEMPORAL_TLS_CA_FILE', ca) } : {}),
      ...(cert ? { clientCertPair: { crt: read('TEMPORAL_TLS_CERT_FILE', cert), key: read('TEMPORAL_TLS_KEY_FILE', key) } } : {}),
    },
  };
}
