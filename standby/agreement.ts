/**
 * Per-table agreement of a check, from its segments: pure (no I/O), so the standby workflow uses it too.
 */
export interface AgreedSegment {
  table: string;
  primaryRows: number;
  standbyRows: number;
  ok: boolean;
  clearedOnRecheck: boolean;
}

export interface TableAgreement {
  table: string;
  primaryRows: number;
  standbyRows: number;
  segments: number;
  differingSegments: number;
  clearedOnRecheck: number;
  ok: boolean;
}

/** Per-table counts: the segments' rows as they were compared, summed; a table agrees when every segment does. */
export function tableAgreement(segments: AgreedSegment[]): TableAgreement[] {
  const by = new Map<string, TableAgreement>();
  for (const s of segments) {
    const t = by.get(s.table) ?? { table: s.table, primaryRows: 0, standbyRows: 0, segments: 0, differingSegments: 0, clearedOnRecheck: 0, ok: true };
    t.primaryRows += s.primaryRows;
    t.standbyRows += s.standbyRows;
    t.segments++;
    if (!s.ok) t.differingSegments++;
    if (s.clearedOnRecheck) t.clearedOnRecheck++;
    t.ok = t.ok && s.ok;
    by.set(s.table, t);
  }
  return [...by.values()];
}
