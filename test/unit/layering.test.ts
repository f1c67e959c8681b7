import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crossings, importCycles, importGraph } from '../support/import-graph';

/**
 * 分层 Layering: lib/ is infrastructure (db, settings, logger, secrets, signing …) and never reaches up into the
 * workflows, the reports or the other domain folders; and no module imports itself back through others.
 */
const root = path.join(__dirname, '..', '..');
const DOMAIN_FOLDERS = ['workflows/', 'activities/', 'api/', 'reports/', 'environment/', 'plan/', 'migration/', 'verification/', 'standby/', 'reporting/', 'worker/', 'cli/', 'scripts/'];

describe('the import graph of the repository', () => {
  const graph = importGraph(root);

  test('is read from every source folder (a scanner that finds nothing would pass anything)', () => {
    expect(graph.edges.size).toBeGreaterThan(200);
    expect(graph.edges.get('workflows/cutover.ts')).toEqual(expect.arrayContaining(['workflows/cutover-messages.ts', 'workflows/kit/admission.ts']));
    expect(graph.edges.get('workflows/kit/admission.ts')).toContain('lib/decision-signing.ts');
  });

  test('lib/ imports nothing from workflows/ or any other domain folder', () => {
    const up = DOMAIN_FOLDERS.flatMap((folder) => crossings(graph, 'lib/', folder));
    expect(up).toEqual([]);
  });

  test('has no import cycles', () => {
    expect(importCycles(graph)).toEqual([]);
  });
});

describe('the scanner itself', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'h17-layering-'));
    execFileSync('git', ['init', '-q'], { cwd: dir });
    mkdirSync(path.join(dir, 'lib'));
    mkdirSync(path.join(dir, 'workflows'));
    writeFileSync(path.join(dir, 'lib', 'a.ts'), "import type { B } from '../workflows/b';\nexport type A = B;\n");
    writeFileSync(path.join(dir, 'workflows', 'b.ts'), "import { c } from './c';\nexport type B = string;\nexport const b = c;\n");
    writeFileSync(path.join(dir, 'workflows', 'c.ts'), "export const c = 1;\nexport const lazy = () => import('./b');\n");
    writeFileSync(path.join(dir, 'workflows', 'index.ts'), "export * from './c';\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('sees a type-only import from lib/ up into workflows/ and a cycle through a dynamic import', () => {
    const graph = importGraph(dir);
    expect(crossings(graph, 'lib/', 'workflows/')).toEqual(['lib/a.ts → workflows/b.ts']);
    expect(importCycles(graph)).toEqual([['workflows/b.ts', 'workflows/c.ts']]);
  });
});
