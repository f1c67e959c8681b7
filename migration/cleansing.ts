import { isValidCreditCode } from '../lib/identifiers';

/**
 * Cleansing rules (数据清洗): what legacy registry data really holds, turned into what the target
 * accepts — or a named reason to quarantine the row. Each rule takes the legacy text and returns the
 * clean text (null = NULL) or a RuleFailure. Rules never guess: an ambiguous value is quarantined.
 */
export const CLEANING_RULES = ['name', 'date', 'capital', 'creditCode', 'creditCodeValid'] as const;
export type CleaningRule = (typeof CLEANING_RULES)[number];

export class RuleFailure {
  constructor(
    readonly rule: string,
    readonly detail: string,
  ) {}
}

type Cleaner = (value: string) => string | null | RuleFailure;

/** Half-width brackets in names become the full-width ones the registry standard uses, so 江门（分店） and 江门(分店) are one name. */
function cleanName(v: string): string | null {
  const s = v.replace(/\(/g, '（').replace(/\)/g, '）').replace(/\s+/g, ' ').trim();
  return s === '' ? null : s;
}

/** Dates that mean "no end" in legacy systems; the target stores NULL for an open end. */
const SENTINEL_DATES = new Set(['9999-09-09', '9999-12-31', '9999-01-01']);

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The digits at v[from..from+len) as a number, or -1 if any is not a digit: no regex, no substrings. */
function digitsAt(v: string, from: number, len: number): number {
  let n = 0;
  for (let i = from; i < from + len; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function isCalendarDate(y: number, mo: number, d: number): boolean {
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= (mo === 2 && !leap ? 28 : DAYS_IN_MONTH[mo - 1]);
}

/**
 * Checked with arithmetic, no Date object, and an ISO date or a sentinel without a regex: this runs
 * for several columns of most rows, in the migration and again in the verification.
 */
function cleanDate(v: string): string | null | RuleFailure {
  if (v.length === 10 && v.charCodeAt(4) === 45 && v.charCodeAt(7) === 45) {
    const y = digitsAt(v, 0, 4);
    if (y >= 1900 && y < 9999 && isCalendarDate(y, digitsAt(v, 5, 2), digitsAt(v, 8, 2))) return v;
    if (SENTINEL_DATES.has(v)) return null;
  } else if (v.length === 8) {
    // YYYYMMDD, the other common legacy form
    const y = digitsAt(v, 0, 4);
    const mo = digitsAt(v, 4, 2);
    const d = digitsAt(v, 6, 2);
    if (y >= 1900 && y < 9999 && isCalendarDate(y, mo, d)) return `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6)}`;
  }
  const s = v.trim();
  const m =
    /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.exec(s) ??
    /^(\d{4})年(\d{1,2})月(\d{1,2})日$/.exec(s) ??
    /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m) return new RuleFailure('invalid_date', `"${v}" is not a date`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const iso = `${m[1]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  if (SENTINEL_DATES.has(iso)) return null;
  if (!isCalendarDate(y, mo, d)) return new RuleFailure('invalid_date', `"${v}" is not a calendar date`);
  if (y < 1900) return new RuleFailure('invalid_date', `"${v}" lies before 1900`);
  return iso;
}

const DIGITS: Record<string, number> = {
  零: 0, 〇: 0, 一: 1, 壹: 1, 二: 2, 贰: 2, 两: 2, 三: 3, 叁: 3, 四: 4, 肆: 4,
  五: 5, 伍: 5, 六: 6, 陆: 6, 七: 7, 柒: 7, 八: 8, 捌: 8, 九: 9, 玖: 9,
};
const UNITS: Record<string, number> = { 十: 10, 拾: 10, 百: 100, 佰: 100, 千: 1000, 仟: 1000 };

/** 伍拾万 → 500000; null when the text is not a Chinese numeral. Handles 万 and 亿 sections. */
export function parseChineseNumeral(text: string): number | null {
  let total = 0;
  let section = 0;
  let digit = 0;
  let seen = false;
  for (const ch of text) {
    if (ch in DIGITS) {
      digit = DIGITS[ch];
      seen = true;
    } else if (ch in UNITS) {
      section += (digit || 1) * UNITS[ch];
      digit = 0;
      seen = true;
    } else if (ch === '万' || ch === '亿') {
      total += (section + digit) * (ch === '万' ? 1e4 : 1e8);
      section = 0;
      digit = 0;
    } else {
      return null;
    }
  }
  return seen || total ? total + section + digit : null;
}

/**
 * Registered capital in the registry's unit, 万元 (10,000 yuan), as a decimal string.
 * Legacy text: "50", "50.5", "10万" / "10万元" (already 万), "1亿" (10,000 万), "5,000.00"
 * (thousands separators), "伍拾万元" (words: yuan). Anything else is quarantined rather than guessed.
 */
function cleanCapital(v: string): string | null | RuleFailure {
  const s = v.trim().replace(/\s+/g, '').replace(/^人民币/, '').replace(/元$/, '');
  if (s === '') return null;
  if (/^-?\d{1,3}(,\d{3})+(\.\d+)?$/.test(s)) return s.replace(/,/g, '');
  const unit = /^(-?\d+(?:\.\d+)?)(万|亿)?$/.exec(s);
  if (unit) return unit[2] === '亿' ? String(Number(unit[1]) * 1e4) : unit[1];
  const words = parseChineseNumeral(s);
  if (words !== null) return String(words / 1e4);
  return new RuleFailure('invalid_capital', `registered capital "${v}" is not a number of 万元`);
}

function cleanCreditCode(v: string): string | null {
  const s = v.trim().toUpperCase();
  return s === '' ? null : s;
}

/** Some genuine early codes fail the checksum: they are kept and flagged, never dropped. */
function creditCodeValid(v: string): string {
  return isValidCreditCode(v.trim().toUpperCase()) ? 't' : 'f';
}

/**
 * What cleanName leaves as it is, told from the escaped field's UTF-8 bytes (a binary string,
 * copy-text.ts) without decoding them: no bracket, no escape, no blank at either end or doubled, and
 * none of the other characters JavaScript's \s matches (their UTF-8 forms are spelled out). Names are
 * the one ruled column that is mostly non-ASCII, and decoding, cleaning and re-encoding every one was
 * the largest cost of a market_entity row.
 */
const NAME_CHANGES = /[()\\\t\n\v\f\r]|^ | $| {2}|\xc2\xa0|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80|\xef\xbb\xbf/;

/** 年, 月 and 日 as UTF-8 bytes (binary strings, copy-text.ts). */
const YEAR_MARK = '\xe5\xb9\xb4';
const MONTH_MARK = '\xe6\x9c\x88';
const DAY_MARK = '\xe6\x97\xa5';

const twoDigits = (n: number) => (n < 10 ? '0' : '') + n;

/**
 * "2018年5月6日", the form half the legacy change dates are written in, read off its bytes: the full
 * path decodes the field and tries three regular expressions first. Anything else — a sentinel, a date
 * before 1900, blanks — is left to it (undefined).
 */
function chineseDateOnBytes(field: string): string | undefined {
  if (!field.startsWith(YEAR_MARK, 4) || !field.endsWith(DAY_MARK)) return undefined;
  const month = field.indexOf(MONTH_MARK, 7);
  const monthDigits = month - 7;
  const dayDigits = field.length - 3 - (month + 3);
  if (month === -1 || monthDigits < 1 || monthDigits > 2 || dayDigits < 1 || dayDigits > 2) return undefined;
  const y = digitsAt(field, 0, 4);
  const mo = digitsAt(field, 7, monthDigits);
  const d = digitsAt(field, month + 3, dayDigits);
  if (y < 1900 || y >= 9999 || !isCalendarDate(y, mo, d)) return undefined;
  return `${field.slice(0, 4)}-${twoDigits(mo)}-${twoDigits(d)}`;
}

/** Capital already in 万元 — digits, or digits and 万 (E4 B8 87) — and digits with thousands separators. */
const CAPITAL_IN_WAN = /^(-?\d+(?:\.\d+)?)(?:\xe4\xb8\x87)?$/;
const CAPITAL_THOUSANDS = /^-?\d{1,3}(,\d{3})+(\.\d+)?$/;

function capitalOnBytes(field: string): string | undefined {
  const inWan = CAPITAL_IN_WAN.exec(field);
  if (inWan) return inWan[1];
  return CAPITAL_THOUSANDS.test(field) ? field.replace(/,/g, '') : undefined;
}

/** A credit code already as it should be written: nothing to trim, nothing in lower case. */
const CODE_AS_WRITTEN = /^[0-9A-Z]+$/;

/**
 * Per rule, its answer read straight off the escaped field's UTF-8 bytes (a binary string) for the
 * common legacy forms, as the target's escaped field; undefined sends the field down the full path
 * (decode, clean, encode). Wherever it answers it must agree with the full path:
 * test/unit/cleansing.test.ts checks names over every code point, the others over every form.
 */
export const ON_BYTES: Partial<Record<CleaningRule, (field: string) => string | undefined>> = {
  name: (field) => (NAME_CHANGES.test(field) ? undefined : field),
  date: chineseDateOnBytes,
  capital: capitalOnBytes,
  creditCode: (field) => (CODE_AS_WRITTEN.test(field) ? field : undefined),
  creditCodeValid: (field) => (CODE_AS_WRITTEN.test(field) ? (isValidCreditCode(field) ? 't' : 'f') : undefined),
};

export const CLEANERS: Record<CleaningRule, Cleaner> = {
  name: cleanName,
  date: cleanDate,
  capital: cleanCapital,
  creditCode: cleanCreditCode,
  creditCodeValid,
};
