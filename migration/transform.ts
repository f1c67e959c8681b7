import type { Field } from './copy-text';
import type { Mapping, TableMapping } from './mapping';

/**
 * Turns one legacy row (fields in the mapping's column order) into the target row, or says why it
 * must go to quarantine instead. Rules are named so that the migration report can count them.
 */
export type RowOutcome = { ok: true; values: Field[] } | { ok: false; rule: string; detail: string };

export type RowTransform = (fields: Field[]) => RowOutcome;

export function compileTransform(mapping: Mapping, table: TableMapping): RowTransform {
  const steps = table.columns.map((col) => {
    const codes = col.codeTable ? mapping.codeTables.get(col.codeTable)!.values : undefined;
    return { col, codes };
  });
  return (fields) => {
    if (fields.length !== steps.length) {
      return { ok: false, rule: 'malformed_row', detail: `expected ${steps.length} fields, got ${fields.length}` };
    }
    const values: Field[] = new Array(steps.length);
    for (let i = 0; i < steps.length; i++) {
      const { col, codes } = steps[i];
      // Oracle cannot store '' (it is NULL there); the target must not invent empty strings either.
      let v = fields[i] === '' ? null : fields[i];
      if (v !== null && codes) {
        const mapped = codes.get(v.trim());
        if (mapped === undefined) {
          return { ok: false, rule: `unmapped_code:${col.codeTable}`, detail: `${col.source}="${v}" is not in code table ${col.codeTable}` };
        }
        v = mapped;
      }
      if (v === null && col.required) {
        return { ok: false, rule: `required:${col.target}`, detail: `${col.source} is empty but ${col.target} is required` };
      }
      values[i] = v;
    }
    return { ok: true, values };
  };
}
