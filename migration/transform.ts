import { CLEANERS, RuleFailure } from './cleansing';
import type { Field } from './copy-text';
import type { Mapping, TableMapping } from './mapping';

/**
 * Turns one legacy row (fields in the mapping's column order) into the target row, or says why it
 * must go to quarantine instead. Rules are named so that the migration report can count them.
 */
export type RowOutcome = { ok: true; values: Field[] } | { ok: false; rule: string; detail: string };

export type RowTransform = (fields: Field[]) => RowOutcome;

export function compileTransform(mapping: Mapping, table: TableMapping): RowTransform {
  const steps = table.columns.map((col) => ({
    col,
    clean: col.clean ? CLEANERS[col.clean] : undefined,
    codes: col.codeTable ? mapping.codeTables.get(col.codeTable)!.values : undefined,
  }));
  return (fields) => {
    if (fields.length !== steps.length) {
      return { ok: false, rule: 'malformed_row', detail: `expected ${steps.length} fields, got ${fields.length}` };
    }
    const values: Field[] = new Array(steps.length);
    for (let i = 0; i < steps.length; i++) {
      const { col, clean, codes } = steps[i];
      // Oracle cannot store '' (it is NULL there); the target must not invent empty strings either.
      let v: Field = fields[i] === '' ? null : fields[i];
      if (v !== null && v.includes('\u0000')) {
        return { ok: false, rule: 'invalid_text:nul', detail: `${col.source} contains a NUL character, which the target cannot store` };
      }
      if (v !== null && clean) {
        const cleaned = clean(v);
        if (cleaned instanceof RuleFailure) return { ok: false, rule: `${cleaned.rule}:${col.target}`, detail: `${col.source}: ${cleaned.detail}` };
        v = cleaned;
      }
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
