import { PLAN_DAY } from '../../workflows/plan-messages';
import { dayToMs } from '../../workflows/plan-progress';
import { ProblemError } from '../problems';

/** 项目计划 dates as the plan's start and its item routes take them: a China-time calendar day. */
export const DATE_PATTERN = PLAN_DAY.source;

/** A calendar date that exists (2025-02-30 does not), else a problem naming the field. */
export function realDate(value: string, field: string): string {
  const ms = dayToMs(value);
  if (Number.isNaN(ms) || new Date(ms + 8 * 3600_000).toISOString().slice(0, 10) !== value) {
    throw new ProblemError(400, 'Invalid request', `${field} "${value}" is not a calendar date (YYYY-MM-DD)`, field);
  }
  return value;
}
