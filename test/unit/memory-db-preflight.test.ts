import path from 'node:path';
import { memoryDbWarmUpProblems } from '../../activities/preflight';
import { loadMemoryDb } from '../../environment/memory-db';
import { loadMapping } from '../../migration/mapping';

/**
 * 预检 of the in-memory database's warm-up list against the mapping: a warm-up that reads a table or column
 * the mapping does not load is a configuration error found before anything runs, not after the migration.
 */
const root = path.join(__dirname, '..', '..');
const bundled = loadMapping(path.join(root, 'config', 'mapping.json'));
const registry2 = loadMapping(path.join(root, 'test', 'fixtures', 'registry2', 'mapping.json'));

describe('memory-db warm-up preflight 内存数据库预热预检', () => {
  it('the bundled config fits the bundled mapping, the second registry’s fits its own', () => {
    expect(memoryDbWarmUpProblems(bundled, loadMemoryDb(path.join(root, 'config', 'memory-db.json')))).toEqual([]);
    expect(memoryDbWarmUpProblems(registry2, loadMemoryDb(path.join(root, 'test', 'fixtures', 'registry2', 'memory-db.json')))).toEqual([]);
  });

  it('names each warm-up table and column the mapping does not load', () => {
    const problems = memoryDbWarmUpProblems(registry2, loadMemoryDb(path.join(root, 'config', 'memory-db.json')));
    expect(problems.map((p) => p.where)).toEqual(['memory-db warmUp[0].table', 'memory-db warmUp[1].table']);
    expect(problems[0].problem).toContain('"market_entity" is no target table of the mapping (enterprise, individual_business, enterprise_change, annual_report, approval_record)');
    const cfg = loadMemoryDb(path.join(root, 'test', 'fixtures', 'registry2', 'memory-db.json'))!;
    const typo = { ...cfg, warmUp: [{ ...cfg.warmUp[0], columns: [...cfg.warmUp[0].columns, 'entnmae'] }] };
    expect(memoryDbWarmUpProblems(registry2, typo)).toEqual([expect.objectContaining({ where: 'memory-db warmUp[0].columns', problem: expect.stringContaining('enterprise has no mapped column entnmae') })]);
    expect(memoryDbWarmUpProblems(registry2, { ...cfg, enabled: false })).toEqual([]);
  });
});
