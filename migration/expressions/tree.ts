/**
 * The tree an expression is parsed into (parser.ts), and rendered to SQL (sql.ts) or evaluated (evaluator.ts) from.
 * Values are text, numbers, booleans or NULL.
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

export const COMPARE_OPS = ['=', '<>', '!=', '<', '<=', '>', '>='] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];

export const FUNCTIONS = { coalesce: [1, 16], nullif: [2, 2], upper: [1, 1], lower: [1, 1], trim: [1, 1], substr: [2, 3] } as const;
export type FunctionName = keyof typeof FUNCTIONS;

export class ExpressionError extends Error {}

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
