import { columnsOf, compileExpression, ExpressionError, parseExpression, toSql, Value } from '../../migration/expressions';

/** 表达式 The mapping's expression language: parsed to a tree, evaluated per row, rendered to SQL from the tree. */
const evaluate = (src: string, row: Record<string, Value>) => compileExpression(parseExpression(src))((c) => (c in row ? row[c] : null));
const sql = (src: string, text: string[] = []) => toSql(parseExpression(src), (c) => text.includes(c));

describe('expressions 表达式', () => {
  it('evaluates comparisons, AND/OR/NOT, IN, IS NULL and column against column with SQL three-valued logic', () => {
    expect(evaluate('regcap >= 0', { regcap: 5 })).toBe(true);
    expect(evaluate('regcap >= 0', { regcap: -5 })).toBe(false);
    expect(evaluate('regcap >= 0', { regcap: null })).toBe(null);
    expect(evaluate('opto IS NULL OR opto >= estdate', { opto: '2020-01-02', estdate: '2019-05-01' })).toBe(true);
    expect(evaluate('opto IS NULL OR opto >= estdate', { opto: '2018-01-02', estdate: '2019-05-01' })).toBe(false);
    expect(evaluate('opto IS NULL OR opto >= estdate', { opto: null, estdate: '2019-05-01' })).toBe(true);
    expect(evaluate("regstate IN ('1', '2', '6') AND NOT enttype = '9500'", { regstate: '6', enttype: '1100' })).toBe(true);
    expect(evaluate("regstate NOT IN ('4', '5')", { regstate: '4' })).toBe(false);
    expect(evaluate("regstate IN ('1')", { regstate: null })).toBe(null);
    expect(evaluate('NULL AND FALSE', {})).toBe(false);
    expect(evaluate('NULL OR TRUE', {})).toBe(true);
    expect(evaluate('NOT NULL = 1', {})).toBe(null);
    // text in code-point order, as the target's keys compare
    expect(evaluate("name > 'Z'", { name: 'a' })).toBe(true);
    expect(evaluate("name > '江'", { name: '𠀀' })).toBe(true);
  });

  it('builds constant and derived values: literals, ||, coalesce, nullif, upper, lower, trim, substr, CASE', () => {
    expect(evaluate("'9500'", {})).toBe('9500');
    expect(evaluate("'个体' || name", { name: '张三' })).toBe('个体张三');
    expect(evaluate("'x' || name", { name: null })).toBe(null);
    expect(evaluate("coalesce(regorg, substr(domdistrict, 1, 4) || '00')", { regorg: null, domdistrict: '440703' })).toBe('440700');
    expect(evaluate("nullif(trim(name), '')", { name: '   ' })).toBe(null);
    expect(evaluate('upper(lower(code))', { code: 'qY01' })).toBe('QY01');
    expect(evaluate("trim(name)", { name: '\u3000江门 ' })).toBe('\u3000江门');
    expect(evaluate("substr(name, 2)", { name: '江门市' })).toBe('门市');
    expect(evaluate("substr(name, 0, 2)", { name: '江门市' })).toBe('江');
    expect(evaluate("CASE WHEN regcap >= 1000 THEN 'large' WHEN regcap >= 0 THEN 'small' END", { regcap: 5 })).toBe('small');
    expect(evaluate("CASE WHEN regcap >= 1000 THEN 'large' ELSE 'other' END", { regcap: null })).toBe('other');
  });

  it('renders SQL from the tree only: columns quoted, literals escaped, text compared COLLATE "C"', () => {
    expect(sql('regcap >= 0')).toBe('("regcap" >= 0)');
    expect(sql("entname <> 'O''Brien' AND opto >= estdate", ['entname'])).toBe(`(("entname" COLLATE "C" <> 'O''Brien') AND ("opto" >= "estdate"))`);
    expect(sql("regstate NOT IN ('4', '5') OR x IS NOT NULL")).toBe(`(("regstate" NOT IN ('4', '5')) OR ("x" IS NOT NULL))`);
    expect([...columnsOf(parseExpression("coalesce(a, b) || c = 'x' AND d IN (1, 2)"))]).toEqual(['a', 'b', 'c', 'd']);
  });

  it.each([
    ['regcap >= 0; DROP TABLE market_entity', 'unexpected ";" at 12'],
    ['regcap >= 0 -- comment', 'unexpected "-" at 13'],
    ['pg_sleep(10) IS NULL', 'unknown function "pg_sleep" at 1'],
    ["name = 'a", 'unterminated text literal at 8'],
    ["name = 'a\u0000b'", 'control character in text literal at 8'],
    ['"Name" = 1', 'unexpected """ at 1'],
    ['Name = 1', '"Name" at 1 is not a lower-case column name'],
    ['substr(a)', 'substr takes 2 to 3 arguments, got 1'],
    ['a IN (b)', 'IN takes literals only'],
    ['CASE END', 'CASE needs at least one WHEN'],
    ['a = ', 'expected a value at the end'],
    ['(a = 1', 'expected ")" at the end'],
  ])('refuses %j: %s', (src, message) => {
    expect(() => parseExpression(src)).toThrow(ExpressionError);
    expect(() => parseExpression(src)).toThrow(message);
  });
});
