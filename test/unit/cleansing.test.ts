import { CLEANERS, KEEPS } from '../../migration/cleansing';
import { binaryOf, encodeField } from '../../migration/copy-text';

/** The escaped binary field the transform sees for a legacy value (copy-text.ts, CopyLine). */
const field = (text: string) => binaryOf(encodeField(text));

describe('cleansing shortcuts (数据清洗)', () => {
  const keepsName = KEEPS.name!;
  const cleanName = CLEANERS.name;

  it('never keeps a name that cleanName would change, for every code point at the ends, inside and doubled', () => {
    const missed: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      for (const name of [ch, `甲${ch}乙`, `甲${ch}${ch}乙`]) {
        if (cleanName(name) !== name && keepsName(field(name))) missed.push(`U+${cp.toString(16).toUpperCase().padStart(4, '0')} in "${name}"`);
      }
    }
    expect(missed).toEqual([]);
  });

  it('keeps the names that need nothing, so registry names are not decoded at all', () => {
    for (const name of ['江门市蓬江区某某贸易有限公司', 'Jiangmen Trading Co. Ltd', '江门市某某（分店）经营部', '甲 乙']) {
      expect(cleanName(name)).toBe(name);
      expect(keepsName(field(name))).toBe(true);
    }
    for (const name of ['江门(分店)', ' 江门', '江门 ', '江门  分店', '江门\u3000分店', '江门\t分店', 'a\\b']) expect(keepsName(field(name))).toBe(false);
  });
});
