import { quoteIdent } from '../lib/db';
import type { Mapping, TableMapping } from './mapping';

/**
 * 合并 A target table fed by several legacy tables (a union, e.g. enterprises and individual businesses into
 * one market_entity). Each member is a mapped table of its own (its own legacy table, chunks, ledger rows,
 * quarantine and counts) and declares a discriminator: a derived column holding a constant
 * (`"target": { "table": "market_entity", "union": { "column": "source_kind", "value": "GT" } }` beside
 * `"derived": [{ "target": "source_kind", "type": "text", "expr": "'GT'" }]`). Every statement of a member on
 * the shared table — a retried chunk's cleanup, its orphan check, counts, verification segments — is
 * restricted to its own rows by that column, so one member never removes or counts another's rows.
 *
 * 键冲突 Two members giving the same target key: the members load one after the other (loadSteps), and the
 * later one's row meets the earlier one's in the target's primary key. Both are then quarantined, each under
 * `key_collision:<the other member>` — never one silently kept: which source is right is the business's call.
 * The earlier member's row is taken out of the target into its own quarantine (its raw_row: the row as the
 * target held it, the legacy row is not read again), recorded under chunk `collision:<member>:<chunk>` so
 * that a retry of the later member's chunk keeps holding its row back (collidedKeys).
 */
export function unionFilterSql(table: TableMapping, alias = ''): string {
  const u = table.target.union;
  if (!u) return '';
  return ` AND ${alias ? alias + '.' : ''}${quoteIdent(u.column)} = ${literal(u.value)}`;
}

/** The other members of the table's union, in mapping order ([] for a table of its own). */
export function unionMembers(mapping: Pick<Mapping, 'tables'>, table: TableMapping): TableMapping[] {
  return table.target.union ? mapping.tables.filter((t) => t !== table && t.target.table === table.target.table) : [];
}

export function collisionChunk(table: TableMapping, chunkId: string): string {
  return `collision:${table.name}:${chunkId}`;
}

function literal(value: string): string {
  return "'" + value.replace(/'/g, "''") + "'";
}
