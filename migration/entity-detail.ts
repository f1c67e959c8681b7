import { z } from 'zod';
import { identifier } from './mapping-schema';

/**
 * 主体详情 The entity detail that sampling compares (上线步骤5: 对比主体详情), declared in the mapping:
 * which tables are entities (enterprises, and individual businesses where a registry keeps them in
 * their own table), which column makes the strata (entity type, after its code table), which types
 * to sample, and which tables make an entity's detail — linked to it through their `parent`.
 */
export const entityDetailSchema = z.strictObject({
  entities: z
    .array(
      z.strictObject({
        /** a table of the mapping whose rows are entities */
        table: identifier,
        /** a mapped target column whose value (after its code table) makes the strata; none: one stratum */
        typeColumn: identifier.optional(),
        /** sample only these types (target codes); default: every type found */
        types: z.array(z.string().min(1)).min(1).optional(),
        /** the tables that make an entity's detail, each linked by its parent to the entity or to another of them; default: every such table */
        detail: z.array(identifier).optional(),
      }),
    )
    .min(1),
});

export type EntityDetail = z.infer<typeof entityDetailSchema>;
export type EntityRoot = EntityDetail['entities'][number];

/** The bundled registry's detail, used when a mapping declares none: market_entity by enttype. */
export const DEFAULT_ENTITY_DETAIL: EntityDetail = { entities: [{ table: 'market_entity', typeColumn: 'enttype' }] };

interface TableShape {
  name: string;
  parent?: { column: string; table: string };
  columns: { target: string; source: string }[];
}

/** The tables linked to the root through parents, in the mapping's order (parents before children). */
export function detailTables(tables: readonly TableShape[], root: EntityRoot): string[] {
  const inDetail = new Set([root.table]);
  for (const t of tables) if (t.parent && inDetail.has(t.parent.table) && (!root.detail || root.detail.includes(t.name))) inDetail.add(t.name);
  return tables.filter((t) => t.name !== root.table && inDetail.has(t.name)).map((t) => t.name);
}

/** Problems of a declared detail, with their JSON paths. */
export function entityDetailProblems(tables: readonly TableShape[], detail: EntityDetail): string[] {
  const problems: string[] = [];
  detail.entities.forEach((root, i) => {
    const at = `entityDetail.entities[${i}]`;
    const table = tables.find((t) => t.name === root.table);
    if (!table) {
      problems.push(`${at}.table: unknown table "${root.table}"`);
      return;
    }
    if (root.typeColumn && !table.columns.some((c) => c.target === root.typeColumn)) problems.push(`${at}.typeColumn: "${root.typeColumn}" is not a mapped target column of ${root.table}`);
    const linked = detailTables(tables, { table: root.table });
    for (const [j, name] of (root.detail ?? []).entries()) {
      if (!tables.some((t) => t.name === name)) problems.push(`${at}.detail[${j}]: unknown table "${name}"`);
      else if (!linked.includes(name)) problems.push(`${at}.detail[${j}]: "${name}" is not linked to ${root.table} through parents`);
      else if (!detailTables(tables, root).includes(name)) problems.push(`${at}.detail[${j}]: "${name}" is linked through a table the detail leaves out`);
    }
  });
  return problems;
}
