import { keyOrder } from '../key-order';
import type { ColumnMapping, TableMapping } from '../mapping';
import { compileConverter, ConvertOptions, Converter } from './convert';
import { isCompatible, LegacyColumn, legacyKind } from './legacy-types';
import { oracleKeyForm, OracleKeyForm } from './sql';

/**
 * Matches a table's mapping against the legacy data dictionary, once per table, before any chunk
 * is planned: a missing column, an unreadable type or a type that cannot feed its target column is
 * a mapping mistake and stops the table with every problem listed, before a row moves.
 */
export interface ResolvedColumn {
  mapping: ColumnMapping;
  legacy: LegacyColumn;
  convert: Converter;
}

export interface ResolvedTable {
  table: TableMapping;
  /** in the mapping's column order */
  columns: ResolvedColumn[];
  /** index of the source key in columns */
  keyIndex: number;
  /** the dictionary's NULLABLE for the key column (true when the dictionary did not say) */
  keyNullable: boolean;
  /** how chunk queries compare the key so that Oracle follows the target key's order (sql.ts oracleKeyExpr) */
  keyForm: OracleKeyForm;
  /**
   * Text columns whose '?' characters the chunk query also counts on the server (sql.ts), by index in
   * columns: set when the database character set is not Unicode (ZHS16GBK), where a character the
   * conversion to UTF-8 cannot carry arrives as '?' and would otherwise pass as text.
   */
  substitutionChecks: number[];
}

/** Database character sets the text reaches us from unconverted (no '?' can be added on the way). */
export function isUnicodeCharset(charset: string): boolean {
  return charset === 'AL32UTF8' || charset === 'UTF8';
}

/** Types whose value the server can REPLACE and count: not LONG, not ROWID, and not the N-types (always AL16UTF16). */
const SUBSTITUTION_CHECKED = new Set(['VARCHAR2', 'CHAR', 'CLOB']);

/**
 * One ALL_TAB_COLUMNS row as describeTableSql selects it: name, type, then (optional, for older
 * callers) NULLABLE 'Y'/'N', DATA_PRECISION, DATA_SCALE.
 */
export type DictionaryRow = [string, string, ...unknown[]];

export class OracleMappingError extends Error {
  constructor(
    table: string,
    readonly problems: string[],
  ) {
    super(`legacy table ${table.toUpperCase()} does not fit the mapping:\n  - ${problems.join('\n  - ')}`);
    this.name = 'OracleMappingError';
  }
}

export function resolveTable(table: TableMapping, dictionary: DictionaryRow[], options: ConvertOptions & { databaseCharset?: string }): ResolvedTable {
  const source = table.source.table;
  if (dictionary.length === 0) {
    throw new OracleMappingError(source, ['not found (wrong ORACLE_SCHEMA, or no SELECT privilege on it?)']);
  }
  const types = new Map(dictionary.map((r) => [r[0], r[1]]));
  const problems: string[] = [];
  // 复合主键 composite keys are PostgreSQL-legacy only so far (migration/composite-key.ts): said here, before any row moves
  if (table.source.keys) problems.push(`composite key (${table.source.keys.join(', ')}): the Oracle source reads tables by a single-column key only; stage the table in PostgreSQL or declare a unique column`);
  const columns: ResolvedColumn[] = [];
  for (const col of table.columns) {
    const name = col.source.toUpperCase();
    const dataType = types.get(name);
    if (dataType === undefined) {
      problems.push(`column ${name} (mapped to ${col.target}) does not exist`);
      continue;
    }
    const kind = legacyKind(dataType);
    if (kind === null) {
      problems.push(`column ${name} has type ${dataType}, which the Oracle source cannot read`);
      continue;
    }
    if (!isCompatible(kind, col.type)) {
      problems.push(`column ${name} (${dataType}) cannot feed ${col.target} (${col.type})`);
      continue;
    }
    if (!table.source.keyless && col.source === table.source.key && kind !== 'number' && kind !== 'text') {
      problems.push(`key column ${name} has type ${dataType}; keyset chunks need a NUMBER or character key`);
      continue;
    }
    columns.push({ mapping: col, legacy: { name, dataType, kind }, convert: compileConverter(kind, col.type, options) });
  }
  if (problems.length) throw new OracleMappingError(source, problems);
  const checkText = options.databaseCharset !== undefined && !isUnicodeCharset(options.databaseCharset);
  const substitutionChecks = checkText ? columns.flatMap((c, i) => (SUBSTITUTION_CHECKED.has(c.legacy.dataType) ? [i] : [])) : [];
  // 无键表 a keyless table has no key column (keyIndex -1): it is read by ROWID ranges only, never by key
  if (table.source.keyless) return { table, columns, keyIndex: -1, keyForm: 'native', keyNullable: false, substitutionChecks };
  const keyRow = dictionary.find((r) => r[0] === table.source.key.toUpperCase());
  const keyIndex = columns.findIndex((c) => c.mapping.source === table.source.key);
  return {
    table,
    columns,
    keyIndex,
    keyForm: oracleKeyForm(columns[keyIndex].legacy.kind, keyOrder(table)),
    keyNullable: keyRow?.[2] !== 'N',
    substitutionChecks,
  };
}
