import { z } from 'zod';
import { identifier } from './mapping-schema';

/**
 * 业务测试 Where the business tests read back what the new system's business interface wrote (上线步骤5: 变更、注销
 * 业务测试), declared in the mapping beside the tables (`businessTests`): the entity table with its address and
 * state columns, the change record table, and the application a cancellation writes. The interface is the new
 * system's (reference-app/app.ts implements it); this says where its writes land in the target, so the tests
 * take the database's word, not the API's. Absent: the bundled registry's layout (REFERENCE_BUSINESS_LAYOUT).
 */
export const businessLayoutSchema = z.strictObject({
  entity: z.strictObject({
    table: identifier,
    key: identifier,
    /** 住所 the column a change of address writes */
    address: identifier,
    /** 登记状态 the registration state column */
    state: identifier,
    /** the state of an entity that may be tested (存续 active) */
    active: z.string().min(1),
    /** the state after a cancellation (注销) */
    cancelled: z.string().min(1),
  }),
  change: z.strictObject({
    table: identifier,
    key: identifier,
    /** the column naming the entity */
    entity: identifier,
    before: identifier,
    after: identifier,
    date: identifier,
  }),
  cancellation: z.strictObject({
    table: identifier,
    key: identifier,
    entity: identifier,
    /** the column holding the application's type, and the type of a cancellation */
    type: identifier,
    value: z.string().min(1),
  }),
});

export type BusinessLayout = z.infer<typeof businessLayoutSchema>;

/** The bundled registry's (and the reference application's) layout. */
export const REFERENCE_BUSINESS_LAYOUT: BusinessLayout = {
  entity: { table: 'market_entity', key: 'pripid', address: 'dom', state: 'regstate', active: '1', cancelled: '4' },
  change: { table: 'entity_change', key: 'altid', entity: 'pripid', before: 'altbe', after: 'altaf', date: 'altdate' },
  cancellation: { table: 'approval_application', key: 'appid', entity: 'pripid', type: 'apptype', value: '03' },
};

/**
 * The layout against the mapping: each table a mapped target table, each column one of its target columns —
 * every problem with its JSON path.
 */
export function businessLayoutProblems(tables: { target: { table: string }; columns: { target: string }[]; derived?: { target: string }[] }[], layout: BusinessLayout): string[] {
  const problems: string[] = [];
  const check = (part: 'entity' | 'change' | 'cancellation', columns: string[]) => {
    const table = layout[part].table;
    const mapped = tables.filter((t) => t.target.table === table);
    if (!mapped.length) {
      problems.push(`businessTests.${part}.table: "${table}" is not a target table of the mapping`);
      return;
    }
    const have = new Set(mapped.flatMap((t) => [...t.columns, ...(t.derived ?? [])].map((c) => c.target)));
    for (const field of columns) {
      const column = (layout[part] as Record<string, string>)[field];
      if (!have.has(column)) problems.push(`businessTests.${part}.${field}: "${column}" is not a column of target table "${table}"`);
    }
  };
  check('entity', ['key', 'address', 'state']);
  check('change', ['key', 'entity', 'before', 'after', 'date']);
  check('cancellation', ['key', 'entity', 'type']);
  return problems;
}
