import type { Client } from 'pg';
import type { ReportSpec } from './spec';
import { sourceTablesOf } from './source-check';

/**
 * 调度顺序 The order a cycle's lanes take the reported tables in: the largest first (the registry's bytes on
 * disk of the tables each reads, pg_total_relation_size — known without statistics), so that the lanes end
 * close together rather than one lane carrying the largest table alone at the end. Equal sizes keep the
 * spec's order; a table the registry does not have counts as empty (the cycle's preflight names it).
 */
export async function largestFirst(registry: Client, spec: ReportSpec, names: string[]): Promise<string[]> {
  const sources = new Map(names.map((n) => [n, sourceTablesOf(spec.tables.find((t) => t.name === n)!)]));
  const all = [...new Set([...sources.values()].flat())];
  const { rows } = await registry.query<{ name: string; bytes: string }>(
    `SELECT t AS name, coalesce(pg_total_relation_size(to_regclass(quote_ident(t))), 0) AS bytes FROM unnest($1::text[]) AS t`,
    [all],
  );
  const bytes = new Map(rows.map((r) => [r.name, Number(r.bytes)]));
  const size = (n: string) => sources.get(n)!.reduce((s, t) => s + (bytes.get(t) ?? 0), 0);
  const at = new Map(names.map((n, i) => [n, i]));
  return [...names].sort((a, b) => size(b) - size(a) || at.get(a)! - at.get(b)!);
}
