import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import { quoteIdent, quoteQualified } from '../lib/db';
import { decodeLine } from '../migration/copy-text';
import type { Mapping, TableMapping } from '../migration/mapping';
import { DEFAULT_ENTITY_DETAIL, detailTables, EntityRoot } from '../migration/entity-detail';
import { findTable, keyColumn, targetColumns } from '../migration/mapping';
import { literal } from '../migration/pg-source';
import { compileTransform, transformText } from '../migration/transform';
import { compareKeys, copyOut, fieldDifferences } from './canonical';
import { correctedKeys, explainedByCorrection, RowDifference } from './content';

/**
 * 分层抽样核对 Stratified sampling: a seeded, reproducible sample of N entities per entity type (the
 * type after mapping, so the legacy local "9999" and "9500" are one stratum), and for each the full
 * detail — the entity, its persons, change history, groups it leads, approval applications with their
 * materials and process steps — read on its own from the legacy database (put through the mapping's
 * transform) and from the target, compared field by field. Independent of the full-content pass:
 * different queries (by parent, not by key range), so one pass's blind spot is not the other's.
 */
export interface SampledEntity {
  /** the entity table it was sampled from (mapping.entityDetail); absent in results made before it was declared */
  table?: string;
  /** the entity's key (named for the bundled registry's PRIPID) */
  pripid: string;
  enttype: string;
  ok: boolean;
  /** rows compared per table (source side, after excluding quarantined rows) */
  rows: Record<string, number>;
  differences: RowDifference[];
}

export interface SampleResult {
  seed: string;
  perType: number;
  ok: boolean;
  strata: { table?: string; enttype: string; population: number; sampled: number; failed: number }[];
  entities: SampledEntity[];
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** The rank of an entity in the sample order: same seed, same sample, on any machine. */
export function sampleRank(seed: string, pripid: string): string {
  return md5(`${seed}:${pripid}`);
}

async function copyLines(client: Client, sql: string): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of copyOut(client, sql) as AsyncIterable<Buffer>) chunks.push(chunk);
  // Decoded once: a character may span two chunks.
  const text = Buffer.concat(chunks).toString('utf8');
  return text.split('\n').filter((l) => l !== '').map((l) => l + '\n');
}

const anyOf = (column: string, values: string[]) => `${quoteIdent(column)}::text = ANY(ARRAY[${values.map(literal).join(', ')}]::text[])`;

export async function sampleEntities(opts: { legacy: Client; target: Client; mapping: Mapping; perType: number; seed: string }): Promise<SampleResult> {
  const detail = opts.mapping.entityDetail ?? DEFAULT_ENTITY_DETAIL;
  const parts: { strata: SampleResult['strata']; entities: SampledEntity[] }[] = [];
  for (const root of detail.entities) parts.push(await sampleRoot(opts, root));
  const entities = parts.flatMap((p) => p.entities);
  return { seed: opts.seed, perType: opts.perType, ok: entities.every((e) => e.ok), strata: parts.flatMap((p) => p.strata), entities };
}

/**
 * One entity table of the declared detail: strata by its type column (after the code table; one
 * stratum when it has none), perType entities of each, and each entity's detail tables compared.
 */
