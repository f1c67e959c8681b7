import pino, { Logger } from 'pino';

/** Field paths pino blanks out wherever they appear, so secrets cannot leak through a stray log call. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'connectionString',
  '*.connectionString',
  '*.databaseUrl',
  'APPROVAL_SIGNING_KEY',
  '*.APPROVAL_SIGNING_KEY',
  'NOTIFY_WEBHOOK_URL',
  '*.NOTIFY_WEBHOOK_URL',
  'signature',
  '*.signature',
];

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
