import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { startGoLiveEnv } from '../support/golive-env';

/**
 * The tests' own surroundings must fail with their real cause and leave nothing open: a missing nginx
 * once failed ten tests with "nginx did not start:" and an empty reason, and the servers started before
 * it kept jest from exiting.
 */
describe('test surroundings (real servers)', () => {
  const refused = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });

  it('a missing nginx is named with how to install it, and the servers started before it are closed', async () => {
    const ports: number[] = [];
    await expect(startGoLiveEnv({ nginxBinary: '/nonexistent/bin/nginx', ports })).rejects.toThrow(
      /nginx did not start: \/nonexistent\/bin\/nginx is not installed \(Debian: apt-get install nginx/,
    );
    expect(ports).toHaveLength(2); // the legacy and new servers were up before nginx was tried
    for (const p of ports) expect(await refused(p)).toBe(true);
  });

  it('a working environment listens on its ports and closes every one on stop', async () => {
    const ports: number[] = [];
    const env = await startGoLiveEnv({ ports });
    try {
      expect(ports).toHaveLength(4);
      for (const p of ports) expect(await refused(p)).toBe(false);
      expect(await env.throughProxy('gsxt')).toBe('legacy');
    } finally {
      await env.stop();
    }
    for (const p of ports) expect(await refused(p)).toBe(true);
  });

  it('npm test’s set-up names every missing tool once, with the command that installs it, when it may not install them', () => {
    // As a user who is not root (apt-get is not theirs to run), on a machine where neither tool is found.
    const script = path.join(__dirname, '..', '..', 'scripts', 'test-setup.sh');
    const asUser = process.getuid?.() === 0 ? ['runuser', ['-u', 'nobody', '--', 'bash', script]] : ['bash', [script]];
    const r = spawnSync(asUser[0] as string, asUser[1] as string[], { env: { PATH: process.env.PATH, TEST_SETUP_TOOLS_PATH: '/nonexistent' }, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('[test-setup] missing: nginx redis-server docker-compose systemd openssl — the tests drive them for real. Install with: sudo apt-get install nginx redis-server docker-compose systemd openssl   (then run npm test again)\n');
  });
});
