import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../../lib/settings';
import { temporalConnectionOptions } from '../../lib/temporal-connection';

/** Secrets by file (compose secrets, systemd credentials) and the Temporal TLS settings (issue #21). */
describe('settings: secrets by file 密钥文件', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settings-files-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  /** a key that passes the placeholder rules (lib/settings.ts signingKeyProblem): random-looking, long enough */
  const KEY = '9f3c1a7e5b2d4086c1e9a3f7b5d20e64a8c3f1b7';

  it('reads X from X_FILE, dropping the trailing newline, password characters intact', () => {
    const url = 'postgres://runbook:p%2Fa%2Bss@db:5432/jm_target';
    const s = loadSettings({
      TARGET_DATABASE_URL_FILE: write('target-url', `${url}\n`),
      APPROVAL_SIGNING_KEY_FILE: write('key', KEY + '\n'),
    });
    expect(s.TARGET_DATABASE_URL).toBe(url);
    expect(s.APPROVAL_SIGNING_KEY).toBe(KEY);
  });

  it('refuses both X and X_FILE, and an unreadable file, naming the setting and never the value', () => {
    const secret = 'x'.repeat(40);
    expect(() => loadSettings({ APPROVAL_SIGNING_KEY: secret, APPROVAL_SIGNING_KEY_FILE: write('k2', secret) })).toThrow(
      /APPROVAL_SIGNING_KEY: set both APPROVAL_SIGNING_KEY and APPROVAL_SIGNING_KEY_FILE/,
    );
    let message = '';
    try {
      loadSettings({ APPROVAL_SIGNING_KEY: secret, APPROVAL_SIGNING_KEY_FILE: path.join(dir, 'k2'), TARGET_DATABASE_URL_FILE: path.join(dir, 'missing') });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/TARGET_DATABASE_URL_FILE: cannot read .*missing \(ENOENT\)/);
    expect(message).not.toContain(secret);
  });

  it('a value read from a file is validated like one from the environment', () => {
    expect(() => loadSettings({ APPROVAL_SIGNING_KEY_FILE: write('short', 'short\n') })).toThrow(/APPROVAL_SIGNING_KEY: must be at least 32 characters/);
  });

  it('the worker deployment settings are validated, not read raw', () => {
    expect(loadSettings({ WORKER_SHUTDOWN_GRACE_SECONDS: '120' }, { signing: false }).WORKER_SHUTDOWN_GRACE_SECONDS).toBe(120);
    expect(loadSettings({}, { signing: false }).WORKER_SHUTDOWN_GRACE_SECONDS).toBe(0);
    expect(() => loadSettings({ WORKER_SHUTDOWN_GRACE_SECONDS: 'two minutes' }, { signing: false })).toThrow(/WORKER_SHUTDOWN_GRACE_SECONDS/);
    expect(() => loadSettings({ WORKER_SHUTDOWN_GRACE_SECONDS: '-1' }, { signing: false })).toThrow(/WORKER_SHUTDOWN_GRACE_SECONDS/);
  });

  it('Temporal TLS: plaintext by default, a client certificate needs its key, files are read at start', () => {
    expect(temporalConnectionOptions(loadSettings({}, { signing: false }))).toEqual({ address: '127.0.0.1:7233' });
    expect(() => loadSettings({ TEMPORAL_TLS_CERT_FILE: '/x.pem' }, { signing: false })).toThrow(/TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE: set both/);
    const opts = temporalConnectionOptions(
      loadSettings({
        TEMPORAL_ADDRESS: 'temporal:7233',
        TEMPORAL_TLS_CA_FILE: write('ca.pem', 'CA'),
        TEMPORAL_TLS_CERT_FILE: write('c.pem', 'CERT'),
        TEMPORAL_TLS_KEY_FILE: write('k.pem', 'KEY'),
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      }, { signing: false }),
    );
    expect(opts.address).toBe('temporal:7233');
    expect(opts.tls?.serverNameOverride).toBe('temporal.internal');
    expect(Buffer.from(opts.tls!.serverRootCACertificate!).toString()).toBe('CA');
    expect(Buffer.from(opts.tls!.clientCertPair!.key).toString()).toBe('KEY');
    expect(() => temporalConnectionOptions(loadSettings({ TEMPORAL_TLS_CA_FILE: path.join(dir, 'nope.pem') }, { signing: false }))).toThrow(
      /TEMPORAL_TLS_CA_FILE: cannot read .*nope\.pem \(ENOENT\)/,
    );
  });
});
