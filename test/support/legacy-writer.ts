import http from 'node:http';
import { Client } from 'pg';
import { close, listen } from './loopback';

/**
 * A stand-in for the legacy application as the database sees it: while running it keeps writing to the
 * legacy database (an UPDATE of one entity every 20 ms) through its own role's connection; POST
 * /admin/stop stops the writes and closes the connection, as stopping the application would — unless
 * it is `stubborn`, when it answers 200 and goes on writing (a service manager that lied, a second node).
 */
export interface LegacyWriter {
  port: number;
  writes: () => number;
  close: () => Promise<void>;
}

export async function legacyWriter(url: string, opts: { stubborn?: boolean } = {}): Promise<LegacyWriter> {
  let client: Client | undefined = new Client({ connectionString: url, application_name: 'scztj-app' });
  await client.connect();
  let writes = 0;
  let loop: Promise<void> | undefined;
  let running = true;
  const write = async () => {
    while (running && client) {
      await client.query(`UPDATE e_baseinfo SET entname = entname WHERE pripid = (SELECT min(pripid) FROM e_baseinfo)`);
      writes++;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  loop = write();
  const stopWriting = async () => {
    running = false;
    await loop;
    await client?.end();
    client = undefined;
  };
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/admin/stop') {
      if (opts.stubborn) return void res.writeHead(200).end('{"stopped":true}');
      void stopWriting().then(() => res.writeHead(200).end('{"stopped":true}'));
      return;
    }
    res.writeHead(404).end();
  });
  const port = await listen(server);
  return {
    port,
    writes: () => writes,
    close: async () => {
      await stopWriting().catch(() => undefined);
      loop = undefined;
      await close(server);
    },
  };
}
