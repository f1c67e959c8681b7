import { CLEANERS, RuleFailure } from './cleansing';
import type { Field } from './copy-text';
import type { Mapping, TableMapping } from './mapping';

/**
 * Turns one legacy row (fields in the mapping's column order) into the target row, or says why it
 * must go to quarantine instead. Rules are named so that the migration report can count them.
 */
export type RowOutcome = { ok: true; values: Field[] } | { ok: false; rule: string; detail: string };

export type RowTransform = (fields: Field[]) => RowOutcome;

/**
 * The mapping's CHECK constraints, evaluated before the target sees the row: the target would refuse
 * the row anyway, but catching it here names the rule and spares the chunk a reload in careful mode.
 */
function compileChecks(table: TableMapping): ((values: Field[]) => RowOutcome | null)[] {
  return table.target.checks.map((check) => {
    const [column, op, literal] = check.split(' ');
    const index = table.columns.findIndex((c) => c.target === column);
    const bound = Number(literal);
    const holds: Record<string, (x: number) => boolean> = {
      '>=': (x) => x >= bound, '<=': (x) => x <= bound, '>': (x) => x > bound,
      '<': (x) => x < bound, '=': (x) => x === bound, '<>': (x) => x !== bound,
    };
    return (values) => {
      const v = values[index];
      // NULL passes a CHECK in SQL too.
      if (v === null || holds[op](Number(v))) return null;
      return { ok: false, rule: `check:${column}`, detail: `${column}=${v} violates the target's CHECK (${check})` };
    };
  });
}

export function compileTransform(mapping: Mapping, table: TableMapping): RowTransform {
  const checks = compileChecks(table);
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
    for (const check of checks) {
      const failed = check(values);
      if (failed) return failed;
    }
    return { ok: true, values };
  };
}
