import { CLEANERS, ON_BYTES, RuleFailure } from './cleansing';
import { binaryOf, CopyLine, decodeField, encodeField, Field, NULL_FIELD, textOf } from './copy-text';
import { columnsOf, compileExpression, Evaluator, Expr, parseExpression, Value } from './expressions';
import type { ColumnMapping, ColumnType, Mapping, TableMapping } from './mapping';
import { keyColumn, keyColumns } from './mapping';
import { policyFor, ruleKind } from './anomaly-policy';

/**
 * Turns one legacy row (a COPY text line, columns in the mapping's order) into the target's COPY line,
 * or says why it must go to quarantine instead. Rules are named so that the migration report can
 * count them.
 *
 * The row stays one line throughout: the transform walks the TABs with indexOf, a column with no rule
 * keeps its escaped text where it is (only '' becomes NULL and a required column is checked), and only
 * the fields a rule reads are cut out, decoded and re-encoded. Most columns of a registry table have no
 * rule, and splitting, decoding, encoding and joining every field was most of the CPU per row — for the
 * migration, and again for the verification, which runs the same transform on the source side.
 */
export type RowFailure = { ok: false; rule: string; detail: string };
/**
 * A rule the row broke under a `load_flagged` policy (anomaly-policy.ts): the row is loaded with the
 * field set as the policy says, and this becomes a data-quality issue. raw: the legacy field as text.
 */
export interface RowFlag {
  rule: string;
  column: string;
  raw: string | null;
  detail: string;
}
/** line: the target's COPY line with its LF, a binary string like the input (copy-text.ts, CopyLine); flags only when some rule was loaded flagged */
export type RowOutcome = { ok: true; line: string; flags?: RowFlag[] } | RowFailure;

export type RowTransform = (line: CopyLine) => RowOutcome;

/** One line of real text through a transform, the outcome's line as text: for sampling and tests. */
export function transformText(transform: RowTransform, line: string): RowOutcome {
  const outcome = transform(binaryOf(line));
  return outcome.ok ? { ...outcome, line: textOf(outcome.line) } : outcome;
}

/** A ruled column's conversion: the target's escaped field, or the reason the row is quarantined. */
type ColumnRule = (raw: string) => string | RowFailure;

const fail = (rule: string, detail: string): RowFailure => ({ ok: false, rule, detail });

function missing(col: ColumnMapping): RowFailure {
  return fail(`required:${col.target}`, `${col.source} is empty but ${col.target} is required`);
}

/**
 * A field of printable ASCII without a backslash is its own text and its own escaped form; most ruled
 * fields are (codes, dates, credit codes), and most come out of their rule unchanged, so the common
 * case neither decodes nor re-encodes.
 */
// eslint-disable-next-line no-control-regex -- control bytes are not plain text and need the escaping path
const NOT_PLAIN = /[\\\x00-\x1f\x80-\xff]/;

/**
 * A code table looked up by the legacy code's escaped bytes, giving the target code's: most codes are
 * Chinese words (设立, 变更), which the full path decodes first. Codes with blanks around them are left
 * out, since the full path trims the value before it looks it up.
 */
function codesOnBytes(codes: Map<string, string>): (field: string) => string | undefined {
  const onBytes = new Map<string, string>();
  for (const [legacy, target] of codes) if (legacy === legacy.trim()) onBytes.set(binaryOf(encodeField(legacy)), binaryOf(encodeField(target)));
  return (field) => onBytes.get(field);
}

/** A column's anomaly policy per rule kind: undefined to quarantine, else the escaped field to load. */
type FillFor = (rule: string) => string | undefined;

function fillFor(mapping: Mapping, table: TableMapping, col: { target: string; type: ColumnType; required: boolean; codeTable?: string; onAnomaly?: ColumnMapping['onAnomaly'] }): FillFor {
  const where = { keyColumn: table.source.keyless ? '' : keyColumn(table).target, keyColumns: keyColumns(table).map((c) => c.target), parentColumn: table.parent?.column };
  const memo = new Map<string, string | undefined>();
  return (rule) => {
    if (memo.has(rule)) return memo.get(rule);
    const kind = ruleKind(rule);
    const p = kind ? policyFor(kind, col, where, mapping.anomalyPolicies) : { policy: 'quarantine' as const };
    const fill = p.policy === 'quarantine' ? undefined : p.value === null ? NULL_FIELD : binaryOf(encodeField(p.value));
    memo.set(rule, fill);
    return fill;
  };
}

