import { quoteIdent } from '../../lib/db';
import type { Expr, Value } from './tree';

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
