/**
 * Registry identifiers and their check characters (DOMAIN.md):
 * unified social credit code (GB 32100-2015), organization code (GB 11714), and the 15-digit
 * registration number (ISO 7064 MOD 11,10).
 */
const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];

/** Check character (pos 9 of an organization code, pos 17 of a credit code) for 8 code characters. */
export function orgCodeCheck(body8: string): string {
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    const ch = body8[i];
    const v = ch >= '0' && ch <= '9' ? ch.charCodeAt(0) - 48 : ch.charCodeAt(0) - 55;
    sum += v * ORG_WEIGHTS[i];
  }
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/** Each character code's value in the credit code alphabet, -1 outside it: checked for every entity migrated and verified. */
const USCC_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < USCC_ALPHABET.length; i++) USCC_VALUE[USCC_ALPHABET.charCodeAt(i)] = i;

/** Check character (pos 18) for the first 17 characters of a credit code, or null if they use a symbol outside the alphabet. */
export function creditCodeCheck(first17: string): string | null {
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = USCC_VALUE[first17.charCodeAt(i)] ?? -1;
    if (v < 0) return null;
    sum += v * USCC_WEIGHTS[i];
  }
  return USCC_ALPHABET[(31 - (sum % 31)) % 31];
}

export function isValidCreditCode(code: string): boolean {
  return code.length === 18 && creditCodeCheck(code) === code[17];
}

/** Check digit of a 15-digit registration number over its first 14 digits. */
export function regNoCheck(first14: string): string {
  let p = 10;
  for (const ch of first14) {
    const s = (p % 11) + Number(ch);
    p = (((s % 10) || 10) * 2) % 11;
  }
  return String((11 - p) % 10);
}

export function isValidRegNo(regno: string): boolean {
  return /^\d{15}$/.test(regno) && regNoCheck(regno.slice(0, 14)) === regno[14];
}