/** An escaped legacy field (binary string) as its text, for a data-quality issue. */
function rawText(field: string): string | null {
  const d = decodeField(field);
  return d === null ? null : textOf(d);
}

/** Where a rule loaded flagged reports itself: the transform's row under way. */
type OnFlag = (rule: string, column: string, raw: string, detail: string) => void;

function flagged(failure: RowFailure, col: ColumnMapping, raw: string, fill: FillFor, onFlag: OnFlag): string | RowFailure {
  const field = fill(failure.rule);
  if (field === undefined) return failure;
  onFlag(failure.rule, col.target, raw, failure.detail);
  return field;
}

function compileRule(mapping: Mapping, col: ColumnMapping, fill: FillFor, onFlag: OnFlag): ColumnRule {
  const clean = col.clean ? CLEANERS[col.clean] : undefined;
  const codes = col.codeTable ? mapping.codeTables.get(col.codeTable)!.values : undefined;
  const onBytes = clean ? (codes ? undefined : ON_BYTES[col.clean!]) : codes && codesOnBytes(codes);
  return (raw) => {
    if (raw !== '' && onBytes) {
      const answer = onBytes(raw);
      if (answer !== undefined) return answer;
    }
    const plain = !NOT_PLAIN.test(raw);
    // Oracle cannot store '' (it is NULL there); the target must not invent empty strings either.
    const decoded = raw === '' ? null : plain ? raw : decodeField(raw);
    let v: Field = decoded === null || plain ? decoded : textOf(decoded);
    if (v !== null && clean) {
      const cleaned = clean(v);
      if (cleaned instanceof RuleFailure) return flagged(fail(`${cleaned.rule}:${col.target}`, `${col.source}: ${cleaned.detail}`), col, raw, fill, onFlag);
      v = cleaned;
    }
    if (v !== null && codes) {
      const mapped = codes.get(v.trim());
      if (mapped === undefined) return flagged(fail(`unmapped_code:${col.codeTable}`, `${col.source}="${v}" is not in code table ${col.codeTable}`), col, raw, fill, onFlag);
      v = mapped;
    }
    if (v === null && col.required) return flagged(missing(col), col, raw, fill, onFlag);
    return plain && v === raw ? raw : binaryOf(encodeField(v));
  };
}

/**
 * What runs on a converted row when the mapping has CHECKs or derived columns (expressions/): the
 * derived columns' fields, appended in order, then the CHECKs over mapped and derived values — the
 * target would refuse the row anyway, but catching it here names the rule and spares the chunk a
 * reload in careful mode. Undefined when the table has neither, so such rows pay nothing.
 */
/** the fields to append (with their TABs), or why the row is quarantined */
type AfterRow = (read: (string | undefined)[]) => string | RowFailure;

/** A target field (escaped COPY text) as the value an expression sees, by the column's type. */
function fieldValue(type: ColumnType, field: string): Value {
  const raw = decodeField(field);
  if (raw === null) return null;
  if (type === 'boolean') return raw === 't' ? true : raw === 'f' ? false : raw;
  if (type === 'numeric' || type === 'integer' || type === 'bigint') {
    const n = Number(raw);
    return Number.isNaN(n) ? raw : n;
  }
  return NOT_PLAIN.test(raw) ? textOf(raw) : raw;
}

/**
 * The common CHECK, a mapped column against a number ("regcap >= 0"), read straight off the field:
 * what the general evaluator does, without its lookups, on a table's every row.
 */
function numberBound(e: Expr, table: TableMapping, row: () => (string | undefined)[]): Evaluator | undefined {
  if (e.k !== 'cmp' || e.l.k !== 'col' || e.r.k !== 'lit' || typeof e.r.v !== 'number') return undefined;
  const i = table.columns.findIndex((c) => c.target === (e.l as { name: string }).name);
  if (i === -1 || !['numeric', 'integer', 'bigint'].includes(table.columns[i].type)) return undefined;
  const [op, bound] = [e.op, e.r.v];
  return () => {
    const raw = decodeField(row()[i]!);
    const x = raw === null ? NaN : Number(raw);
    if (Number.isNaN(x)) return null;
    return op === '>=' ? x >= bound : op === '>' ? x > bound : op === '<=' ? x <= bound : op === '<' ? x < bound : op === '=' ? x === bound : x !== bound;
  };
}

