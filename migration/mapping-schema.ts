import { z } from 'zod';

/**
 * Parts of the mapping's schema shared by its modules (mapping.ts, code-tables.ts, expressions/):
 * kept apart from mapping.ts so those modules need not import it (no cycles).
 */
export const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier (a-z, 0-9, _; at most 63 chars)');
