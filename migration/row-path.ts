import { z } from 'zod';

/**
 * One row's path through the loop (a row of correction_outcome, and of the remediation run's state): held at chunk X →
 * corrected in sheet S (by A, approved by B) → loaded in run R, or still held; a row that loaded flagged at chunk X →
 * corrected in sheet S → updated in place in run R (已整改), or still flagged. A zod shape (zod only: the remediation
 * run's state carries it into the workflow sandbox, and the API documents it from here).
 */
export const rowPath = z.object({
  table: z.string(),
  key: z.string(),
  outcome: z.enum(['loaded', 'still_held', 'updated', 'still_flagged']),
  chunkId: z.string().optional(),
  /** a child that followed its parent in (the parent's table) */
  followed: z.string().optional(),
  rule: z.string().optional(),
  detail: z.string().optional(),
});
export type RowPath = z.infer<typeof rowPath>;
