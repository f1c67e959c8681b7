import { ConfigError } from '../../lib/config-file';
import { REFERENCE_BUSINESS_LAYOUT } from '../../migration/business-layout';
import { loadMapping } from '../../migration/mapping';
import { BUNDLED_MAPPING as REAL, writeMapping } from '../support/mapping-file';

/**
 * 业务测试 Where the business tests read back the new system's writes is the mapping's `businessTests` (issue 13:
 * they named market_entity, entity_change and approval_application in the code): checked at load against the
 * mapped target tables, each problem with its JSON path; unknown keys refused.
 */
const problemsOf = (file: string): string[] => {
  try {
    loadMapping(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n  - ').slice(1);
    throw err;
  }
  return [];
};

describe('the business tests layout in the mapping', () => {
  it('is absent in the bundled mapping (the reference layout applies) and loads when declared', () => {
    expect(loadMapping(REAL).businessTests).toBeUndefined();
    const declared = loadMapping(writeMapping((m) => (m.businessTests = REFERENCE_BUSINESS_LAYOUT)));
    expect(declared.businessTests).toEqual(REFERENCE_BUSINESS_LAYOUT);
  });

  it('names each table or column the mapping does not have, with its path', () => {
    const file = writeMapping((m) => (m.businessTests = { ...REFERENCE_BUSINESS_LAYOUT, entity: { ...REFERENCE_BUSINESS_LAYOUT.entity, address: 'domicile' }, change: { ...REFERENCE_BUSINESS_LAYOUT.change, table: 'alterations' } }));
    const problems = problemsOf(file);
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringContaining('businessTests.entity.address: "domicile" is not a column of target table "market_entity"'), expect.stringContaining('businessTests.change.table: "alterations" is not a target table of the mapping')]),
    );
    expect(problems).toHaveLength(2);
  });

  it('refuses an unknown key and a missing one', () => {
    const typo = problemsOf(writeMapping((m) => (m.businessTests = { ...REFERENCE_BUSINESS_LAYOUT, cancellation: { ...REFERENCE_BUSINESS_LAYOUT.cancellation, vaule: '03' } })));
    expect(typo.join('\n')).toMatch(/businessTests\.cancellation.*vaule/);
    const missing = problemsOf(writeMapping((m) => (m.businessTests = { entity: REFERENCE_BUSINESS_LAYOUT.entity, change: REFERENCE_BUSINESS_LAYOUT.change })));
    expect(missing.join('\n')).toMatch(/businessTests\.cancellation/);
  });
});
