import type { Field } from '../migration/copy-text';
import type { ReportCleaning, ReportSpec, ReportTable } from './spec';

/**
 * 转换 The report converter: a source row's fields (item order, COPY text decoded) → the reported
 * values, or the reason the row is rejected. Small on purpose: cleansing, code conversion to national
 * codes, required and length checks — the part that can later move onto the mapping language.
 */
const CLEAN: Record<ReportCleaning, (v: string) => string> = {
  trim: (v) => v.trim(),
  upper: (v) => v.toUpperCase(),
  collapseSpaces: (v) => v.replace(/\s+/g, ' '),
};

export type Converted = { ok: true; fields: Field[] } | { ok: false; reason: string };

export type Converter = (fields: Field[]) => Converted;

export function compileConverter(spec: ReportSpec, table: ReportTable): Converter {
  const steps = table.items.map((item) => {
    const cleaners = (item.clean ?? []).map((c) => CLEAN[c]);
    const codes = item.codeTable ? spec.codeTables.get(item.codeTable)! : undefined;
    return (value: Field): Field | { reason: string } => {
      let v = value;
      if (v !== null) for (const c of cleaners) v = c(v);
      if (v === '') v = null;
      if (v !== null && codes) {
        const mapped = codes.values.get(v);
        if (mapped === undefined) return { reason: `${item.name}: code "${v}" has no national code in ${codes.name} (${codes.title})` };
        v = mapped;
      }
      if (v === null && item.required) return { reason: `${item.name}: required, but empty` };
      if (v !== null && item.length !== undefined && [...v].length > item.length) return { reason: `${item.name}: ${[...v].length} characters, at most ${item.length} allowed` };
      return v;
    };
  });
  return (fields) => {
    const out: Field[] = new Array(steps.length);
    const reasons: string[] = [];
    for (let i = 0; i < steps.length; i++) {
      const r = steps[i](fields[i] ?? null);
      if (r !== null && typeof r === 'object') reasons.push(r.reason);
      else out[i] = r;
    }
    return reasons.length ? { ok: false, reason: reasons.join('; ') } : { ok: true, fields: out };
  };
}
