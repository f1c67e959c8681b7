import http from 'node:http';
import { close, listen } from './loopback';

/**
 * Real HTTP servers on 127.0.0.1 standing for the two sides of the connected interfaces: the legacy
 * system and the new system. Each answers <anything>/health with its side's name while running, and
 * 503 once stopped through its service-control endpoints (POST /admin/stop, /admin/start), as a
 * stopped application behind a still-listening port would. A third server stands for a connected
 * system's own configuration API (GET/PUT /config holding {"baseUrl": …}).
 */
export interface SideServer {
  side: 'legacy' | 'new';
  port: number;
  running: () => boolean;
  setRunning: (v: boolean) => void;
  /** makes POST /admin/start answer 500, as a service that will not come up */
  refuseStart: (v: boolean) => void;
  /** every service-control call it received, in order ('stop' | 'start') */
  actions: string[];
  close: () => Promise<void>;
}

export async function sideServer(side: 'legacy' | 'new'): Promise<SideServer> {
  let running = true;
  let refusing = false;
  const actions: string[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (req.method === 'POST' && url === '/admin/start' && refusing) return void res.writeHead(500).end('will not start');
    if (req.method === 'POST' && (url === '/admin/stop' || url === '/admin/start')) {
      actions.push(url.slice('/admin/'.length));
      running = url === '/admin/start';
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ side, running }));
    }
    if (url.endsWith('/health')) {
      if (!running) return void res.writeHead(503).end('stopped');
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ side, path: url }));
    }
    res.writeHead(404).end();
  });
  const port = await listen(server);
  return { side, port, running: () => running, setRunning: (v) => (running = v), refuseStart: (v) => (refusing = v), actions, close: () => close(server) };
}

export async function configApiServer(initialBaseUrl: string): Promise<{ port: number; baseUrl: () => string; close: () => Promise<void> }> {
  let baseUrl = initialBaseUrl;
  const server = http.createServer((req, res) => {
    if (req.url !== '/config') return void res.writeHead(404).end();
    if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ baseUrl }));
    if (req.method === 'PUT') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        baseUrl = (JSON.parse(body) as { baseUrl: string }).baseUrl;
        res.writeHead(204).end();
      });
      return;
    }
    res.writeHead(405).end();
  });
  const port = await listen(server);
  return { port, baseUrl: () => baseUrl, close: () => close(server) };
}
