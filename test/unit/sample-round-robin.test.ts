import fc from 'fast-check';
import { roundRobinByType } from '../../workflows/verification';

/** The cutover's business tests take the first few of this order: they must cover the entity types first. */
describe('roundRobinByType (the stratified sample ordered for the business tests)', () => {
  const entities = fc.uniqueArray(fc.record({ pripid: fc.string({ minLength: 1, maxLength: 8 }), enttype: fc.constantFrom('1100', '1150', '4540', '9500', '9100') }), {
    selector: (e) => e.pripid,
    maxLength: 60,
  });

  it('is a permutation that keeps each type’s own order', () => {
    fc.assert(
      fc.property(entities, (es) => {
        const out = roundRobinByType(es);
        expect([...out].sort()).toEqual(es.map((e) => e.pripid).sort());
        const typeOf = new Map(es.map((e) => [e.pripid, e.enttype]));
        for (const t of new Set(es.map((e) => e.enttype))) {
          expect(out.filter((p) => typeOf.get(p) === t)).toEqual(es.filter((e) => e.enttype === t).map((e) => e.pripid));
        }
      }),
    );
  });

  it('its first k entities cover min(k, number of types) different types', () => {
    fc.assert(
      fc.property(entities, fc.integer({ min: 1, max: 10 }), (es, k) => {
        const typeOf = new Map(es.map((e) => [e.pripid, e.enttype]));
        const types = new Set(es.map((e) => e.enttype)).size;
        expect(new Set(roundRobinByType(es).slice(0, k).map((p) => typeOf.get(p))).size).toBe(Math.min(k, types, es.length));
      }),
    );
  });
});
