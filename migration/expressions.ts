import { quoteIdent } from '../lib/db';

/**
 * 表达式 The mapping's small, safe expression language, for CHECKs and for constant and derived
 * columns. Text in the mapping is parsed into a tree (nothing is pasted into SQL): the transform
 * evaluates the tree per row, and a CHECK is rendered back to SQL from the tree, so only what the
 * grammar knows can reach the target — literals quoted, columns quoted, a fixed set of functions.
 *
 *   expr    := or
 *   or      := and (OR and)*
 *   and     := not (AND not)*
 *   not     := NOT not | compare
 *   compare := concat [ (= | <> | != | < | <= | > | >=) concat | IS [NOT] NULL | [NOT] IN ( literal, … ) ]
 *   concat  := primary (|| primary)*
 *   primary := 'text' | number | NULL | TRUE | FALSE | column | function ( expr, … ) | ( expr )
 *            | CASE WHEN expr THEN expr … [ELSE expr] END
 *   function: coalesce, nullif, upper, lower, trim, substr
 *
 * Values are text, numbers, booleans or NULL, with SQL's three-valued logic: a comparison with NULL
 * is unknown (null), and a CHECK fails only when its condition is false. A comparison with a number
 * compares numerically; otherwise text compares in code-point order (as the target's "C" keys do).
 */
export type Value = string | number | boolean | null;

export type Expr =
  | { k: 'lit'; v: Value }
  | { k: 'col'; name: string }
  | { k: 'fn'; name: FunctionName; args: Expr[] }
  | { k: 'cmp'; op: CompareOp; l: Expr; r: Expr }
  | { k: 'and' | 'or'; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'isnull'; e: Expr; neg: boolean }
  | { k: 'in'; e: Expr; list: Value[]; neg: boolean }
  | { k: 'concat'; parts: Expr[] }
  | { k: 'case'; whens: [Expr, Expr][]; otherwise: Expr | null };

const COMPARE_OPS = ['=', '<>', '!=', '<', '<=', '>', '>='] as const;
type CompareOp = (typeof COMPARE_OPS)[number];

const FUNCTIONS = { coalesce: [1, 16], nullif: [2, 2], upper: [1, 1], lower: [1, 1], trim: [1, 1], substr: [2, 3] } as const;
type FunctionName = keyof typeof FUNCTIONS;

const KEYWORDS = new Set(['and', 'or', 'not', 'is', 'null', 'in', 'true', 'false', 'case', 'when', 'then', 'else', 'end']);

export class ExpressionError extends Error {}

type Token = { t: 'str'; v: string; at: number } | { t: 'num'; v: string; at: number } | { t: 'word'; v: string; at: number } | { t: 'op'; v: string; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
    } else if (c === "'") {
      let v = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new ExpressionError(`unterminated text literal at ${i + 1}`);
        if (src[j] === "'") {
          if (src[j + 1] === "'") {
            v += "'";
            j += 2;
            continue;
          }
          break;
        }
        v += src[j++];
      }
      // Literals hold printable text only: no control characters (and so no NUL) reach the target.
      // eslint-disable-next-line no-control-regex -- deliberately finds control bytes to refuse them
      if (/[\x00-\x1f\x7f]/.test(v)) throw new ExpressionError(`control character in text literal at ${i + 1}`);
      out.push({ t: 'str', v, at: i });
      i = j + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? '') && !lastIsValue(out))) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', v: m[0], at: i });
      i += m[0].length;
    } else if (/[a-zA-Z_]/.test(c)) {
      const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'word', v: m[0], at: i });
      i += m[0].length;
    } else {
      const op = ['<>', '!=', '<=', '>=', '||'].find((o) => src.startsWith(o, i)) ?? (['=', '<', '>', '(', ')', ','].includes(c) ? c : undefined);
      if (!op) throw new ExpressionError(`unexpected "${c}" at ${i + 1}`);
      out.push({ t: 'op', v: op, at: i });
      i += op.length;
    }
  }
  return out;
}

function lastIsValue(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  return !!last && (last.t === 'num' || last.t === 'str' || (last.t === 'word' && !KEYWORDS.has(last.v.toLowerCase())) || (last.t === 'op' && last.v === ')'));
}

