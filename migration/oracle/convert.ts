import type { Field } from '../copy-text';
import type { ColumnType } from '../mapping';
import type { LegacyKind } from './legacy-types';

/**
 * Fetched Oracle values → the canonical text the PostgreSQL target accepts through COPY text.
 * Pure functions, one compiled converter per column, so the per-row loop does no type dispatch.
 *
 * What each kind arrives as (see sql.ts and oracle-source.ts for why):
 *   number        string from the thin driver's exact NUMBER decoding (".5", "-1e126" possible)
 *   float         JS number (BINARY_FLOAT/DOUBLE are IEEE floats in Oracle too)
 *   text, clob    string
 *   binary        Buffer
 *   datetimes     string from TO_CHAR in the chunk query:
 *                 "SYYYY-MM-DD HH24:MI:SS[.FF9][TZH:TZM]" — sign or space first, BC years negative
 *
 * A value that cannot become target text throws ConversionError; the adapter turns the row into a
 * SourceRejection (quarantined by the engine under err.rule). Anything else thrown is a bug.
 */
export class ConversionError extends Error {
  constructor(
    readonly rule: string,
    detail: string,
  ) {
    super(detail);
    this.name = 'ConversionError';
  }
}

export interface ConvertOptions {
  /**
   * UTC offset ("+08:00") of the wall-clock times in DATE and TIMESTAMP columns, which carry no
   * zone; used only when such a column feeds a timestamptz target.
   */
  naiveUtcOffset: string;
}

export type Converter = (value: unknown) => Field;

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
/** Oracle NUMBER spans 1e-130 … 1e126, BINARY_DOUBLE about 1e±308; anything wider is not a number we fetched. */
const MAX_EXPONENT = 400;

/**
 * An exact decimal string in plain notation: no exponent, no leading "+", no leading zeros, no
 * trailing fractional zeros, "0." before a leading point, "-0" written "0". Done on the digits,
 * never through a JS float.
 */
export function canonicalDecimal(text: string): string {
  const m = DECIMAL_RE.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) {
    throw new ConversionError('invalid_number:format', `"${text}" is not a decimal number`);
  }
  const exponent = Number(m[4] ?? '0');
  if (Math.abs(exponent) > MAX_EXPONENT) {
    throw new ConversionError('invalid_number:out_of_range', `"${text}" is out of range`);
  }
  let digits = m[2] + (m[3] ?? '');
  let point = m[2].length + exponent;
  const leading = /^0*/.exec(digits)![0].length;
  digits = digits.slice(leading).replace(/0+$/, '');
  point -= leading;
  if (digits === '') return '0';
  let int: string;
  let frac: string;
  if (point <= 0) {
    int = '0';
    frac = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    int = digits + '0'.repeat(point - digits.length);
    frac = '';
  } else {
    int = digits.slice(0, point);
    frac = digits.slice(point);
  }
  return (m[1] === '-' ? '-' : '') + int + (frac ? '.' + frac : '');
}

/**
 * Oracle NUMBER's largest finite value is below 1e126 (126 integer digits). The thin driver writes the
 * ±infinity encodings (from BINARY_DOUBLE casts, old OCI programs) as "1e126" / "-1e126": such a value
 * is not a number the registry meant, and loading it as a finite 10^126 would hide that.
 */
export function finiteNumber(canonical: string): string {
  const intDigits = canonical.replace(/^-/, '').split('.')[0].length;
  if (intDigits > 126) throw new ConversionError('invalid_number:infinity', `${canonical.startsWith('-') ? '-' : '+'}infinity (Oracle NUMBER ~ encoding) has no decimal value`);
  return canonical;
}

/**
 * Text as the target must see it. '' → NULL: Oracle cannot store an empty string (it is NULL there),
 * so an empty string here can only come from an empty CLOB, which is the same thing to a user.
 * NUL cannot exist in PostgreSQL text and U+FFFD is what a character-set conversion leaves behind
 * for bytes it could not read (a ZHS16GBK database cannot store U+FFFD itself): both reject the row
 * rather than silently altering it. Private-use characters (rare name characters) pass unchanged.
 */
export function canonicalText(value: string): Field {
  if (value === '') return null;
  const nul = value.indexOf('\u0000');
  if (nul !== -1) throw new ConversionError('invalid_text:nul', `NUL character at position ${nul}`);
  const bad = value.indexOf('\uFFFD');
  if (bad !== -1) {
    throw new ConversionError('invalid_text:unconvertible', `U+FFFD (unconvertible source bytes) at position ${bad}`);
  }
  return value;
}

/** PostgreSQL bytea hex input ("\x…"); an empty BLOB stays an empty value, not NULL (Oracle keeps that distinction for LOBs). */
export function byteaHex(value: Buffer): string {
  return '\\x' + value.toString('hex');
}

export interface OracleDatetime {
  bc: boolean;
  /** YYYY-MM-DD with a four-digit year, BC years as their absolute value */
  date: string;
  /** HH:MM:SS */
  time: string;
  /** up to 6 digits, trailing zeros removed; '' when whole seconds */
  micros: string;
  /** "+08:00" for zoned kinds, null for DATE and TIMESTAMP */
  offset: string | null;
}

