import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPlanDefinition } from '../../plan/definition';
import { loadConnectedSystems, loadNetworkFlows } from '../../environment/probe-targets';

const repo = path.resolve(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-plan-def-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, value: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

const shipped = () => JSON.parse(fs.readFileSync(path.join(repo, 'config', 'plan.json'), 'utf8'));

describe('the shipped plan (config/plan.json)', () => {
  const plan = loadPlanDefinition(path.join(repo, 'config', 'plan.json'));
  const items = plan.packages.flatMap((p) => p.items);

  it("covers the seed's work packages, with the automated checks and cutover runs", () => {
    expect(plan.packages.map((p) => p.id)).toEqual(['kickoff', 'third-party', 'environment', 'integration', 'migration', 'standby', 'reporting', 'training', 'go-live']);
    expect(items.filter((i) => i.completion.kind === 'automated').map((i) => [i.id, i.completion.kind === 'automated' && i.completion.run])).toEqual([
      ['network-policy-check', 'network-policy-check'],
      ['joint-test-check', 'joint-test-check'],
      ['migration-rehearsal', 'cutover-rehearsal'],
      ['standby-replication', 'standby-setup'],
      ['standby-verification', 'standby-check'],
      ['aggregation-verification', 'reporting-joint-test'],
      ['formal-migration', 'cutover-live'],
    ]);
    for (const i of items) expect(i.title.zh && i.title.en).toBeTruthy();
  });

  it("keeps the seed's milestones: start within a week, third-party services, acceptance at T+90", () => {
    expect(plan.milestones.map((m) => [m.id, m.dueOffsetDays])).toEqual([
      ['implementation-start', 7],
      ['third-party-start', 7],
      ['acceptance', 90],
    ]);
    expect(Math.max(...items.map((i) => i.dueOffsetDays))).toBe(90);
  });

  it('declares ~28 connected systems and the province- and city-side flows', () => {
    const systems = loadConnectedSystems(path.join(repo, 'config', 'connected-systems.json'));
    expect(systems.systems).toHaveLength(28);
    const flows = loadNetworkFlows(path.join(repo, 'config', 'network-flows.json'));
    expect(new Set(flows.flows.map((f) => f.side))).toEqual(new Set(['province', 'city']));
  });
});

describe('plan validation names the JSON path of each problem', () => {
  it('refuses an unknown dependency', () => {
    const p = shipped();
    p.packages[2].items[0].dependsOn = ['implementation-plan', 'no-such-item'];
    expect(() => loadPlanDefinition(write('unknown.json', p))).toThrow(
      'packages[2].items[0].dependsOn[1]: item "server-resources" depends on "no-such-item", which is not an item of the plan',
    );
  });

  it('refuses a dependency cycle', () => {
    const p = shipped();
    // implementation-plan ← server-resources; make the plan depend on it back (same due day, so only the cycle is wrong)
    p.packages[0].items[0].dependsOn = ['server-resources'];
    p.packages[0].items[0].dueOffsetDays = 10;
    expect(() => loadPlanDefinition(write('cycle.json', p))).toThrow(/circular dependency (implementation-plan → server-resources → implementation-plan|server-resources → implementation-plan → server-resources)/);
  });

  it('refuses an item due before its dependency', () => {
    const p = shipped();
    p.packages[2].items[0].dueOffsetDays = 3;
    expect(() => loadPlanDefinition(write('early.json', p))).toThrow('packages[2].items[0].dependsOn[0]: item "server-resources" is due on day 3, before its dependency "implementation-plan" (day 7)');
  });

  it('refuses a bad owner role and an unknown automated run, by path', () => {
    const p = shipped();
    p.packages[1].items[0].ownerRole = 'viewer';
    p.packages[2].items[2].completion = { kind: 'automated', run: 'ping' };
    let message = '';
    try {
      loadPlanDefinition(write('shape.json', p));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('packages[1].items[0].ownerRole:');
    expect(message).toContain('packages[2].items[2].completion.run:');
  });

  it('refuses a milestone naming no item, and a duplicate item id', () => {
    const p = shipped();
    p.milestones[2].items = ['acceptance', 'handover'];
    p.packages[8].items.push({ ...p.packages[8].items[0] });
    let message = '';
    try {
      loadPlanDefinition(write('refs.json', p));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('milestones[2].items[1]: milestone "acceptance" names "handover", which is not an item of the plan');
    expect(message).toContain('packages[8].items[4].id: item "go-live-window" is already declared at packages[8].items[0]');
  });

  it('refuses a flow without a port and a system with a non-HTTP address', () => {
    expect(() => loadNetworkFlows(write('flows.json', { timeoutMs: 1000, flows: [{ name: 'db', description: 'x', host: 'db.internal', side: 'city' }] }))).toThrow('flows[0].port:');
    const system = { id: 'gsxt', name: { zh: '公示', en: 'Publicity' }, direction: 'outbound', legacyBaseUrl: 'ftp://old.internal', newBaseUrl: 'http://new.internal', healthPath: '/health' };
    expect(() => loadConnectedSystems(write('systems.json', { timeoutMs: 1000, systems: [system] }))).toThrow('systems[0].legacyBaseUrl: expected an http:// or https:// URL');
  });
});
