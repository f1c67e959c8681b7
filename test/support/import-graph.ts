import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import * as ts from 'typescript';

/**
 * 依赖图 The repository's import graph, read from its tracked .ts files with the TypeScript compiler's own
 * pre-processor (import / export … from / require / import()), relative specifiers resolved to files.
 * Type-only imports count too: a layer that needs another's types depends on it.
 */
export interface ImportGraph {
  /** repo-relative file → repo-relative files it imports */
  edges: Map<string, string[]>;
}

const EXTENSIONS = ['.ts', '.tsx', '/index.ts', '.js', '.json'];

export function tsFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: root, encoding: 'utf8' });
  return out.split('\n').filter((f) => f && !f.startsWith('node_modules/') && !f.endsWith('.d.ts'));
}

function resolveSpecifier(root: string, from: string, spec: string, known: Set<string>): string | null {
  if (!spec.startsWith('.')) return null;
  const base = relative(root, resolve(root, dirname(from), spec));
  if (known.has(base)) return base;
  for (const ext of EXTENSIONS) if (known.has(base + ext)) return base + ext;
  return null;
}

export function importGraph(root: string): ImportGraph {
  const files = tsFiles(root);
  const known = new Set(files);
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    const targets = new Set<string>();
    for (const ref of info.importedFiles) {
      const target = resolveSpecifier(root, file, ref.fileName, known);
      if (target && target !== file) targets.add(target);
    }
    edges.set(file, [...targets].sort());
  }
  return { edges };
}

/** Every elementary cycle's strongly connected component (Tarjan), each as a sorted list of files; only components of 2+ files. */
export function importCycles(graph: ImportGraph): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.edges.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...graph.edges.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/** Imports from files under `fromFolder` into files under `intoFolder` ("lib/" → "workflows/"), as "a → b" lines. */
export function crossings(graph: ImportGraph, fromFolder: string, intoFolder: string): string[] {
  const lines: string[] = [];
  for (const [file, targets] of graph.edges) {
    if (!file.startsWith(fromFolder)) continue;
    for (const t of targets) if (t.startsWith(intoFolder)) lines.push(`${file} → ${t}`);
  }
  return lines.sort();
}

if (require.main === module) {
  const root = resolve(__dirname, '../..');
  const graph = importGraph(root);
  console.log(`files: ${graph.edges.size}`);
  const cycles = importCycles(graph);
  console.log(`import cycles (strongly connected groups): ${cycles.length}`);
  for (const c of cycles) console.log(`  ${c.join(' ↔ ')}`);
  const lib = crossings(graph, 'lib/', 'workflows/');
  console.log(`imports from lib/ into workflows/: ${lib.length}`);
  for (const l of lib) console.log(`  ${l}`);
}
