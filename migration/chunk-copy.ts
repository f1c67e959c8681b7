import { createHash } from 'node:crypto';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inTransaction, quoteIdent } from '../lib/db';
import { dialectOf, insertFragments, render, run } from '../lib/dialect';
import { binaryOf, CopyLine, decodeLine, encodeRow, fieldAt, Field, textOf } from './copy-text';
import type { Mapping, TableMapping } from './mapping';
import { findTable, isComposite, isKeyless, keyColumn, targetColumns } from './mapping';
import { encodeKey, fieldsKey, keyIndexes, keyMatchesSql, lineKey, targetKeyArraySql, targetTupleRange } from './composite-key';
import { collisionChunk, unionFilterSql, unionMembers } from './union';
import { castKey, keyRangeSql, parentMissingSql, targetKey } from './key-order';
import type { Chunk, SourceAdapter, SourceItem } from './source';
import { isSourceRejection } from './source-rejection';
import { compileTransform, RowFlag } from './transform';
import { ChunkResult, earlierKeylessAttempt } from './chunk-ledger';

export type { ChunkResult } from './chunk-ledger';

interface Quarantined {
  sourceKey: string | null;
  rule: string;
  detail: string;
  raw: Record<string, Field>;
}

/** A legacy row that passed the mapping, with its target COPY line; the source line is kept for quarantine should the target refuse it. */
interface ConvertedRow {
  source: CopyLine;
  line: string;
  flags?: RowFlag[];
}

/** 问题数据 a row loaded flagged: one data-quality issue per rule it broke */
interface Flagged {
  sourceKey: string | null;
  flag: RowFlag;
}

/** Rows held in memory at once when the target refuses a chunk and it is reloaded in batches. */
const CAREFUL_BATCH = 2000;

/** The chunk's key range on the target, in the table's key order (key-order.ts); bounds as parameters of the key's type. */
function rangeSql(table: TableMapping, chunk: Chunk, alias = ''): { sql: string; params: string[] } {
  const params: string[] = [];
  const param = (value: string) => {
    params.push(value);
    return `$${params.length}`;
  };
  // 复合主键 a composite key: a row-value range (composite-key.ts)
  if (isComposite(table)) return { sql: targetTupleRange(table, chunk, param, ' COLLATE "C"', alias), params };
  const sql = keyRangeSql(targetKey(table, ' COLLATE "C"', alias), chunk, param, { keyType: keyColumn(table).type });
  return { sql, params };
}

/** The rows whose key is one of $1 (target keys as text), in the key's own type for its index; a text that is no such key matches none. */
function ownKeysSql(table: TableMapping, alias: string): string {
  if (isComposite(table)) throw new Error(`${table.name}: a composite key is read in key ranges, not ROWID chunks`);
  const key = keyColumn(table);
  const col = (alias ? alias + '.' : '') + quoteIdent(key.target);
  return `${col} = ANY(ARRAY(SELECT ${castKey('k', 'text', key.type)} FROM unnest($1::text[]) AS own(k)))`;
}

/**
 * Moves one key range of one table into the target, COPY to COPY, accounting for every row: each is
 * either loaded or quarantined with a reason. The chunk is one target transaction that first removes
 * whatever an earlier attempt of the same chunk left, so a retry neither duplicates nor skips a row.
 */
