import type { Field } from './copy-text';

/**
 * A legacy row a source adapter could read but cannot turn into target text (a NUL character that
 * PostgreSQL text cannot hold, bytes the database could not convert, a non-finite float).
 * Adapters put it into the chunk stream *in place of* the row, so the engine counts it as read and
 * quarantines it: per table, rows read = loaded + quarantined still holds.
 *
 * Contract for the engine: every object a SourceAdapter's chunk stream yields is either a CopyLine
 * (a row) or a SourceRejection (check with isSourceRejection before the row transform); quarantine
 * a rejection under `rule` with `detail`, source key `key` and the raw row `fields`.
 */
export interface SourceRejection {
  readonly kind: 'source-rejection';
  /** the quarantine rule, "<family>:<reason>", e.g. "invalid_text:nul" */
  readonly rule: string;
  /** the legacy column that failed (mapping's source name) */
  readonly column: string;
  readonly detail: string;
  /** the row's source key as text, null when the key itself could not be read */
  readonly key: string | null;
  /**
   * the row in the mapping's column order, each field as close to the legacy value as text can
   * be; NUL characters are written as the six characters \u0000 so the quarantine can store them
   */
  readonly fields: Field[];
}

export function isSourceRejection(item: unknown): item is SourceRejection {
  return typeof item === 'object' && item !== null && (item as { kind?: unknown }).kind === 'source-rejection';
}
