import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from './loopback';

/**
 * A Temporal dev server of a test's own, for tests that stop and restart the server: the shared one
 * serves every other suite. Started by scripts/temporal-dev.sh (the same CLI, the same search
 * attributes) on free ports with its own SQLite file, so a restart keeps its runs.
 */
const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'temporal-dev.sh');

export class DedicatedTemporal {
  readonly stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-temporal-'));
  private port = 0;
  private uiPort = 0;
  /** what the script printed on its last call (its [temporal-dev] lines) */
  lastOutput = '';

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async script(command: 'start' | 'stop'): Promise<void> {
    if (!this.port) [this.port, this.uiPort] = [await closedPort(), await closedPort()];
    const { stdout, stderr } = await promisify(execFile)('bash', [SCRIPT, command], {
      env: { ...process.env, TEMPORAL_PORT: String(this.port), TEMPORAL_UI_PORT: String(this.uiPort), TEMPORAL_STATE_DIR: this.stateDir },
      timeout: 120_000,
    });
    this.lastOutput = stdout + stderr;
  }

  start(): Promise<void> {
    return this.script('start');
  }

  /** Stops the server process (the script waits until it has exited); its database file stays. */
  stop(): Promise<void> {
    return this.script('stop');
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.stateDir, { recursive: true, force: true });
  }
}
