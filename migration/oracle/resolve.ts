import { keyOrders } from '../composite-key';
import type { ColumnMapping, TableMapping } from '../mapping';
import { compileConverter, ConvertOptions, Converter } from './convert';
import { isCompatible, LegacyColumn, legacyKind } from './legacy-types';
import { oracleKeyForm, OracleKeyForm, OracleKeyPart } from './sql';

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
  /** every key column as compared (one for a single-column key; 复合主键 several for a composite key) */
  keyParts: OracleKeyPart[];
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
  const keyNames = table.source.keys ?? [table.source.key];
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
    if (keyNames.includes(col.source) && kind !== 'number' && kind !== 'text') {
      problems.push(
        table.source.keys
          ? `复合主键 composite key column ${name} has type ${dataType}; keyset chunks need NUMBER or character key columns`
          : `key column ${name} has type ${dataType}; keyset chunks need a NUMBER or character key`,
      );
      continue;
    }
    columns.push({ mapping: col, legacy: { name, dataType, kind }, convert: compileConverter(kind, col.type, options) });
  }
  if (problems.length) throw new OracleMappingError(source, problems);
  const checkText = options.databaseCharset !== undefined && !isUnicodeCharset(options.databaseCharset);
  const substitutionChecks = checkText ? columns.flatMap((c, i) => (SUBSTITUTION_CHECKED.has(c.legacy.dataType) ? [i] : [])) : [];
  // 无键表 a keyless table has no key column (keyIndex -1): it is read by ROWID ranges only, never by key
  if (table.source.keyless) return { table, columns, keyIndex: -1, keyForm: 'native', keyParts: [], keyNullable: false, substitutionChecks };
  const keyIndex = columns.findIndex((c) => c.mapping.source === table.source.key);
  const keyParts = oracleKeyParts(table, dictionary);
  return {
    table,
    columns,
    keyIndex,
    keyForm: keyParts[0].form,
    keyParts,
    keyNullable: keyParts[0].nullable,
    substitutionChecks,
  };
}

/**
 * The key's columns as Oracle compares them (sql.ts OracleKeyPart), in the key's order: each in its own target
 * column's order (a NUMBER mapped to text compared as text …), nullable unless the dictionary says NOT NULL.
 * A column the dictionary lacks or cannot read is compared as itself (resolveTable reports it).
 */
export function oracleKeyParts(table: TableMapping, dictionary: DictionaryRow[]): OracleKeyPart[] {
  const orders = keyOrders(table);
  return (table.source.keys ?? [table.source.key]).map((column, i) => {
    const row = dictionary.find((r) => r[0] === column.toUpperCase());
    const kind = row ? legacyKind(row[1]) : null;
    return { column, form: kind ? oracleKeyForm(kind, orders[i]) : 'native', nullable: row?.[2] !== 'N' };
  });
}
