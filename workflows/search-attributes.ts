import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes, registered by scripts/temporal-dev.sh; ops filter runs by them in the Web UI. */
export const RunbookKind = defineSearchAttributeKey('RunbookKind', SearchAttributeType.KEYWORD);
export const RunbookPhase = defineSearchAttributeKey('RunbookPhase', SearchAttributeType.KEYWORD);
export const RunbookStatus = defineSearchAttributeKey('RunbookStatus', SearchAttributeType.KEYWORD);
/** The project plan's overall % complete (0–100), so the UI can sort and filter plans by it. */
export const RunbookProgress = defineSearchAttributeKey('RunbookProgress', SearchAttributeType.INT);