/** A derived value as the target's escaped field (a binary string). */
function valueField(v: Value): string {
  if (v === null) return NULL_FIELD;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return binaryOf(encodeField(typeof v === 'number' ? String(v) : v));
}

function compileAfterRow(table: TableMapping): { after?: AfterRow; reads: boolean[] } {
  const derived = (table.derived ?? []).map((d) => ({ d, evaluate: compileExpression(parseExpression(d.expr)) }));
  let row: (string | undefined)[] = [];
  const checks = table.target.checks.map((src) => {
    const expr = parseExpression(src);
    const fast = numberBound(expr, table, () => row);
    return { src, columns: [...columnsOf(expr)], holds: fast ?? compileExpression(expr), fast: fast !== undefined };
  });
  const general = derived.length > 0 || checks.some((c) => !c.fast);
  const index = new Map(table.columns.map((c, i) => [c.target, i]));
  const reads = table.columns.map(() => false);
  for (const e of [...derived.map((x) => parseExpression(x.d.expr)), ...table.target.checks.map(parseExpression)]) {
    for (const col of columnsOf(e)) if (index.has(col)) reads[index.get(col)!] = true;
  }
  if (!derived.length && !checks.length) return { reads };
  const types = new Map<string, ColumnType>([...table.columns, ...(table.derived ?? [])].map((c) => [c.target, c.type]));
  const missingOf = derived.map(({ d }) => fail(`required:${d.target}`, `derived column ${d.target} (${d.expr}) is NULL but required`));
  // One reader for every row (no allocation per row): a column's value is decoded once per row, when first asked for.
  const slots = new Map<string, number>([...types.keys()].map((name, k) => [name, k]));
  const slotIndex = [...types.keys()].map((name) => index.get(name) ?? -1);
  const slotType = [...types.values()];
  const cache: Value[] = new Array(slots.size).fill(null);
  const known = new Uint8Array(slots.size);
  const get = (name: string): Value => {
    const k = slots.get(name)!;
    if (!known[k]) {
      cache[k] = fieldValue(slotType[k], row[slotIndex[k]]!);
      known[k] = 1;
    }
    return cache[k];
  };
  return {
    reads,
    after: (read) => {
      row = read;
      if (general) known.fill(0);
      let suffix = '';
      for (let i = 0; i < derived.length; i++) {
        const v = derived[i].evaluate(get);
        if (v === null && derived[i].d.required) return missingOf[i];
        const k = slots.get(derived[i].d.target)!;
        cache[k] = v;
        known[k] = 1;
        suffix += '\t' + valueField(v);
      }
      for (const check of checks) {
        // NULL passes a CHECK in SQL too: only false fails.
        if (check.holds(get) === false) {
          // the fast checks read no cache: what it holds may be another row's
          if (!general) known.fill(0);
          const shown = check.columns.map((c) => `${c}=${get(c) ?? 'NULL'}`).join(', ');
          return fail(`check:${check.columns[0] ?? 'row'}`, `${shown} violates the target's CHECK (${check.src})`);
        }
      }
      return suffix;
    },
  };
}

const PLAIN = 0;
const REQUIRED = 1;
const RULED = 2;
const BACKSLASH = 92;
const LETTER_N = 78;

