import { creditCodeCheck, isValidCreditCode, isValidRegNo, orgCodeCheck } from '../../lib/identifiers';

describe('registry identifiers (GB 32100-2015, GB 11714, ISO 7064 MOD 11,10)', () => {
  it.each(['91440700768414040K', '91440300708461136T', '914403001922038216', '91110000600037341L'])('accepts the real credit code %s', (code) => {
    expect(isValidCreditCode(code)).toBe(true);
    // pos 17 is the organization code's own check character
    expect(orgCodeCheck(code.slice(8, 16))).toBe(code[16]);
  });

  it('rejects a wrong check character, a swapped O/0 and letters outside the alphabet', () => {
    expect(isValidCreditCode('91440700768414040J')).toBe(false);
    expect(isValidCreditCode('91440700768414O40K')).toBe(false);
    expect(isValidCreditCode('9144070076841404')).toBe(false);
    expect(creditCodeCheck('9144070076841404I')).toBeNull();
  });

  it.each(['110108000000016', '330203000030639'])('accepts the registration number %s', (regno) => {
    expect(isValidRegNo(regno)).toBe(true);
  });

  it('rejects a registration number with a wrong check digit or length', () => {
    expect(isValidRegNo('110108000000017')).toBe(false);
    expect(isValidRegNo('1101080000000')).toBe(false);
  });
});
