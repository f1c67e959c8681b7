import { z } from 'zod';

/**
 * 预检 What a preflight reports, as zod shapes (zod only: the cutover's state carries it into the workflow sandbox
 * and the API documents it from here).
 */

/**
 * One problem a preflight (预检) found before anything runs: where (a JSON path into the mapping, or a
 * legacy object such as "registry.e_baseinfo.entname"), what is wrong, and what the operator or DBA must do.
 */
export const preflightProblem = z.object({
  where: z.string(),
  problem: z.string(),
  action: z.string().optional(),
  /** a warning is reported but does not stop the run (codes that will be quarantined, a key without an index); absent = an error */
  severity: z.literal('warning').optional(),
});
export type PreflightProblem = z.infer<typeof preflightProblem>;

export const preflightReport = z.object({
  at: z.string(),
  errors: z.array(preflightProblem),
  warnings: z.array(preflightProblem),
  /** what was looked at: tables, columns, code columns */
  checked: z.object({ tables: z.number().int(), columns: z.number().int(), codeColumns: z.number().int() }),
});
export type PreflightReport = z.infer<typeof preflightReport>;
