import type { Client } from 'pg';
import { quoteIdent } from '../lib/db';
import { literal } from '../migration/pg-source';

/**
 * The generated specification at the seed's size (53 tables, 1,090 data items): the public SAMR
 * interface document is not available here, so this proves the format, the loader and the engine at
 * that size. config/reporting/generated-53.json is this function's output (a test keeps them equal);
 * seedGeneratedRegistry creates matching registry tables with rows for the tests to run it on.
 */
export const GENERATED_TABLES = 53;
export const GENERATED_ITEMS = 1090;

const TYPES = ['text', 'numeric', 'date', 'integer', 'timestamp'] as const;

function tableName(i: number): string {
  return `g${String(i + 1).padStart(2, '0')}`;
}

/** items per table: 30 tables of 21 and 23 of 20 = 1,090 */
function itemCount(i: number): number {
  return i < 30 ? 21 : 20;
}

function itemType(j: number): (typeof TYPES)[number] {
  return j === 0 || j === 1 ? 'text' : TYPES[j % TYPES.length];
}

export function generatedSpec(): object {
  const tables = Array.from({ length: GENERATED_TABLES }, (_, i) => {
    const n = tableName(i);
    const items = Array.from({ length: itemCount(i) }, (_, j) => {
      const type = itemType(j);
      const name = j === 0 ? 'rec_id' : j === 1 ? 'status' : `item_${String(j).padStart(2, '0')}`;
      return {
        name,
        type,
        from: j === 0 ? 'id' : j === 1 ? 'state' : `c${j}`,
        required: j <= 1,
        ...(type === 'text' ? { length: j === 0 ? 40 : j === 1 ? 2 : 120 } : {}),
        ...(j === 1 ? { codeTable: 'regstate' } : type === 'text' && j > 1 ? { clean: ['trim'] } : {}),
      };
    });
    return {
      name: `rpt_${n}`,
      title: `上报表 ${n} generated reported table`,
      source: { table: `src_${n}`, key: 'id' },
      key: 'rec_id',
      changeMarker: { kind: 'change-log' },
      cancellation: { item: 'status', values: ['4'] },
      deletes: { province: i % 2 ? 'tombstone' : 'delete' },
      maxLagMinutes: 30,
      items,
    };
  });
  return {
    description: `generated specification at the seed's size: ${GENERATED_TABLES} tables, ${GENERATED_ITEMS} data items (reporting/generated-spec.ts)`,
    codeTables: { regstate: { file: 'national-codes/regstate.csv', title: '登记状态 registration state → national' } },
    tables,
  };
}

const SQL_TYPE: Record<(typeof TYPES)[number], string> = { text: 'text', numeric: 'numeric(14,2)', date: 'date', integer: 'integer', timestamp: 'timestamp' };

/** A SQL expression of the row number r for item j. */
function value(type: (typeof TYPES)[number], j: number): string {
  switch (type) {
    case 'text':
      return `' 值' || r || '-${j} '`;
    case 'numeric':
      return `((r * 37 + ${j}) % 100000) + ((r + ${j}) % 100) / 100.0`;
    case 'date':
      return `date '2020-01-01' + ((r * 7 + ${j}) % 2000)`;
    case 'integer':
      return `(r * 13 + ${j}) % 1000000`;
    case 'timestamp':
      return `timestamp '2024-03-01 08:00:00' + ((r * 61 + ${j}) % 100000) * interval '1 second'`;
  }
}

/** The registry tables the generated spec reads, each with `rows` rows (status '1', one in ten '1001': no national code). */
export async function seedGeneratedRegistry(registry: Client, rows: number): Promise<void> {
  for (let i = 0; i < GENERATED_TABLES; i++) {
    const n = `src_${tableName(i)}`;
    const cols = ['id text COLLATE "C" PRIMARY KEY', 'state text NOT NULL'];
    const exprs = [`'${tableName(i)}-' || lpad(r::text, 6, '0')`, `CASE WHEN r % 10 = 0 THEN '1001' ELSE '1' END`];
    for (let j = 2; j < itemCount(i); j++) {
      cols.push(`c${j} ${SQL_TYPE[itemType(j)]}`);
      exprs.push(value(itemType(j), j));
    }
    await registry.query(`CREATE TABLE IF NOT EXISTS ${quoteIdent(n)} (${cols.join(', ')})`);
    await registry.query(`INSERT INTO ${quoteIdent(n)} SELECT ${exprs.join(', ')} FROM generate_series(1, ${literal(String(rows))}::int) r`);
  }
}
