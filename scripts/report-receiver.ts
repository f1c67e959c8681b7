import path from 'node:path';
import { startReceiver } from '../reporting/receiver';

/**
 * 国家局接收端 The reference national receiver as a process of its own (the demo, bench:reporting):
 *   node dist/scripts/report-receiver.js --dir DIR [--port N]
 * Prints one line, `receiver listening on http://127.0.0.1:PORT`, then serves until SIGTERM/SIGINT.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function main() {
  const dir = arg('dir');
  if (!dir) throw new Error('--dir expects the directory the accepted batches are written to');
  const portText = arg('port') ?? '0';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port expects a TCP port (0 = any free one), got "${portText}"`);
  const receiver = await startReceiver(path.resolve(dir), port);
  console.log(`receiver listening on ${receiver.url}`);
  const stop = () => void receiver.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
