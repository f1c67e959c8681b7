import { createHash } from 'node:crypto';
import { binaryOf, fieldAt, textOf } from '../migration/copy-text';
import type { Mapping, TableMapping } from '../migration/mapping';
import { isComposite, keyColumn } from '../migration/mapping';
import { keyIndexes, lineKey } from '../migration/composite-key';
import type { Chunk, SourceAdapter, SourceItem } from '../migration/source';
import { isSourceRejection } from '../migration/source-rejection';
import { compileTransform } from '../migration/transform';
import type { RowDifference } from './canonical';

/**
 * The source side of a segment in canonical form: the legacy rows through the adapter and the mapping's
 * transform, quarantined keys left out. Hashes the lines (sourceSide) or hands them over one by one
 * (readSource, for the row diff). Pure work on the adapter: it can run on a worker thread.
 */
export interface SourceSideInput {
  source: SourceAdapter;
  mapping: Mapping;
  table: TableMapping;
  segment: Chunk;
  readPoint: string | null;
}

export interface SourceSideResult {
  /** source rows that must be in the target (transform ok, not quarantined) */
  rows: number;
  /** source rows the migration quarantined: expected absent */
  quarantined: number;
  sha256: string;
  unaccounted: RowDifference[];
}

export async function readSource(
  input: SourceSideInput,
  quarantined: Map<string, string>,
  /** batch: the lines as one binary string; line: one line and its key, as text */
  sink: { batch: (text: string, n: number) => void; line?: (key: string, line: string) => void; unaccounted: (d: RowDifference) => void },
): Promise<{ rows: number; quarantined: number }> {
  const { source, mapping, table, segment, readPoint } = input;
  const transform = compileTransform(mapping, table);
  const keyIndex = table.columns.indexOf(keyColumn(table));
  // Lines and their keys are binary strings (copy-text.ts, CopyLine): the quarantined keys are made so once.
  // 复合主键 a composite key is compared as its encoded text (migration/composite-key.ts)
  const composite = isComposite(table) ? keyIndexes(table) : null;
  const held = new Set(composite ? quarantined.keys() : [...quarantined.keys()].map(binaryOf));
  let rows = 0;
  let heldRows = 0;
  for await (const batch of await source.readChunk(table, segment, readPoint)) {
    let text = '';
    let n = 0;
    for (const item of batch as SourceItem[]) {
      if (isSourceRejection(item)) {
        if (item.key !== null && quarantined.has(item.key)) heldRows++;
        else sink.unaccounted({ table: table.name, kind: 'unaccounted_source_row', key: item.key ?? '(unreadable key)', note: `the source cannot deliver this row (${item.rule}) and it is not in quarantine` });
        continue;
      }
      // The key is cut out only when something needs it: most segments hold no quarantined row.
      const key = held.size || sink.line ? (composite ? lineKey(item, composite) : fieldAt(item, keyIndex) ?? '') : null;
      if (key !== null && held.has(key)) {
        heldRows++;
        continue;
      }
      const outcome = transform(item);
      if (!outcome.ok) {
        const k = composite ? key ?? lineKey(item, composite) : textOf(key ?? fieldAt(item, keyIndex) ?? '');
        sink.unaccounted({ table: table.name, kind: 'unaccounted_source_row', key: k, note: `fails ${outcome.rule} (${outcome.detail}) but is not in quarantine` });
        continue;
      }
      const line = outcome.line;
      text += line;
      n++;
      sink.line?.(composite ? key! : textOf(key!), textOf(line));
    }
    rows += n;
    sink.batch(text, n);
  }
  return { rows, quarantined: heldRows };
}

export async function sourceSide(input: SourceSideInput, quarantined: Map<string, string>, onProgress?: (rows: number) => void): Promise<SourceSideResult> {
  const hash = createHash('sha256');
  const unaccounted: RowDifference[] = [];
  let progress = 0;
  const r = await readSource(input, quarantined, {
    batch: (text, n) => {
      hash.update(text, 'latin1');
      progress += n;
      if (onProgress && progress >= 50_000) {
        onProgress(progress);
        progress = 0;
      }
    },
    unaccounted: (d) => unaccounted.push(d),
  });
  return { rows: r.rows, quarantined: r.quarantined, sha256: hash.digest('hex'), unaccounted };
}
