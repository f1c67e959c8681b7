/**
 * 表达式 The mapping's small, safe expression language, for CHECKs and for constant and derived
 * columns. Text in the mapping is parsed into a tree (nothing is pasted into SQL): the transform
 * evaluates the tree per row, and a CHECK is rendered back to SQL from the tree, so only what the
 * grammar knows can reach the target — literals quoted, columns quoted, a fixed set of functions.
 *
 *   tree.ts       the tree, its values, the function table, and what can be read off a tree
 *   parser.ts     text → tree (the grammar is there)
 *   sql.ts        tree → SQL, for CHECKs on the target
 *   evaluator.ts  tree → a function of a row, for the transform (SQL's three-valued logic)
 */
export { columnsOf, ExpressionError, isCondition } from './tree';
export type { Expr, Value } from './tree';
export { parseExpression } from './parser';
export { toSql } from './sql';
export { compileExpression } from './evaluator';
export type { Evaluator } from './evaluator';
