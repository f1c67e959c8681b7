import fs from 'node:fs';
import path from 'node:path';

/**
 * 连接中断 A pg Client or Pool that loses its connection while idle emits 'error'; with nobody listening, the
 * whole process crashes (a worker killed by one terminated backend). Every one the product makes must
 * listen: made through lib/db.ts (withClient, resilientPool), or with its own `.on('error', …)` right after.
 */
const root = path.join(__dirname, '..', '..');
const SKIP = new Set(['node_modules', 'dist', '.data', 'test', '.git', 'coverage']);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return [];
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('every pg client and pool listens for a dropped connection 连接中断不致进程退出', () => {
  it('each `new Client(` / `new Pool(` of pg in the product has an error listener within the next lines', () => {
    const unheard: string[] = [];
    let seen = 0;
    for (const file of sources(root)) {
      const text = fs.readFileSync(file, 'utf8');
      if (!/from 'pg'/.test(text)) continue;
      const lines = text.split('\n');
      lines.forEach((line, i) => {
        const m = /(?:const|let)\s+(\w+)\s*=\s*new (?:pg\.)?(Client|Pool)\(/.exec(line);
        if (!m) return;
        seen++;
        const after = lines.slice(i + 1, i + 8).join('\n');
        if (!new RegExp(`${m[1]}\\.on\\('error'`).test(after)) unheard.push(`${path.relative(root, file)}:${i + 1} ${m[1]}`);
      });
    }
    expect(seen).toBeGreaterThan(2);
    expect(unheard).toEqual([]);
  });
});
