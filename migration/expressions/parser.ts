import { COMPARE_OPS, CompareOp, Expr, ExpressionError, FUNCTIONS, FunctionName, Value } from './tree';

/*
 * Text → tree: a tokenizer and a recursive-descent parser of this grammar (keywords in any case):
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
 */

const KEYWORDS = new Set(['and', 'or', 'not', 'is', 'null', 'in', 'true', 'false', 'case', 'when', 'then', 'else', 'end']);

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
