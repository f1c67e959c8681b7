import fc from 'fast-check';
import { decodeLine, encodeLine, Field } from '../../migration/copy-text';
import { loadMapping } from '../../migration/mapping';
import { compileTransform, transformText } from '../../migration/transform';
import { BUNDLED_MAPPING, writeMapping } from '../support/mapping-file';

/**
 * 异常数据处理策略, property-tested on market_entity rows the tests did not shape: whatever breaks a non-key
 * field, the default policies load the row (its key as it was) and name every broken rule with its raw value;
 * and a row that breaks nothing comes out exactly as under a mapping that quarantines everything — the
 * policies change nothing for clean rows.
 */
const defaults = loadMapping(BUNDLED_MAPPING);
const strict = loadMapping(writeMapping((m) => (m.anomalyPolicies = { invalid_date: 'quarantine', invalid_capital: 'quarantine', unmapped_code: 'quarantine', required: 'quarantine', check: 'quarantine' })));
const lenient = compileTransform(defaults, defaults.tables[0]);
const careful = compileTransform(strict, strict.tables[0]);

// pripid uniscid uniscid_valid regno entname enttype regstate regcap regcapcur estdate apprdate opto dom domdistrict regorg opscope
const text = fc.oneof(fc.constant(''), fc.constant(null), fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 8 }));
const date = fc.oneof(text, fc.constantFrom('2001-02-03', '1899-12-31', '2023-02-30', '9999-09-09', '20010305', '2001年3月5日', '不详'));
const capital = fc.oneof(text, fc.constantFrom('10万', '-5', '约十万左右', '5,000.00', '伍拾万元', '0'));
const code = (known: string[]) => fc.oneof(text, fc.constantFrom(...known, 'X9', ' 1 '));
const row = fc.tuple(
  fc.stringMatching(/^JM[0-9]{1,10}$/),
  text, text, text, text,
  code(['1130', '9999', 'QY01']), code(['1', '1001', '迁出']), capital, text, date, date, date, text, code(['440703', '440782']), text, text,
).map((r) => [...r, ].map((v, i) => (i === 2 ? r[1] : v)) as Field[]);

describe('anomaly policies (property)', () => {
  it('never holds an entity back for a non-key field, and names each broken rule with the raw value', () => {
    fc.assert(
      fc.property(row, (fields) => {
        const out = transformText(lenient, encodeLine(fields));
        expect(out.ok).toBe(true);
        if (!out.ok) return;
        const loaded = decodeLine(out.line.slice(0, -1));
        expect(loaded[0]).toBe(fields[0]);
        for (const f of out.flags ?? []) {
          const col = defaults.tables[0].columns.findIndex((c) => c.target === f.column);
          expect(col).toBeGreaterThan(0);
          // the raw value is the legacy field as it was ('' and NULL both read as missing)
          expect(f.raw ?? '').toBe(fields[col] ?? '');
        }
        const strictOut = transformText(careful, encodeLine(fields));
        if (strictOut.ok) {
          // a row that breaks nothing: the same line, no flags
          expect(out).toEqual({ ok: true, line: strictOut.line });
        } else {
          // a row the strict mapping holds is flagged under the rule it broke first
          expect((out.flags ?? []).map((f) => f.rule)).toContain(strictOut.rule);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