/** Parses an expression; throws ExpressionError saying where and what was expected. */
export function parseExpression(src: string): Expr {
  const tokens = tokenize(src);
  let p = 0;
  const peek = () => tokens[p];
  const where = () => (peek() ? `at ${peek()!.at + 1} ("${peek()!.v}")` : 'at the end');
  const isWord = (w: string) => peek()?.t === 'word' && peek()!.v.toLowerCase() === w;
  const isOp = (o: string) => peek()?.t === 'op' && peek()!.v === o;
  const expectWord = (w: string) => {
    if (!isWord(w)) throw new ExpressionError(`expected ${w.toUpperCase()} ${where()}`);
    p++;
  };
  const expectOp = (o: string) => {
    if (!isOp(o)) throw new ExpressionError(`expected "${o}" ${where()}`);
    p++;
  };

  function or(): Expr {
    let l = and();
    while (isWord('or')) {
      p++;
      l = { k: 'or', l, r: and() };
    }
    return l;
  }
  function and(): Expr {
    let l = not();
    while (isWord('and')) {
      p++;
      l = { k: 'and', l, r: not() };
    }
    return l;
  }
  function not(): Expr {
    if (isWord('not')) {
      p++;
      return { k: 'not', e: not() };
    }
    return compare();
  }
  function compare(): Expr {
    const l = concat();
    const t = peek();
    if (t?.t === 'op' && (COMPARE_OPS as readonly string[]).includes(t.v)) {
      p++;
      return { k: 'cmp', op: t.v as CompareOp, l, r: concat() };
    }
    if (isWord('is')) {
      p++;
      const neg = isWord('not');
      if (neg) p++;
      expectWord('null');
      return { k: 'isnull', e: l, neg };
    }
    const neg = isWord('not');
    if (neg || isWord('in')) {
      if (neg) p++;
      expectWord('in');
      expectOp('(');
      const list: Value[] = [];
      do {
        const item = primary();
        if (item.k !== 'lit') throw new ExpressionError(`IN takes literals only ${where()}`);
        list.push(item.v);
      } while (isOp(',') && ++p);
      expectOp(')');
      return { k: 'in', e: l, list, neg };
    }
    return l;
  }
  function concat(): Expr {
    const parts = [primary()];
    while (isOp('||')) {
      p++;
      parts.push(primary());
    }
    return parts.length === 1 ? parts[0] : { k: 'concat', parts };
  }
  function primary(): Expr {
    const t = peek();
    if (!t) throw new ExpressionError(`expected a value ${where()}`);
    if (t.t === 'str') return p++, { k: 'lit', v: t.v };
    if (t.t === 'num') return p++, { k: 'lit', v: Number(t.v) };
    if (isOp('(')) {
      p++;
      const e = or();
      expectOp(')');
      return e;
    }
    if (t.t !== 'word') throw new ExpressionError(`expected a value ${where()}`);
    const w = t.v.toLowerCase();
    if (w === 'null' || w === 'true' || w === 'false') return p++, { k: 'lit', v: w === 'null' ? null : w === 'true' };
    if (w === 'case') {
      p++;
      const whens: [Expr, Expr][] = [];
      while (isWord('when')) {
        p++;
        const cond = or();
        expectWord('then');
        whens.push([cond, or()]);
      }
      if (!whens.length) throw new ExpressionError(`CASE needs at least one WHEN ${where()}`);
      let otherwise: Expr | null = null;
      if (isWord('else')) {
        p++;
        otherwise = or();
      }
      expectWord('end');
      return { k: 'case', whens, otherwise };
    }
    if (KEYWORDS.has(w)) throw new ExpressionError(`unexpected ${w.toUpperCase()} ${where()}`);
    p++;
    if (isOp('(')) {
      if (!(w in FUNCTIONS)) throw new ExpressionError(`unknown function "${t.v}" at ${t.at + 1}; known: ${Object.keys(FUNCTIONS).join(', ')}`);
      p++;
      const args: Expr[] = [];
      if (!isOp(')')) do args.push(or()); while (isOp(',') && ++p);
      expectOp(')');
      const [min, max] = FUNCTIONS[w as FunctionName];
      if (args.length < min || args.length > max) throw new ExpressionError(`${w} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
      return { k: 'fn', name: w as FunctionName, args };
    }
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(t.v)) throw new ExpressionError(`"${t.v}" at ${t.at + 1} is not a lower-case column name`);
    return { k: 'col', name: t.v };
  }

  const e = or();
  if (p < tokens.length) throw new ExpressionError(`unexpected "${peek()!.v}" at ${peek()!.at + 1}`);
  return e;
}

/** The columns an expression reads. */
export function columnsOf(e: Expr, out = new Set<string>()): Set<string> {
  switch (e.k) {
    case 'col':
      out.add(e.name);
      break;
    case 'fn':
      e.args.forEach((a) => columnsOf(a, out));
      break;
    case 'cmp':
    case 'and':
    case 'or':
      columnsOf(e.l, out);
      columnsOf(e.r, out);
      break;
    case 'not':
    case 'isnull':
    case 'in':
      columnsOf(e.e, out);
      break;
    case 'concat':
      e.parts.forEach((x) => columnsOf(x, out));
      break;
    case 'case':
      e.whens.forEach(([c, v]) => (columnsOf(c, out), columnsOf(v, out)));
      if (e.otherwise) columnsOf(e.otherwise, out);
      break;
  }
  return out;
}

/** Whether an expression is a condition (for a CHECK): a comparison, a test, or a logical combination of them. */
export function isCondition(e: Expr): boolean {
  return ['cmp', 'and', 'or', 'not', 'isnull', 'in'].includes(e.k) || (e.k === 'lit' && typeof e.v === 'boolean');
}

const sqlLiteral = (v: Value): string => (v === null ? 'NULL' : typeof v === 'boolean' ? (v ? 'TRUE' : 'FALSE') : typeof v === 'number' ? String(v) : "'" + v.replace(/'/g, "''") + "'");

/** Whether an expression yields text, given the columns' types (for the collation of comparisons). */
function isText(e: Expr, textColumn: (name: string) => boolean): boolean {
  switch (e.k) {
    case 'lit':
      return typeof e.v === 'string';
    case 'col':
      return textColumn(e.name);
    case 'concat':
      return true;
    case 'fn':
      // a NULL among the branches says nothing: any branch of text makes the whole text
      return e.name === 'coalesce' || e.name === 'nullif' ? e.args.some((a) => isText(a, textColumn)) : true;
    case 'case':
      return [...e.whens.map(([, v]) => v), ...(e.otherwise ? [e.otherwise] : [])].some((v) => isText(v, textColumn));
    default:
      return false;
  }
}

/**
 * The expression as SQL, rebuilt from the tree: every column quoted, every literal quoted or a plain
 * number, and text compared with COLLATE "C" — code-point order, as the transform compares — whatever
 * the target database's collation.
 */
export function toSql(e: Expr, textColumn: (name: string) => boolean): string {
  const sql = (x: Expr) => toSql(x, textColumn);
  switch (e.k) {
    case 'lit':
      return sqlLiteral(e.v);
    case 'col':
      return quoteIdent(e.name);
    case 'fn':
      return `${e.name}(${e.args.map(sql).join(', ')})`;
    case 'cmp':
      return `(${sql(e.l)}${isText(e.l, textColumn) && isText(e.r, textColumn) ? ' COLLATE "C"' : ''} ${e.op === '!=' ? '<>' : e.op} ${sql(e.r)})`;
    case 'and':
    case 'or':
      return `(${sql(e.l)} ${e.k.toUpperCase()} ${sql(e.r)})`;
    case 'not':
      return `(NOT ${sql(e.e)})`;
    case 'isnull':
      return `(${sql(e.e)} IS ${e.neg ? 'NOT ' : ''}NULL)`;
    case 'in':
      return `(${sql(e.e)} ${e.neg ? 'NOT ' : ''}IN (${e.list.map(sqlLiteral).join(', ')}))`;
    case 'concat':
      return `(${e.parts.map(sql).join(' || ')})`;
    case 'case':
      return `(CASE ${e.whens.map(([c, v]) => `WHEN ${sql(c)} THEN ${sql(v)}`).join(' ')}${e.otherwise ? ` ELSE ${sql(e.otherwise)}` : ''} END)`;
  }
}

/** A compiled expression: reads a row through `get` (a column's value), returns the value. */
export type Evaluator = (get: (column: string) => Value) => Value;

const num = (v: Value): number | null => (v === null ? null : typeof v === 'number' ? v : typeof v === 'boolean' ? null : Number.isNaN(Number(v)) || v.trim() === '' ? null : Number(v));
const text = (v: Value): string | null => (v === null ? null : typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v));

function compareValues(op: CompareOp, a: Value, b: Value): boolean | null {
  if (a === null || b === null) return null;
  let c: number;
  if (typeof a === 'number' || typeof b === 'number') {
    const x = num(a);
    const y = num(b);
    if (x === null || y === null) return null;
    c = x < y ? -1 : x > y ? 1 : 0;
  } else if (typeof a === 'boolean' || typeof b === 'boolean') {
    c = a === b ? 0 : 1;
    if (op !== '=' && op !== '<>' && op !== '!=') return null;
  } else {
    c = a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  }
  switch (op) {
    case '=':
      return c === 0;
    case '<>':
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

const truth = (v: Value): boolean | null => (v === null ? null : typeof v === 'boolean' ? v : v === 't' || v === 'true');

/** Compiles the tree into closures once, so a row costs calls, not a walk over the tree's shape. */
export function compileExpression(e: Expr): Evaluator {
  switch (e.k) {
    case 'lit': {
      const v = e.v;
      return () => v;
    }
    case 'col': {
      const name = e.name;
      return (get) => get(name);
    }
    case 'fn': {
      const args = e.args.map(compileExpression);
      switch (e.name) {
        case 'coalesce':
          return (get) => {
            for (const a of args) {
              const v = a(get);
              if (v !== null) return v;
            }
            return null;
          };
        case 'nullif':
          return (get) => {
            const v = args[0](get);
            return compareValues('=', v, args[1](get)) ? null : v;
          };
        case 'upper':
          return (get) => text(args[0](get))?.toUpperCase() ?? null;
        case 'lower':
          return (get) => text(args[0](get))?.toLowerCase() ?? null;
        case 'trim':
          // SQL's trim removes spaces only (JavaScript's trim removes every kind of blank).
          return (get) => text(args[0](get))?.replace(/^ +| +$/g, '') ?? null;
        case 'substr':
          return (get) => {
            const s = text(args[0](get));
            const from = num(args[1](get));
            const len = args[2] ? num(args[2](get)) : Infinity;
            if (s === null || from === null || len === null) return null;
            // SQL counts characters from 1; a start before 1 shortens the length as PostgreSQL does.
            const chars = [...s];
            const start = Math.max(from, 1);
            const end = len === Infinity ? chars.length + 1 : Math.max(from + len, 1);
            return chars.slice(start - 1, Math.max(start - 1, end - 1)).join('');
          };
      }
      break;
    }
    case 'cmp': {
      const [l, r, op] = [compileExpression(e.l), compileExpression(e.r), e.op];
      return (get) => compareValues(op, l(get), r(get));
    }
    case 'and':
    case 'or': {
      // The value that decides alone: false for AND, true for OR; otherwise NULL wins over the other.
      const [l, r, decides] = [compileExpression(e.l), compileExpression(e.r), e.k === 'or'];
      return (get) => {
        const a = truth(l(get));
        if (a === decides) return decides;
        const b = truth(r(get));
        return b === decides ? decides : a === null || b === null ? null : !decides;
      };
    }
    case 'not': {
      const x = compileExpression(e.e);
      return (get) => {
        const v = truth(x(get));
        return v === null ? null : !v;
      };
    }
    case 'isnull': {
      const [x, neg] = [compileExpression(e.e), e.neg];
      return (get) => (x(get) === null) !== neg;
    }
    case 'in': {
      const [x, list, neg] = [compileExpression(e.e), e.list, e.neg];
      return (get) => {
        const v = x(get);
        if (v === null) return null;
        let unknown = false;
        for (const item of list) {
          const eq = compareValues('=', v, item);
          if (eq) return !neg;
          if (eq === null) unknown = true;
        }
        return unknown ? null : neg;
      };
    }
    case 'concat': {
      const parts = e.parts.map(compileExpression);
      return (get) => {
        let s = '';
        for (const part of parts) {
          const v = text(part(get));
          if (v === null) return null;
          s += v;
        }
        return s;
      };
    }
    case 'case': {
      const whens = e.whens.map(([c, v]) => [compileExpression(c), compileExpression(v)] as const);
      const otherwise = e.otherwise ? compileExpression(e.otherwise) : () => null;
      return (get) => {
        for (const [c, v] of whens) if (truth(c(get)) === true) return v(get);
        return otherwise(get);
      };
    }
  }
  throw new ExpressionError(`cannot compile ${(e as Expr).k}`);
}
