import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The bundled mapping (config/mapping.json). */
export const BUNDLED_MAPPING = path.join(__dirname, '..', '..', 'config', 'mapping.json');

/**
 * A changed copy of the bundled mapping, written beside a copy of its code tables (in `dir`, or a new
 * temporary folder), for tests of what the loader, the preflight and the engine make of it.
 */
export function writeMapping(mutate: (m: any) => void, opts: { dir?: string; name?: string } = {}): string {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'jm-mapping-'));
  const tables = path.join(dir, 'code-tables');
  if (!fs.existsSync(tables)) fs.cpSync(path.join(path.dirname(BUNDLED_MAPPING), 'code-tables'), tables, { recursive: true });
  const m = JSON.parse(fs.readFileSync(BUNDLED_MAPPING, 'utf8'));
  mutate(m);
  const file = path.join(dir, opts.name ?? 'mapping.json');
  fs.writeFileSync(file, JSON.stringify(m, null, 2));
  return file;
}
