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

/** A port that was just bound and released: nothing listens on it, so a connect is refused. */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await close(s);
  return port;
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
