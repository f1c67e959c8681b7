import fc from 'fast-check';
import { Client } from 'pg';
import { compileExpression, Expr, toSql, Value } from '../../migration/expressions';

/**
 * The transform evaluates an expression in JavaScript; the target checks the same expression as SQL
 * rendered from the tree. Both must agree on every row, or a row passes the mapping and the target
 * refuses it (or the reverse). Property: for generated expressions and rows, JavaScript's value equals
 * PostgreSQL's — with the text columns in a Chinese ICU collation, as a target's may be (the rendered
 * SQL compares text COLLATE "C", code-point order, as JavaScript does).
 */
const texts = fc.constantFrom('a', 'B', 'ab', ' a ', '江门', '江', '（分店）', '', 'Z', 'b ', '𠀀');
const numbers = fc.constantFrom(-5, 0, 1, 2.5, 10, 100, -0.5);
const lit = (v: Value): Expr => ({ k: 'lit', v });
const ops = fc.constantFrom('=', '<>', '<', '<=', '>', '>=') as fc.Arbitrary<'=' | '<>' | '<' | '<=' | '>' | '>='>;

const { text, num, cond } = fc.letrec<{ text: Expr; num: Expr; cond: Expr }>((tie) => ({
  text: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<Expr>({ k: 'col', name: 'a' }, { k: 'col', name: 'b' }),
    texts.map(lit),
    fc.constant(lit(null)),
    fc.record({ name: fc.constantFrom('upper', 'lower', 'trim') as fc.Arbitrary<'upper' | 'lower' | 'trim'>, x: tie('text') }).map(({ name, x }): Expr => ({ k: 'fn', name, args: [x] })),
    fc.tuple(tie('text'), fc.integer({ min: -1, max: 3 }), fc.integer({ min: 0, max: 3 })).map(([x, f, l]): Expr => ({ k: 'fn', name: 'substr', args: [x, lit(f), lit(l)] })),
    fc.tuple(tie('text'), tie('text')).map(([x, y]): Expr => ({ k: 'concat', parts: [x, y] })),
    fc.tuple(tie('text'), tie('text')).map(([x, y]): Expr => ({ k: 'fn', name: 'coalesce', args: [x, y] })),
    fc.tuple(tie('text'), tie('text')).map(([x, y]): Expr => ({ k: 'fn', name: 'nullif', args: [x, y] })),
    fc.tuple(tie('cond'), tie('text'), tie('text')).map(([c, x, y]): Expr => ({ k: 'case', whens: [[c, x]], otherwise: y })),
  ),
  num: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Expr>({ k: 'col', name: 'n' }),
    numbers.map(lit),
    fc.tuple(tie('num'), tie('num')).map(([x, y]): Expr => ({ k: 'fn', name: 'coalesce', args: [x, y] })),
    fc.tuple(tie('cond'), tie('num'), tie('num')).map(([c, x, y]): Expr => ({ k: 'case', whens: [[c, x]], otherwise: y })),
  ),
  cond: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(ops, tie('text'), tie('text')).map(([op, l, r]): Expr => ({ k: 'cmp', op, l, r })),
    fc.tuple(ops, tie('num'), tie('num')).map(([op, l, r]): Expr => ({ k: 'cmp', op, l, r })),
    fc.tuple(tie('cond'), tie('cond')).map(([l, r]): Expr => ({ k: 'and', l, r })),
    fc.tuple(tie('cond'), tie('cond')).map(([l, r]): Expr => ({ k: 'or', l, r })),
    tie('cond').map((e): Expr => ({ k: 'not', e })),
    fc.tuple(fc.oneof(tie('text'), tie('num')), fc.boolean()).map(([e, neg]): Expr => ({ k: 'isnull', e, neg })),
    fc.tuple(tie('text'), fc.array(fc.oneof(texts, fc.constant(null)), { minLength: 1, maxLength: 3 }), fc.boolean()).map(([e, list, neg]): Expr => ({ k: 'in', e, list, neg })),
    fc.tuple(tie('num'), fc.array(numbers, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([e, list, neg]): Expr => ({ k: 'in', e, list, neg })),
  ),
}));

const row = fc.record({ a: fc.option(texts, { nil: null }), b: fc.option(texts, { nil: null }), n: fc.option(numbers, { nil: null }) });
const textColumn = (c: string) => c === 'a' || c === 'b';

describe('expressions: JavaScript and PostgreSQL agree', () => {
  const db = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  beforeAll(() => db.connect());
  afterAll(() => db.end());

  const inPg = async (e: Expr, r: { a: string | null; b: string | null; n: number | null }) => {
    const { rows } = await db.query<{ v: string | null }>(`SELECT (${toSql(e, textColumn)})::text AS v FROM (VALUES ($1::text COLLATE "zh-x-icu", $2::text COLLATE "zh-x-icu", $3::numeric)) AS r(a, b, n)`, [r.a, r.b, r.n]);
    return rows[0].v;
  };
  const inJs = (e: Expr, r: Record<string, Value>) => compileExpression(e)((c) => r[c] ?? null);

  it('on conditions (CHECKs)', async () => {
    await fc.assert(
      fc.asyncProperty(cond, row, async (e, r) => {
        const js = inJs(e, r);
        expect([toSql(e, textColumn), r, js === null ? null : String(js)]).toEqual([toSql(e, textColumn), r, await inPg(e, r)]);
      }),
      { numRuns: 300, seed: 1301 },
    );
  });

  it('on text and number values (derived columns)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(text, num), row, async (e, r) => {
        const js = inJs(e, r);
        const pg = await inPg(e, r);
        const same = typeof js === 'number' ? pg !== null && Number(pg) === js : js === pg;
        expect([toSql(e, textColumn), r, js, same]).toEqual([toSql(e, textColumn), r, js, true]);
      }),
      { numRuns: 300, seed: 1302 },
    );
  });
});
