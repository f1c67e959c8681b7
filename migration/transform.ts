import { CLEANERS, RuleFailure } from './cleansing';
import { CopyFields, decodeField, encodeField, Field, NULL_FIELD } from './copy-text';
import type { ColumnMapping, Mapping, TableMapping } from './mapping';

/**
 * Turns one legacy row (COPY text fields in the mapping's column order) into the target's COPY line,
 * or says why it must go to quarantine instead. Rules are named so that the migration report can
 * count them.
 *
 * The row stays in COPY text form throughout: a column with no rule passes its escaped text through
 * untouched (only '' becomes NULL and a required column is checked), and only the fields a rule reads
 * are decoded and re-encoded. Most columns of a registry table have no rule, and decoding and encoding
 * every field was most of the engine's CPU per row.
 */
export type RowFailure = { ok: false; rule: string; detail: string };
export type RowOutcome = { ok: true; line: string } | RowFailure;

export type RowTransform = (fields: CopyFields) => RowOutcome;

/** One column's conversion: the target's escaped field, or the reason the row is quarantined. */
type ColumnStep = (raw: string) => string | RowFailure;

const fail = (rule: string, detail: string): RowFailure => ({ ok: false, rule, detail });

function compileColumn(mapping: Mapping, col: ColumnMapping): ColumnStep {
  const missing = () => fail(`required:${col.target}`, `${col.source} is empty but ${col.target} is required`);
  const clean = col.clean ? CLEANERS[col.clean] : undefined;
  const codes = col.codeTable ? mapping.codeTables.get(col.codeTable)!.values : undefined;

  if (!clean && !codes) {
    // Oracle cannot store '' (it is NULL there); the target must not invent empty strings either.
    return col.required
      ? (raw) => (raw === '' || raw === NULL_FIELD ? missing() : raw)
      : (raw) => (raw === '' ? NULL_FIELD : raw);
  }
  return (raw) => {
    let v: Field = raw === '' ? null : decodeField(raw);
    if (v !== null && clean) {
      const cleaned = clean(v);
      if (cleaned instanceof RuleFailure) return fail(`${cleaned.rule}:${col.target}`, `${col.source}: ${cleaned.detail}`);
      v = cleaned;
    }
    if (v !== null && codes) {
      const mapped = codes.get(v.trim());
      if (mapped === undefined) return fail(`unmapped_code:${col.codeTable}`, `${col.source}="${v}" is not in code table ${col.codeTable}`);
      v = mapped;
    }
    if (v === null && col.required) return missing();
    return encodeField(v);
  };
}

/**
 * The mapping's CHECK constraints, evaluated before the target sees the row: the target would refuse
 * the row anyway, but catching it here names the rule and spares the chunk a reload in careful mode.
 */
function compileChecks(table: TableMapping): ((out: CopyFields) => RowFailure | null)[] {
  return table.target.checks.map((check) => {
    const [column, op, literal] = check.split(' ');
    const index = table.columns.findIndex((c) => c.target === column);
    const bound = Number(literal);
    const holds: Record<string, (x: number) => boolean> = {
      '>=': (x) => x >= bound, '<=': (x) => x <= bound, '>': (x) => x > bound,
      '<': (x) => x < bound, '=': (x) => x === bound, '<>': (x) => x !== bound,
    };
    return (out) => {
      const v = decodeField(out[index]);
      // NULL passes a CHECK in SQL too.
      if (v === null || holds[op](Number(v))) return null;
      return fail(`check:${column}`, `${column}=${v} violates the target's CHECK (${check})`);
    };
  });
}

export function compileTransform(mapping: Mapping, table: TableMapping): RowTransform {
  const checks = compileChecks(table);
  const steps = table.columns.map((col) => compileColumn(mapping, col));
  const n = steps.length;
  return (fields) => {
    if (fields.length !== n) return fail('malformed_row', `expected ${n} fields, got ${fields.length}`);
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = steps[i](fields[i]);
      if (typeof v !== 'string') return v;
      out[i] = v;
    }
    for (const check of checks) {
      const failed = check(out);
      if (failed) return failed;
    }
    return { ok: true, line: out.join('\t') + '\n' };
  };
}