export async function copyChunk(opts: {
  source: SourceAdapter;
  target: Client;
  mapping: Mapping;
  table: TableMapping;
  chunk: Chunk;
  runId: string;
  readPoint: string | null;
  /** the activity attempt doing this work: the ledger keeps it, so redone chunks can be counted */
  attempt: number;
  onProgress?: (rowsRead: number) => void;
}): Promise<ChunkResult> {
  const { source, target, mapping, table, chunk, runId, readPoint, attempt, onProgress } = opts;
  const started = Date.now();
  const transform = compileTransform(mapping, table);
  /** 无键表 a keyless table: no key to clean up by; its chunk is loaded once (earlierKeylessAttempt), its held rows keep source_key NULL */
  const keyless = isKeyless(table);
  const keyIndex = keyless ? -1 : table.columns.indexOf(keyColumn(table));
  /** 复合主键 the key's columns when it has several: its text is then the encoded tuple (composite-key.ts) */
  const composite = isComposite(table) ? keyIndexes(table) : null;
  const targetTable = quoteIdent(table.target.table);
  const copyIn = `COPY ${targetTable} (${targetColumns(table).map((c) => quoteIdent(c.target)).join(', ')}) FROM STDIN`;
  const range = chunk.rowid ? null : rangeSql(table, chunk);
  /** a ROWID chunk: the target keys of the rows this attempt converted (its own rows, for the orphan check) */
  const rowidKeys: string[] = [];
  /** 合并 the other members of this table's union (union.ts), and keys of this chunk held for a key collision with one of them */
  const members = unionMembers(mapping, table);
  const collided = new Map<string, string>();
  const heldByCollision = new Map<string, string>();
  /** rows of this chunk whose quarantine record another member's chunk wrote (heldByCollision), by rule: held, not loaded */
  let heldElsewhere = 0;
  let heldElsewhereByRule: Record<string, number> = {};

  let quarantined: Quarantined[] = [];
  let issues: Flagged[] = [];
  const keyOf = (source: CopyLine): string | null => {
    if (keyless) return null;
    if (composite) return lineKey(source, composite);
    const k = fieldAt(source, keyIndex);
    return k === null ? null : textOf(k);
  };
  const flagRow = (source: CopyLine, flags: RowFlag[]) => {
    const sourceKey = keyOf(source);
    for (const flag of flags) issues.push({ sourceKey, flag });
  };
  let rowsRead = 0;
  /** what the target's COPY commands report they stored (their command tags), less the orphans taken out again */
  let rowsStored = 0;
  let hash = createHash('sha256');
  const rawRow = (fields: Field[]) => {
    const raw: Record<string, Field> = {};
    table.columns.forEach((c, i) => (raw[c.source] = fields[i] ?? null));
    return raw;
  };
  const quarantine = (fields: Field[], rule: string, detail: string) => {
    quarantined.push({ sourceKey: keyless ? null : composite ? fieldsKey(fields, composite) : fields[keyIndex] ?? null, rule, detail, raw: rawRow(fields) });
  };
  // Rows travel as escaped binary lines; only a quarantined row is decoded, for its raw_row record.
  const quarantineLine = (source: CopyLine, rule: string, detail: string) => quarantine(decodeLine(textOf(source)), rule, detail);
  let reported = 0;
  /** Converts a batch of legacy rows; rule failures go to quarantine, the rest go to `loaded` as COPY lines. */
  const convert = (batch: SourceItem[], loaded: (source: CopyLine, line: string, flags?: RowFlag[]) => void): void => {
    for (const item of batch) {
      if (isSourceRejection(item)) {
        quarantined.push({ sourceKey: item.key, rule: item.rule, detail: item.detail, raw: rawRow(item.fields) });
        continue;
      }
      const outcome = transform(item);
      if (outcome.ok && (collided.size || heldByCollision.size)) {
        const k = keyOf(item);
        const heldAs = k === null ? undefined : heldByCollision.get(k);
        if (heldAs !== undefined) {
          heldElsewhere++;
          heldElsewhereByRule[heldAs] = (heldElsewhereByRule[heldAs] ?? 0) + 1;
          continue;
        }
        const other = k === null ? undefined : collided.get(k);
        if (other !== undefined) {
          quarantineLine(item, `key_collision:${other}`, `its key is also given by ${other} (held there too): which source is right is a business decision 键冲突`);
          continue;
        }
      }
      if (outcome.ok) {
        loaded(item, outcome.line, outcome.flags);
        if (range === null && !keyless) {
          const k = fieldAt(outcome.line, keyIndex);
          if (k !== null) rowidKeys.push(textOf(k));
        }
      } else quarantineLine(item, outcome.rule, outcome.detail);
    }
    rowsRead += batch.length;
    if (onProgress && rowsRead - reported >= 20000) {
      reported = rowsRead;
      onProgress(rowsRead);
    }
  };
  const reset = () => {
    quarantined = [];
    issues = [];
    rowsRead = 0;
    reported = 0;
    hash = createHash('sha256');
    rowidKeys.length = 0;
    rowsStored = 0;
    heldElsewhere = 0;
    heldElsewhereByRule = {};
  };

  return inTransaction(target, async () => {
    if (keyless) {
      const done = await earlierKeylessAttempt(target, table, chunk, runId, started);
      if (done) return done;
    }
    // a union member removes only its own rows of the shared table (union.ts)
    if (range) await target.query(`DELETE FROM ${targetTable} WHERE ${range.sql}${unionFilterSql(table)}`, range.params);
    else if (!keyless) await removeEarlierRowidAttempt();
    await target.query('DELETE FROM migration_quarantine WHERE table_name = $1 AND chunk_id = $2', [table.name, chunk.id]);
    await target.query('DELETE FROM migration_data_quality WHERE table_name = $1 AND chunk_id = $2', [table.name, chunk.id]);
    // 键冲突 keys already found in collision with another member of the union (union.ts): another member holds its row
    // under key_collision:<this table> — this one's row is held too; or this table's row was taken out of the target
    // into quarantine by the other member's chunk — it stays there (counted as held, not loaded nor held twice)
    if (members.length) {
      const { rows } = await target.query<{ k: string; t: string }>(
        `SELECT source_key AS k, table_name AS t FROM migration_quarantine WHERE table_name = ANY($1::text[]) AND rule = $2 AND source_key IS NOT NULL`,
        [members.map((m) => m.name), `key_collision:${table.name}`],
      );
      for (const r of rows) collided.set(r.k, r.t);
      const held = await target.query<{ k: string; rule: string }>(`SELECT source_key AS k, rule FROM migration_quarantine WHERE table_name = $1 AND chunk_id LIKE 'collision:%' AND source_key IS NOT NULL`, [table.name]);
      for (const r of held.rows) heldByCollision.set(r.k, r.rule);
    }

    let carefulMode = false;
    let orphanReadFallback: string | undefined;
    await target.query('SAVEPOINT fast_path');
    try {
      const toCopyText = new Transform({
        writableObjectMode: true,
        transform(batch: SourceItem[], _enc: BufferEncoding, done: TransformCallback) {
          let text = '';
          convert(batch, (source, line, flags) => {
            text += line;
            if (flags) flagRow(source, flags);
          });
          // The lines are bytes already (binary strings): one copy, for both the checksum and the wire.
          const bytes = Buffer.from(text, 'latin1');
          hash.update(bytes);
          done(null, bytes);
        },
      });
      const rows = await source.readChunk(table, chunk, readPoint);
      // made just before the pipeline takes it: a COPY stream left unheard across an await would take its
      // connection's end (a terminated backend) as an unhandled 'error' and end the worker (dropped-connections.test.ts)
      const copied = target.query(copyFrom(copyIn));
      await pipeline(rows, toCopyText, copied);
      await target.query('RELEASE SAVEPOINT fast_path');
      rowsStored = copied.rowCount;
    } catch (err) {
      if (!isTargetRejection(err)) throw err;
      // The target refused some row (a constraint, a value it cannot store). Reload the chunk in
      // batches, bisecting failing batches down to the rows it refuses, which go to quarantine.
      await target.query('ROLLBACK TO SAVEPOINT fast_path');
      reset();
      carefulMode = true;
      let pending: ConvertedRow[] = [];
      for await (const batch of await source.readChunk(table, chunk, readPoint)) {
        convert(batch as SourceItem[], (source, line, flags) => pending.push(flags ? { source, line, flags } : { source, line }));
        while (pending.length >= CAREFUL_BATCH) {
          await loadBisecting(pending.slice(0, CAREFUL_BATCH));
          pending = pending.slice(CAREFUL_BATCH);
        }
      }
      await loadBisecting(pending);
    }

    async function loadBisecting(rows: ConvertedRow[]): Promise<void> {
      if (!rows.length) return;
      await target.query('SAVEPOINT batch');
      try {
        const bytes = Buffer.from(rows.map((r) => r.line).join(''), 'latin1');
        const copied = target.query(copyFrom(copyIn));
        await pipeline(Readable.from([bytes]), copied);
        await target.query('RELEASE SAVEPOINT batch');
        rowsStored += copied.rowCount;
        hash.update(bytes);
        for (const r of rows) if (r.flags) flagRow(r.source, r.flags);
      } catch (err) {
        await target.query('ROLLBACK TO SAVEPOINT batch');
        if (!isTargetRejection(err)) throw err;
        if (rows.length === 1) {
          if (members.length && (err as { code?: string }).code === '23505' && (await collide(rows[0]))) return;
          return quarantineLine(rows[0].source, 'rejected_by_target', (err as Error).message);
        }
        const mid = rows.length >> 1;
        await loadBisecting(rows.slice(0, mid));
        await loadBisecting(rows.slice(mid));
      }
    }

    /**
     * 键冲突 The row's key is loaded by another member of the union: that row leaves the target for its member's
     * quarantine, and this one is held too, each naming the other. False when the key is this member's own
     * (a key the legacy table repeats: rejected_by_target as any refused row).
     */
    async function collide(row: ConvertedRow): Promise<boolean> {
      const fields = decodeLine(textOf(row.line));
      const key = composite ? fieldsKey(fields, composite) : fields[keyIndex];
      if (key === null) return false;
      const match = composite ? keyMatchesSql(table, 't', '$1::text') : `t.${quoteIdent(keyColumn(table).target)} = ${castKey('$1::text', 'text', keyColumn(table).type)}`;
      const discriminator = quoteIdent(table.target.union!.column);
      const { rows } = await target.query<{ d: string; raw: Record<string, Field> }>(
        `DELETE FROM ${targetTable} t WHERE ${match} AND t.${discriminator} IS DISTINCT FROM $2 RETURNING t.${discriminator}::text AS d, row_to_json(t) AS raw`,
        [key, table.target.union!.value],
      );
      const other = rows[0] && members.find((m) => m.target.union?.value === rows[0].d);
      if (!other) return false;
      await target.query(
        `INSERT INTO migration_quarantine (run_id, table_name, chunk_id, source_key, rule, detail, raw_row) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [runId, other.name, collisionChunk(table, chunk.id), key, `key_collision:${table.name}`, `its key is also given by ${table.name} (held there too); raw_row is the row as the target held it 键冲突`, JSON.stringify(rows[0].raw)],
      );
      quarantineLine(row.source, `key_collision:${other.name}`, `its key is also given by ${other.name} (held there too): which source is right is a business decision 键冲突`);
      return true;
    }

    /**
     * A ROWID chunk's bounds mean nothing on the target. An earlier attempt left rows only if it committed
     * (its ledger row is written in the same transaction): then the chunk is read once more for its keys —
     * at the one read point a ROWID range gives the same rows every attempt — and exactly those are removed.
     */
    async function removeEarlierRowidAttempt(): Promise<void> {
      const { rows } = await target.query('SELECT 1 FROM migration_chunk WHERE table_name = $1 AND chunk_id = $2', [table.name, chunk.id]);
      if (!rows.length) return;
      const keys: string[] = [];
      for await (const batch of await source.readChunk(table, chunk, readPoint)) {
        for (const item of batch as SourceItem[]) {
          if (isSourceRejection(item)) continue;
          const outcome = transform(item);
          const k = outcome.ok ? fieldAt(outcome.line, keyIndex) : null;
          if (k !== null) keys.push(textOf(k));
        }
      }
      await target.query(`DELETE FROM ${targetTable} WHERE ${ownKeysSql(table, '')}`, [keys]);
    }

    if (table.parent) await quarantineOrphans();

    async function quarantineOrphans(): Promise<void> {
      const parent = findTable(mapping, table.parent!.table);
      const key = keyColumn(table).target;
      // Checked against the target, not the legacy side: a child whose parent was quarantined is an orphan there too.
      const inRange = range ? rangeSql(table, chunk, 'c') : { sql: ownKeysSql(table, 'c'), params: [rowidKeys] };
      const { rows } = await target.query<{ k: string; fk: string }>(
        `DELETE FROM ${targetTable} c WHERE ${inRange.sql}${unionFilterSql(table, 'c')} AND ${parentMissingSql(table, parent, 'c')}
         RETURNING ${composite ? targetKeyArraySql(table, 'c') : `c.${quoteIdent(key)}::text`} AS k, c.${quoteIdent(table.parent!.column)}::text AS fk`,
        inRange.params,
      );
      // a composite key comes back as its components' texts: encoded as every side holds it
      if (composite) for (const r of rows) r.k = encodeKey(r.k as unknown as string[]);
      rowsStored -= rows.length;
      if (!rows.length) return;
      // 等待父记录 A child whose parent is held in quarantine waits for it (waiting_for:<parent>:<key>) and follows
      // it in when the parent is corrected and loaded; a parent the legacy never had makes a real orphan.
      const held = new Set(
        (
          await target.query<{ k: string }>('SELECT DISTINCT source_key AS k FROM migration_quarantine WHERE table_name = $1 AND source_key = ANY($2::text[])', [
            parent.name,
            [...new Set(rows.map((r) => r.fk))],
          ])
        ).rows.map((r) => r.k),
      );
      const orphanRule = (fk: string) => (held.has(fk) ? `waiting_for:${parent.name}:${fk}` : `orphan:${parent.name}`);
      const orphanDetail = (fk: string) =>
        held.has(fk) ? `${table.parent!.column}=${fk}: its ${parent.name} row is held in quarantine; loaded when it is` : `${table.parent!.column}=${fk} has no ${parent.name} row in the target`;
      // Their rows are quarantined, not loaded: no data-quality issue stays for them.
      const orphanKeys = new Set(rows.map((r) => r.k));
      if (issues.length) issues = issues.filter((i) => i.sourceKey === null || !orphanKeys.has(i.sourceKey));
      // The quarantine keeps the legacy row as read: the orphans' lines are read again from the source —
      // by their keys where the source can (a few rows), else, or for a key not found so, the whole chunk.
      const orphans = new Map(rows.map((r) => [composite ? r.k : binaryOf(r.k), r.fk]));
      const holdAsRead = async (items: Readable) => {
        for await (const batch of items) {
          for (const item of batch as SourceItem[]) {
            if (isSourceRejection(item)) continue;
            const k = composite ? lineKey(item, composite) : fieldAt(item, keyIndex);
            const fk = k === null ? undefined : orphans.get(k);
            if (fk === undefined) continue;
            orphans.delete(k!);
            quarantineLine(item, orphanRule(fk), orphanDetail(fk));
          }
        }
      };
      if (!composite && source.readKeys && orphans.size <= ORPHAN_KEYS_READ_MAX) {
        // a key the legacy type cannot take (its text differs on the target) fails the read: the chunk is read instead
        await source
          .readKeys(table, rows.map((r) => r.k), readPoint)
          .then(holdAsRead)
          .catch((err: unknown) => {
            orphanReadFallback = `the key read failed: ${err instanceof Error ? err.message : String(err)}`;
          });
        if (orphans.size && !orphanReadFallback) orphanReadFallback = `the key read missed ${orphans.size} of ${rows.length} keys`;
      }
      if (orphans.size) await holdAsRead(await source.readChunk(table, chunk, readPoint));
      // A row the target holds but the source no longer gives back (it cannot happen at one read point): kept with the target's key.
      for (const [k, fk] of orphans) {
        if (composite) {
          quarantined.push({ sourceKey: k, rule: orphanRule(fk), detail: `${orphanDetail(fk)} (legacy row not found again)`, raw: {} });
          continue;
        }
        quarantine(table.columns.map((_, i) => (i === keyIndex ? textOf(k) : null)), orphanRule(fk), `${orphanDetail(fk)} (legacy row not found again)`);
      }
    }

    const byRule: Record<string, number> = { ...heldElsewhereByRule };
    for (const q of quarantined) {
      // waiting_for:<parent>:<key> counts under waiting_for:<parent>
      const rule = q.rule.startsWith('waiting_for:') ? q.rule.slice(0, q.rule.lastIndexOf(':')) : q.rule;
      byRule[rule] = (byRule[rule] ?? 0) + 1;
    }
    const flaggedByRule: Record<string, number> = {};
    for (const i of issues) flaggedByRule[i.flag.rule] = (flaggedByRule[i.flag.rule] ?? 0) + 1;
    if (issues.length) {
      // in bulk, one COPY per chunk: rows that break no rule cost nothing here
      const lines = issues.map((i) => encodeRow([runId, table.name, chunk.id, i.sourceKey, i.flag.rule, i.flag.column, i.flag.raw, i.flag.detail]));
      await pipeline(
        Readable.from(lines),
        target.query(copyFrom('COPY migration_data_quality (run_id, table_name, chunk_id, source_key, rule, column_name, raw_value, detail) FROM STDIN')),
      );
    }
    if (quarantined.length) {
      const lines = quarantined.map((q) => encodeRow([runId, table.name, chunk.id, q.sourceKey, q.rule, q.detail, JSON.stringify(q.raw)]));
      await pipeline(
        Readable.from(lines),
        target.query(copyFrom('COPY migration_quarantine (run_id, table_name, chunk_id, source_key, rule, detail, raw_row) FROM STDIN')),
      );
    }
    const rowsLoaded = rowsRead - quarantined.length - heldElsewhere;
    const checksum = hash.digest('hex');
    // The ledger row replaces an earlier attempt's, in the target's dialect (lib/dialect.ts: ON CONFLICT, or DELETE + INSERT).
    const ledger = ['table_name', 'chunk_id', 'run_id', 'key_from', 'key_to', 'rows_read', 'rows_loaded', 'rows_quarantined', 'checksum', 'attempt'];
    await run(
      target,
      render(dialectOf(target), 'upsert', insertFragments('migration_chunk', ledger, ['table_name', 'chunk_id'], ['finished_at']), [
        table.name, chunk.id, runId, chunk.keyFrom, chunk.keyTo, rowsRead, rowsLoaded, quarantined.length + heldElsewhere, checksum, attempt,
      ]),
    );
    return {
      table: table.name,
      chunkId: chunk.id,
      rowsRead,
      rowsLoaded,
      rowsQuarantined: quarantined.length + heldElsewhere,
      quarantinedByRule: byRule,
      flaggedByRule,
      checksum,
      carefulMode,
      durationMs: Date.now() - started,
      rowsStored,
      ...(orphanReadFallback ? { orphanReadFallback } : {}),
    };
  });
}

/** Orphans of one chunk read back by their keys (SourceAdapter.readKeys) up to this many; more, and the chunk is read again. */
const ORPHAN_KEYS_READ_MAX = 5_000;

/** Errors that mean "the target will not take this data" (SQLSTATE classes 22 data exception, 23 constraint violation). */
function isTargetRejection(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