const DATETIME_RE = /^\s*([+-]?)(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:([+-]\d{2}:\d{2}))?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parses the TO_CHAR output of the chunk query (formats in sql.ts). A DATE whose stored bytes are
 * corrupt (written by old OCI programs or direct-path loads that skipped validation: month 0, day 32,
 * year 0) comes out of TO_CHAR as text no calendar has: that row goes to quarantine with the text as
 * Oracle gave it (ConversionError), and the chunk goes on — one bad value never blocks a table.
 */
export function parseOracleDatetime(text: string): OracleDatetime {
  const m = DATETIME_RE.exec(text);
  if (!m) throw new ConversionError('invalid_date:corrupt', `unreadable datetime "${text}" (a corrupt stored value?)`);
  const [year, month, day] = m[2].split('-').map(Number);
  const [hour, minute, second] = m[3].split(':').map(Number);
  // PostgreSQL's calendar is proleptic Gregorian: Feb 29 of a Julian-only leap year (1500) has no date there either
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const dim = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  if (year === 0 || month < 1 || month > 12 || day < 1 || day > dim || hour > 23 || minute > 59 || second > 59) {
    throw new ConversionError('invalid_date:corrupt', `impossible datetime "${text.trim()}" (a corrupt stored value?)`);
  }
  // PostgreSQL keeps microseconds; TIMESTAMP(7..9) digits beyond that are cut, not rounded, so that a
  // value never moves into the next second, day or year.
  const micros = (m[4] ?? '').padEnd(6, '0').slice(0, 6).replace(/0+$/, '');
  return { bc: m[1] === '-', date: m[2], time: m[3], micros, offset: m[5] ?? null };
}

function formatDatetime(dt: OracleDatetime, target: ColumnType, naiveUtcOffset: string): string {
  // PostgreSQL writes BC dates with a suffix; neither it nor Oracle has a year 0, so -0044 is 0044 BC.
  const bc = dt.bc ? ' BC' : '';
  const frac = dt.micros ? '.' + dt.micros : '';
  switch (target) {
    case 'date':
      // The mapping declares day precision: the time of day goes, as PostgreSQL itself drops it
      // when a timestamp literal is cast to date. Sentinel dates (9999-09-09) pass as they are.
      return dt.date + bc;
    case 'timestamptz':
      return `${dt.date}T${dt.time}${frac}${dt.offset ?? naiveUtcOffset}${bc}`;
    case 'timestamp':
      // a zoned value keeps the wall-clock time it was recorded with
      return `${dt.date} ${dt.time}${frac}${bc}`;
    default:
      // text target: the value's own natural form
      return `${dt.date} ${dt.time}${frac}${dt.offset ?? ''}${bc}`;
  }
}

function expect<T>(ok: boolean, value: unknown, what: string): T {
  if (!ok) throw new TypeError(`expected ${what} from the driver, got ${value === null ? 'null' : typeof value}`);
  return value as T;
}

const OFFSET_RE = /^[+-](0\d|1[0-4]):[0-5]\d$/;

export function validateUtcOffset(offset: string): boolean {
  return OFFSET_RE.test(offset);
}

/** The converter for one column: legacy kind × target type (compatibility is checked by the caller). */
export function compileConverter(kind: LegacyKind, target: ColumnType, options: ConvertOptions): Converter {
  switch (kind) {
    case 'number':
      return (v) => (v == null ? null : finiteNumber(canonicalDecimal(expect<string>(typeof v === 'string', v, 'a NUMBER string'))));
    case 'float':
      return (v) => {
        if (v == null) return null;
        const n = expect<number>(typeof v === 'number', v, 'a number');
        if (!Number.isFinite(n)) throw new ConversionError('invalid_number:not_finite', `${n} has no decimal form`);
        return canonicalDecimal(String(n));
      };
    case 'text':
    case 'clob':
      return (v) => (v == null ? null : canonicalText(expect<string>(typeof v === 'string', v, 'a string')));
    case 'binary':
      return (v) => (v == null ? null : byteaHex(expect<Buffer>(Buffer.isBuffer(v), v, 'a Buffer')));
    case 'date':
    case 'timestamp':
    case 'timestamp_tz':
    case 'timestamp_ltz':
      return (v) =>
        v == null ? null : formatDatetime(parseOracleDatetime(expect<string>(typeof v === 'string', v, 'datetime text')), target, options.naiveUtcOffset);
  }
}

/**
 * A fetched value as quarantine text: close to the legacy value, never failing. NUL becomes the
 * six characters \u0000 (PostgreSQL text and jsonb cannot hold it).
 */
export function rawText(value: unknown): Field {
  if (value == null) return null;
  if (Buffer.isBuffer(value)) return byteaHex(value);
  // eslint-disable-next-line no-control-regex -- PostgreSQL text cannot hold NUL: it is escaped here
  return String(value).replace(/\u0000/g, '\\u0000');
}