export function compileTransform(mapping: Mapping, table: TableMapping): RowTransform {
  const n = table.columns.length;
  const kinds = table.columns.map((c) => (c.clean || c.codeTable ? RULED : c.required ? REQUIRED : PLAIN));
  let flags: RowFlag[] | undefined;
  const onFlag: OnFlag = (rule, column, raw, detail) => (flags ??= []).push({ rule, column, raw: rawText(raw), detail });
  const fills = table.columns.map((c) => fillFor(mapping, table, c));
  const rules = table.columns.map((c, i) => (kinds[i] === RULED ? compileRule(mapping, c, fills[i], onFlag) : undefined));
  const missingOf = table.columns.map((c) => missing(c));
  /** a required column without a rule: its placeholder when the row is loaded flagged, else undefined */
  const missingFill = table.columns.map((_c, i) => fills[i](missingOf[i].rule));
  /** a CHECK failing on column i, loaded flagged: the column set as its policy says (NULL passes a CHECK) */
  const checkFill = new Map<string, { i: number; fill: string | undefined }>();
  for (const src of table.target.checks) {
    const cols = [...columnsOf(parseExpression(src))];
    const i = table.columns.findIndex((c) => c.target === cols[0]);
    if (cols.length === 1 && i !== -1) checkFill.set(`check:${cols[0]}`, { i, fill: fills[i](`check:${cols[0]}`) });
  }
  const done_ = (l: string): RowOutcome => (flags ? { ok: true, line: l + '\n', flags } : { ok: true, line: l + '\n' });
  const { after, reads: isRead } = compileAfterRow(table);
  const read: (string | undefined)[] = new Array(n);
  // A local copy: under the CommonJS transform the worker runs with, an imported binding is read through a getter, per row here.
  const nullField = NULL_FIELD;
  const malformed = (line: string) => fail('malformed_row', `expected ${n} fields, got ${line.split('\t').length}`);

  // A row with the wrong number of fields fails whichever rule its shifted fields hit first; the
  // count, checked on that rare path only, names the real reason.
  return (line) => {
    let outcome = convert(line);
    if (!outcome.ok && outcome.rule.startsWith('check:')) outcome = checkFlagged(line, outcome);
    return outcome.ok || outcome.rule === 'malformed_row' || line.split('\t').length === n ? outcome : malformed(line);
  };

  /** The rare row whose CHECK failed on one column with a load_flagged policy: converted again with that column set as the policy says. */
  function checkFlagged(line: string, failure: RowFailure): RowOutcome {
    const at = checkFill.get(failure.rule);
    if (!at || at.fill === undefined) return failure;
    const fields = line.split('\t');
    if (fields.length !== n) return failure;
    const raw = fields[at.i];
    fields[at.i] = at.fill;
    const again = convert(fields.join('\t'));
    if (!again.ok) return again;
    (again.flags ??= []).push({ rule: failure.rule, column: table.columns[at.i].target, raw: rawText(raw), detail: failure.detail });
    return again;
  }

  function convert(line: string): RowOutcome {
    flags = undefined;
    // The output is the input line with the changed fields spliced in: `out` holds the line up to
    // `done`, which moves past each changed field.
    let out = '';
    let done = 0;
    let changed = false;
    let start = 0;
    for (let i = 0; i < n; i++) {
      let end = line.indexOf('\t', start);
      if (end === -1) {
        if (i !== n - 1) return malformed(line);
        end = line.length;
      } else if (i === n - 1) {
        return malformed(line);
      }
      const kind = kinds[i];
      let value: string | null = null;
      if (kind === RULED) {
        const raw = line.slice(start, end);
        const v = rules[i]!(raw);
        if (typeof v !== 'string') return v;
        if (v !== raw) {
          out += line.slice(done, start) + v;
          done = end;
          changed = true;
        }
        value = v;
      } else if (end === start) {
        const fill = kind === REQUIRED ? missingFill[i] : nullField;
        if (fill === undefined) return missingOf[i];
        if (kind === REQUIRED) onFlag(missingOf[i].rule, table.columns[i].target, '', missingOf[i].detail);
        out += line.slice(done, start) + fill;
        done = end;
        changed = true;
      } else if (kind === REQUIRED && end - start === 2 && line.charCodeAt(start) === BACKSLASH && line.charCodeAt(start + 1) === LETTER_N) {
        const fill = missingFill[i];
        if (fill === undefined) return missingOf[i];
        onFlag(missingOf[i].rule, table.columns[i].target, '\\N', missingOf[i].detail);
        out += line.slice(done, start) + fill;
        done = end;
        changed = true;
      }
      if (isRead[i]) read[i] = value ?? (end === start ? nullField : line.slice(start, end));
      start = end + 1;
    }
    if (after) {
      const extra = after(read);
      if (typeof extra !== 'string') return extra;
      if (extra === '') return done_(changed ? out + line.slice(done) : line);
      return done_((changed ? out + line.slice(done) : line) + extra);
    }
    return done_(changed ? out + line.slice(done) : line);
  }
}
