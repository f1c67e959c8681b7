import { CLEANERS, ON_BYTES, RuleFailure } from '../../migration/cleansing';
import { binaryOf, encodeField } from '../../migration/copy-text';

/** The escaped binary field the transform sees for a legacy value (copy-text.ts, CopyLine). */
const field = (text: string) => binaryOf(encodeField(text));

/** What the full path makes of a value: the target's escaped binary field, or the failed rule. */
function fullPath(rule: keyof typeof CLEANERS, text: string): string {
  const cleaned = CLEANERS[rule](text);
  return cleaned instanceof RuleFailure ? `fails ${cleaned.rule}` : binaryOf(encodeField(cleaned));
}

describe('cleansing read off the bytes (数据清洗)', () => {
  const name = ON_BYTES.name!;
  const date = ON_BYTES.date!;

  it('answers for a name only where cleanName would keep it, for every code point at the ends, inside and doubled', () => {
    const wrong: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      for (const text of [ch, `甲${ch}乙`, `甲${ch}${ch}乙`]) {
        const answer = name(field(text));
        if (answer !== undefined && answer !== fullPath('name', text)) wrong.push(`U+${cp.toString(16).toUpperCase().padStart(4, '0')} in "${text}"`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('answers for the names that need nothing, so registry names are not decoded at all', () => {
    for (const text of ['江门市蓬江区某某贸易有限公司', 'Jiangmen Trading Co. Ltd', '江门市某某（分店）经营部', '甲 乙']) expect(name(field(text))).toBe(field(text));
    for (const text of ['江门(分店)', ' 江门', '江门 ', '江门  分店', '江门\u3000分店', '江门\t分店', 'a\\b']) expect(name(field(text))).toBeUndefined();
  });

  it('reads 年月日 dates off their bytes exactly as the full path converts them, and leaves every other form to it', () => {
    const years = ['1899', '1900', '2000', '2023', '2024', '2100', '9998', '9999', '999', '20231'];
    const parts = ['0', '00', '1', '01', '2', '02', '9', '09', '10', '12', '13', '28', '29', '30', '31', '32', '', '123', 'x'];
    const missed: string[] = [];
    for (const y of years) {
      for (const m of parts) {
        for (const d of parts) {
          for (const text of [`${y}年${m}月${d}日`, ` ${y}年${m}月${d}日`, `${y}年${m}月${d}日 `, `${y}年${m}月${d}`, `${y}-${m}-${d}`]) {
            const answer = date(field(text));
            const full = fullPath('date', text);
            if (answer !== undefined) expect([text, answer]).toEqual([text, full]);
            // every valid date of the exact form is answered, bar the sentinel year
            else if (text === `${y}年${m}月${d}日` && /^\d{4}-\d\d-\d\d$/.test(full) && y !== '9999') missed.push(text);
          }
        }
      }
    }
    expect(missed).toEqual([]);
    expect(date(field('2018年5月6日'))).toBe('2018-05-06');
    expect(date(field('2024年2月29日'))).toBe('2024-02-29');
    expect(date(field('2023年2月29日'))).toBeUndefined();
  });

  it.each([
    ['capital', ['50', '50.5', '-5', '007', '10万', '10.5万', '10万元', '1亿', '5,000.00', '12,345', '1,23', '伍拾万元', ' 50', '50 ', '人民币50', '50元', '约十万左右', '5e3', '.5', '50.', '万']],
    ['creditCode', ['91440700768414040K', '91440700768414040J', '12345', '91440700768414040k', ' 91440700768414040K', '91440700768414040K ', 'ABC', '９１４４']],
    ['creditCodeValid', ['91440700768414040K', '91440700768414040J', '91440700768414040k', ' 91440700768414040K', '9144070076841404', '91440700768414O40K', 'I1440700768414040K']],
  ] as const)('reads %s off the bytes exactly as the full path does, where it answers', (rule, values) => {
    const onBytes = ON_BYTES[rule]!;
    let answered = 0;
    for (const text of values) {
      const answer = onBytes(field(text));
      if (answer === undefined) continue;
      answered++;
      expect([text, answer]).toEqual([text, fullPath(rule, text)]);
    }
    expect(answered).toBeGreaterThanOrEqual(3);
  });
});
