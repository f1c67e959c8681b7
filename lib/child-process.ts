import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './settings';

/**
 * Starts one of the product's own entry points (worker, API) as a child process and waits for its
 * ready line, built the way the caller is: from TypeScript with `node --import tsx` (a single process,
 * so a signal reaches it directly; the tsx CLI would put a wrapper in between), or — when the caller
 * itself runs compiled, as the benchmarks do — the compiled entry from dist/, as the image runs it.
 */
export interface RunningProcess {
  child: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

const COMPILED = __filename.endsWith('.js');

export async function startEntryPoint(opts: {
  entry: string;
  env: NodeJS.ProcessEnv;
  readyText: string;
  timeoutMs?: number;
  onOutput?: (text: string) => void;
}): Promise<RunningProcess> {
  const args = COMPILED ? [path.join(repoRoot, 'dist', opts.entry.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', path.join(repoRoot, opts.entry)];
  const child = spawn(process.execPath, args, {
    env: opts.env,
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const onData = (d: Buffer) => {
    const text = d.toString();
    log += text;
    if (log.length > 200_000) log = log.slice(-100_000);
    opts.onOutput?.(text);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  await new Promise<void>((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 90_000;
    const timer = setInterval(() => {
      if (log.includes(opts.readyText)) done();
    }, 50);
    const deadline = setTimeout(() => fail(new Error(`${opts.entry} was not ready within ${timeoutMs / 1000} s:\n${log.slice(-3000)}`)), timeoutMs);
    const onExit = (code: number | null) => fail(new Error(`${opts.entry} exited with ${code} before it was ready:\n${log.slice(-3000)}`));
    child.once('exit', onExit);
    function done() {
      clearInterval(timer);
      clearTimeout(deadline);
      child.off('exit', onExit);
      resolve();
    }
    function fail(err: Error) {
      clearInterval(timer);
      clearTimeout(deadline);
      child.kill('SIGKILL');
      reject(err);
    }
  });
  return {
    child,
    output: () => log,
    stop: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

/**
 * A process kept running the way a supervisor's restart policy would (compose `restart: unless-stopped`,
 * systemd `Restart=always`): whenever it exits without being asked to, it is started again.
 */
export async function supervised(opts: Parameters<typeof startEntryPoint>[0], onRestart: (exit: string) => void = () => undefined): Promise<{ stop: () => Promise<void>; restarts: () => number }> {
  let stopping = false;
  let restarts = 0;
  let current = await startEntryPoint(opts);
  const watch = (p: RunningProcess) =>
    p.child.once('exit', async (code, signal) => {
      if (stopping) return;
      restarts++;
      onRestart(signal ?? `code ${code}`);
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        if (stopping) return;
        try {
          current = await startEntryPoint(opts);
          return watch(current);
        } catch (err) {
          onRestart(`restart failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    });
  watch(current);
  return {
    stop: () => {
      stopping = true;
      return current.stop();
    },
    restarts: () => restarts,
  };
}

/** Settings as environment variables, for a child process. */
export function settingsEnv(settings: object, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)])), ...extra };
}
