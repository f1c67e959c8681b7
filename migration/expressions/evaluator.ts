import { CompareOp, Expr, ExpressionError, Value } from './tree';

/*
 * Values are text, numbers, booleans or NULL, with SQL's three-valued logic: a comparison with NULL
 * is unknown (null), and a CHECK fails only when its condition is false. A comparison with a number
 * compares numerically; otherwise text compares in code-point order (as the target's "C" keys do).
 */

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
