import path from 'node:path';
import { parseReportSpec, ReportSpec } from '../../reporting/spec';

/**
 * The report specification the row tests share (rows.ts, batch-encoder.ts): one table with every kind of
 * rule — required, length, trim, collapseSpaces, upper, two code tables, a cancellation item — and any
 * further tables a test adds, each written as its name, cancellation and items only.
 */
const dir = path.join(__dirname, '..', '..', 'config', 'reporting');

type Items = Record<string, unknown>[];

function table(name: string, cancellation: { item: string; values: string[] }, deletes: 'delete' | 'tombstone', items: Items) {
  return { name, title: name, source: { table: name.replace(/^rpt_/, ''), key: 'k' }, key: 'k', changeMarker: { kind: 'change-log' }, cancellation, deletes: { province: deletes }, items };
}

export function reportTestSpec(more: { name: string; cancellation: { item: string; values: string[] }; items: Items }[] = []): ReportSpec {
  return parseReportSpec(
    {
      codeTables: { enttype: { file: 'national-codes/enttype.csv', title: 'types' }, regstate: { file: 'national-codes/regstate.csv', title: 'states' } },
      tables: [
        table('rpt_t', { item: 'state', values: ['3', '4'] }, 'delete', [
          { name: 'k', type: 'text', from: 'k', required: true, length: 40 },
          { name: 'name', type: 'text', from: 'name', required: true, length: 6, clean: ['trim', 'collapseSpaces'] },
          { name: 'code', type: 'text', from: 'code', length: 5, clean: ['trim', 'upper'] },
          { name: 'etype', type: 'text', from: 'etype', codeTable: 'enttype' },
          { name: 'state', type: 'text', from: 'state', required: true, codeTable: 'regstate' },
          { name: 'note', type: 'text', from: 'note' },
          { name: 'amount', type: 'numeric', from: 'amount' },
        ]),
        ...more.map((t) => table(t.name, t.cancellation, 'tombstone', t.items)),
      ],
    },
    path.join(dir, 'test.json'),
  );
}
