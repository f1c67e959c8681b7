import path from 'node:path';
import { loadMapping, loadSteps } from '../../migration/mapping';
import { inLoadOrder } from '../../workflows/load-order';

const mapping = loadMapping(path.join(__dirname, '..', '..', 'config', 'mapping.json'));

/** A fake table load that records when it ran, so the test can check the order and the overlap. */
function recorder(failing?: string) {
  const log: string[] = [];
  let running = 0;
  let peak = 0;
  const load = async (table: string) => {
    running++;
    peak = Math.max(peak, running);
    log.push(`start ${table}`);
    await new Promise((r) => setTimeout(r, table === 'market_entity' ? 30 : 5));
    running--;
    log.push(`end ${table}`);
    if (table === failing) throw new Error(`${table} failed`);
    return table.length;
  };
  return { log, load, peak: () => peak };
}

describe('load order (装载顺序): dependencies, not a queue', () => {
  it('makes each table wait for its parent and for every table of an earlier category', () => {
    const steps = new Map(loadSteps(mapping).map((s) => [s.table, s.after]));
    expect(steps.get('market_entity')).toEqual([]);
    expect(steps.get('name_reservation')).toEqual([]);
    expect(steps.get('entity_person')).toEqual(['market_entity']);
    expect(steps.get('entity_change')).toEqual(['market_entity', 'name_reservation', 'enterprise_group', 'entity_person']);
    expect(steps.get('approval_material')).toEqual(expect.arrayContaining(['entity_change', 'approval_application']));
    expect(steps.get('approval_material')).not.toContain('approval_process');
  });

  it('starts a table only after what it waits for has ended, and overlaps the others up to the limit', async () => {
    const r = recorder();
    const results = await inLoadOrder(loadSteps(mapping), 2, r.load);
    expect([...results.keys()].sort()).toEqual(mapping.tables.map((t) => t.name).sort());
    for (const step of loadSteps(mapping)) {
      for (const before of step.after) expect(r.log.indexOf(`end ${before}`)).toBeLessThan(r.log.indexOf(`start ${step.table}`));
    }
    expect(r.peak()).toBe(2);
    // name_reservation loads beside market_entity instead of after it
    expect(r.log.indexOf('start name_reservation')).toBeLessThan(r.log.indexOf('end market_entity'));
  });

  it('never exceeds the limit of one, which is the plain sequence', async () => {
    const r = recorder();
    await inLoadOrder(loadSteps(mapping), 1, r.load);
    expect(r.peak()).toBe(1);
    expect(r.log.filter((l) => l.startsWith('start')).map((l) => l.slice(6))).toEqual(mapping.tables.map((t) => t.name));
  });

  it('on a failure starts nothing new, lets the tables in flight finish, then throws the first error', async () => {
    const r = recorder('name_reservation');
    await expect(inLoadOrder(loadSteps(mapping), 2, r.load)).rejects.toThrow('name_reservation failed');
    expect(r.log).toContain('end market_entity');
    expect(r.log.filter((l) => l.startsWith('start'))).toEqual(['start market_entity', 'start name_reservation']);
  });

  it('refuses dependencies that can never be met instead of hanging', async () => {
    await expect(inLoadOrder([{ table: 'a', after: ['ghost'] }], 2, async () => 1)).rejects.toThrow('tables a wait for tables that never load');
  });
});
