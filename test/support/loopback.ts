import http from 'node:http';
import net from 'node:net';

/**
 * Real servers on 127.0.0.1 for tests that probe or notify: nothing leaves the machine.
 */
export async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

export function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A port nothing listens on right now, for a server another process will start there (or for a connect that must be
 * refused). Picked below the kernel's ephemeral range (32768–60999 here): a port the kernel hands out could be taken
 * by any outgoing connection before that server binds it, and it then fails with "Address already in use".
 */
export async function closedPort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await close(s);
      return port;
    }
  }
  throw new Error('no free port between 20000 and 31999 after 100 tries');
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP server that answers each path with the given status and keeps every request it saw. */
export async function recordingServer(statusFor: (url: string) => number = () => 200): Promise<{ port: number; received: ReceivedRequest[]; server: http.Server }> {
  const received: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(statusFor(req.url ?? '')).end();
    });
  });
  return { port: await listen(server), received, server };
}