async function sampleRoot(opts: { legacy: Client; target: Client; mapping: Mapping; perType: number; seed: string }, root: EntityRoot): Promise<{ strata: SampleResult['strata']; entities: SampledEntity[] }> {
  const { legacy, target, mapping, perType, seed } = opts;
  const entity = findTable(mapping, root.table);
  const typeCol = root.typeColumn ? entity.columns.find((c) => c.target === root.typeColumn) : undefined;
  const codes = typeCol?.codeTable ? mapping.codeTables.get(typeCol.codeTable)!.values : undefined;
  const srcKey = quoteIdent(entity.source.key);
  const srcType = typeCol ? quoteIdent(typeCol.source) : `'*'::text`;

  // Oversampled per legacy code (quarantined entities are dropped below), ranked like sampleRank.
  const { rows: candidates } = await legacy.query<{ k: string; t: string | null; n: string }>(
    `SELECT k, t, n FROM (
       SELECT ${srcKey}::text AS k, ${srcType}::text AS t, count(*) OVER (PARTITION BY ${srcType}) AS n,
              row_number() OVER (PARTITION BY ${srcType} ORDER BY md5($1 || ':' || ${srcKey}::text)) AS rn
       FROM ${quoteQualified(entity.source.table)}) s
     WHERE rn <= $2`,
    [seed, perType * 3 + 5],
  );
  const held = await quarantined(target, entity, candidates.map((c) => c.k));
  const strata = new Map<string, { population: number; picks: { pripid: string; rank: string }[] }>();
  const populations = new Map<string, number>();
  for (const c of candidates) {
    const mapped = c.t === null ? undefined : codes ? codes.get(c.t.trim()) : c.t;
    if (mapped === undefined) continue; // an unmapped code: quarantined by the migration, nothing to sample
    if (root.types && !root.types.includes(mapped)) continue; // a type the detail does not ask for
    populations.set(JSON.stringify([mapped, c.t]), Number(c.n));
    const s = strata.get(mapped) ?? { population: 0, picks: [] };
    strata.set(mapped, s);
    if (!held.has(c.k)) s.picks.push({ pripid: c.k, rank: sampleRank(seed, c.k) });
  }
  // Population of a stratum: the legacy rows of every local code that maps to it.
  for (const [k, n] of populations) strata.get((JSON.parse(k) as string[])[0])!.population += n;
  const sample: { pripid: string; enttype: string }[] = [];
  for (const [enttype, s] of [...strata].sort(([a], [b]) => compareKeys(a, b))) {
    s.picks.sort((a, b) => compareKeys(a.rank, b.rank));
    for (const p of s.picks.slice(0, perType)) sample.push({ pripid: p.pripid, enttype });
  }

  const results = new Map<string, SampledEntity>(sample.map((s) => [s.pripid, { table: entity.name, ...s, ok: true, rows: {}, differences: [] }]));
  const pripids = sample.map((s) => s.pripid);
  /** For rows of child tables: which sampled entity each parent key belongs to, on each side. */
  const owner = new Map<string, Map<string, string>>([[entity.name, new Map(pripids.map((p) => [p, p]))]]);

  for (const table of [entity, ...detailTables(mapping.tables, root).map((name) => findTable(mapping, name))]) {
    const via = table === entity ? { column: keyColumn(table).target, parent: entity.name } : { column: table.parent!.column, parent: table.parent!.table };
    const parents = owner.get(via.parent);
    if (!parents || !parents.size) continue;
    const parentKeys = [...parents.keys()];
    const srcColumn = table.columns.find((c) => c.target === via.column)!.source;
    const keyIndex = table.columns.indexOf(keyColumn(table));
    const viaIndex = table.columns.findIndex((c) => c.target === via.column);

    const srcLines = await copyLines(legacy, `COPY (SELECT ${table.columns.map((c) => quoteIdent(c.source)).join(', ')} FROM ${quoteQualified(table.source.table)} WHERE ${anyOf(srcColumn, parentKeys)}) TO STDOUT`);
    const tgtLines = await copyLines(target, `COPY (SELECT ${targetColumns(table).map((c) => quoteIdent(c.target)).join(', ')} FROM ${quoteIdent(table.target.table)} WHERE ${anyOf(via.column, parentKeys)}) TO STDOUT`);
    const srcRows = srcLines.map((l) => decodeLine(l.slice(0, -1)));
    const heldHere = await quarantined(target, table, srcRows.map((f) => f[keyIndex] ?? ''));
    // 整改 rows loaded by approved corrections differ from the legacy on purpose
    const corrected = await correctedKeys(target, table);
    const transform = compileTransform(mapping, table);
    const expected = new Map<string, { line: string; pripid: string }>();
    const childOwner = new Map<string, string>();
    const diff = (pripid: string, d: RowDifference) => {
      if (explainedByCorrection(d, corrected)) return;
      const e = results.get(pripid)!;
      e.ok = false;
      e.differences.push(d);
    };
    for (const [i, fields] of srcRows.entries()) {
      const key = fields[keyIndex] ?? '';
      const pripid = parents.get(fields[viaIndex] ?? '')!;
      if (heldHere.has(key)) continue;
      const outcome = transformText(transform, srcLines[i].slice(0, -1));
      if (!outcome.ok) {
        diff(pripid, { table: table.name, kind: 'unaccounted_source_row', key, note: `fails ${outcome.rule} but is not in quarantine` });
        continue;
      }
      expected.set(key, { line: outcome.line, pripid });
      results.get(pripid)!.rows[table.name] = (results.get(pripid)!.rows[table.name] ?? 0) + 1;
      childOwner.set(key, pripid);
    }
    const seen = new Set<string>();
    for (const line of tgtLines) {
      const fields = decodeLine(line.slice(0, -1));
      const key = fields[keyIndex] ?? '';
      const pripid = parents.get(fields[viaIndex] ?? '')!;
      seen.add(key);
      const want = expected.get(key);
      if (!want) diff(pripid, { table: table.name, kind: heldHere.has(key) ? 'quarantined_but_loaded' : 'extra_in_target', key, note: 'in the target, not in the legacy detail of this entity' });
      else if (want.line !== line) diff(want.pripid, { table: table.name, kind: 'changed', key, fields: fieldDifferences(table, want.line, line) });
      else if (want.pripid !== pripid) diff(want.pripid, { table: table.name, kind: 'changed', key, note: `belongs to ${pripid} in the target` });
    }
    for (const [key, want] of expected) if (!seen.has(key)) diff(want.pripid, { table: table.name, kind: 'missing_in_target', key, note: 'in the legacy detail, absent from the target' });
    // Children of this table (materials, process steps) are looked up by its legacy keys.
    owner.set(table.name, childOwner);
  }

  const entities = [...results.values()];
  return {
    strata: [...strata].sort(([a], [b]) => compareKeys(a, b)).map(([enttype, s]) => {
      const mine = entities.filter((e) => e.enttype === enttype);
      return { table: entity.name, enttype, population: s.population, sampled: mine.length, failed: mine.filter((e) => !e.ok).length };
    }),
    entities,
  };
}

async function quarantined(target: Client, table: TableMapping, keys: string[]): Promise<Set<string>> {
  if (!keys.length) return new Set();
  const { rows } = await target.query<{ k: string }>('SELECT source_key AS k FROM migration_quarantine WHERE table_name = $1 AND source_key = ANY($2::text[])', [table.name, keys]);
  return new Set(rows.map((r) => r.k));
}
