import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CutoverState } from '../../workflows/cutover-messages';
import { TestStack } from '../support/stack';
import { registerTarget } from '../../lib/target-guard';

/** The ops CLI (cli/main.ts) as a real process against the running API, worker and Temporal. */
describe('CLI over the API', () => {
  const stack = new TestStack();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jm-cli-'));
  let operator: string;
  let approver: string;

  beforeAll(async () => {
    await stack.start();
    await stack.seedLegacy(200);
    operator = await stack.token('olivia.ops', 'operator');
    approver = await stack.token('li.approver', 'approver');
    await stack.startWorker();
  });
  afterAll(async () => {
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(__dirname, '..', '..', 'cli', 'main.ts'), ...args],
        // No inherited JMRB_* variables: each test says where its token comes from.
        { env: { PATH: process.env.PATH, HOME: dir, JMRB_API_URL: stack.baseUrl, ...env }, timeout: 60000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
  }

  function tokenFile(name: string, token: string, mode: number): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, token + '\n');
    fs.chmodSync(file, mode);
    return file;
  }

  it('takes the token from JMRB_TOKEN or a 0600 file, never from the command line', async () => {
    const none = await cli(['list'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no token: set JMRB_TOKEN');
    const arg = await cli(['list', '--token', operator], {});
    expect(arg.code).toBe(2);
    expect(arg.stderr).toContain('refusing --token');
    const loose = await cli(['list'], { JMRB_TOKEN_FILE: tokenFile('loose', operator, 0o644) });
    expect(loose.code).toBe(2);
    expect(loose.stderr).toContain('chmod 600');
    const fromFile = await cli(['list'], { JMRB_TOKEN_FILE: tokenFile('ops', operator, 0o600) });
    expect(fromFile).toMatchObject({ code: 0, stdout: '(无运行 no runs)\n' });
    // The default place, ~/.config/jm-runbook/token.
    fs.mkdirSync(path.join(dir, '.config', 'jm-runbook'), { recursive: true });
    tokenFile(path.join('.config', 'jm-runbook', 'token'), operator, 0o600);
    expect((await cli(['list'], {})).code).toBe(0);
    const bad = await cli(['list'], { JMRB_TOKEN: 'jmrb_wrong' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/错误 error 401 Unauthenticated: the bearer token is unknown or revoked \(request cli-[0-9a-f-]{36}\)/);
  });

  it('starts a run, shows its progress, lists it, and an approver approves it once', async () => {
    const ops = { JMRB_TOKEN: operator };
    const boss = { JMRB_TOKEN_FILE: tokenFile('approver', approver, 0o600) };
    await registerTarget(stack.settings.TARGET_DATABASE_URL, stack.settings.LEGACY_DATABASE_URL, 'test-setup');
    const started = await cli(['start', 'rehearsal', '--run-id', `${stack.id}-cli`], ops);
    expect(started.stdout).toContain(`已启动 started cutover-${stack.id}-cli`);
    const id = `cutover-${stack.id}-cli`;

    const refused = await cli(['start', 'yolo'], ops);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('错误 error 400 Invalid request: body.mode must be equal to one of the allowed values: rehearsal, live [body.mode]');

    /** Polls `status` until the run waits at the named gate. */
    const statusAt = async (gate: string) => {
      let status = await cli(['status', id], ops);
      for (let i = 0; i < 240 && !status.stdout.includes(`待审批 waiting for approval: ${gate}`); i++) {
        await new Promise((r) => setTimeout(r, 500));
        status = await cli(['status', id], ops);
      }
      return status;
    };
    expect((await statusAt('wipe')).stdout).toContain(`${id}  waiting_approval (running)  started by olivia.ops`);
    expect((await cli(['approve', id, '--comment', '测试数据可清除 test data may go'], boss)).stdout).toBe(`已批准 approved ${id} gate wipe\n`);

    const status = await statusAt('go-no-go');
    expect(status.stdout).toContain(`${id}  waiting_approval (running)  started by olivia.ops`);
    expect(status.stdout).toContain(`[${'█'.repeat(15)}${'░'.repeat(15)}] 10/20  上线决策 Go/no-go approval`);
    expect(status.stdout).toContain('☑ 数据迁移 Migrate');
    expect(status.stdout).toContain('待审批 waiting for approval: go-no-go');

    expect((await cli(['list', '--status', 'waiting_approval'], ops)).stdout).toMatch(new RegExp(`${id}\\s+cutover\\s+waiting_approval\\s+go-no-go\\s+olivia.ops`));
    expect((await cli(['pending'], ops)).stdout).toContain('(无待审批 nothing waiting for you)');
    expect((await cli(['pending'], boss)).stdout).toContain(`${id}  go-no-go (上线决策 Go/no-go approval)  olivia.ops`);

    const ownApproval = await cli(['approve', id, '--gate', 'go-no-go'], ops);
    expect(ownApproval.code).toBe(1);
    expect(ownApproval.stderr).toContain('403');

    const approved = await cli(['approve', id, '--comment', '记录数一致 counts reconcile'], boss);
    expect(approved).toMatchObject({ code: 0, stdout: `已批准 approved ${id} gate go-no-go\n` });
    await statusAt('switch');
    expect((await cli(['approve', id, '--comment', '切换 switch'], boss)).stdout).toBe(`已批准 approved ${id} gate switch\n`);
    const result = (await stack.temporal.workflow.getHandle(id).result()) as CutoverState;
    expect(result.status).toBe('completed');
    const again = await cli(['approve', id, '--gate', 'go-no-go'], boss); // the gate is closed now, so it must be named
    expect(again.stdout).toContain('counted once');
    const final = (await stack.http('GET', `/cutovers/${id}`, operator)).body as CutoverState;
    expect(final.decisions.filter((d) => d.gate === 'go-no-go')).toHaveLength(1);

    const done = await cli(['status', id], ops);
    expect(done.stdout).toContain(`[${'█'.repeat(30)}] 20/20`);
    const json = JSON.parse((await cli(['status', id, '--json'], ops)).stdout);
    expect(json).toMatchObject({ workflowId: id, status: 'completed', execution: 'COMPLETED' });

    const out = path.join(dir, 'summary.md');
    expect((await cli(['report', id, 'summary.md', '--out', out], boss)).stdout).toContain('已保存 saved');
    expect(fs.readFileSync(out, 'utf8')).toContain('approved by li.approver');
    expect((await cli(['report', id, '../../etc/passwd'], boss)).stderr).toContain('400');
  });

  it('cancels a run with a reason', async () => {
    const id = await stack.startCutoverAtGate(operator, `${stack.id}-cli-cancel`);
    const noReason = await cli(['cancel', id], { JMRB_TOKEN: operator });
    expect(noReason.code).toBe(2);
    const cancelled = await cli(['cancel', id, '--reason', '演练结束 drill over'], { JMRB_TOKEN: operator });
    expect(cancelled.stdout).toContain(`已请求取消 cancellation requested for ${id}`);
    await expect(stack.temporal.workflow.getHandle(id).result()).rejects.toThrow();
    expect((await stack.temporal.workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
  });

  it('administers tokens: issue prints the secret alone, list shows none, a revoked token is refused', async () => {
    const admin = { JMRB_TOKEN: await stack.token('root.admin', 'admin') };
    const issued = await cli(['token', 'issue', 'dana.viewer', 'viewer'], admin);
    expect(issued.code).toBe(0);
    expect(issued.stdout).toMatch(/^jmrb_[A-Za-z0-9_-]{32}\n$/);
    expect(issued.stderr).toMatch(/^已签发 issued token \d+ for dana.viewer \(viewer\); it is shown this once\n$/);
    const dana = { JMRB_TOKEN_FILE: tokenFile('dana', issued.stdout.trim(), 0o600) };
    expect((await cli(['list'], dana)).code).toBe(0);

    const list = await cli(['token', 'list'], admin);
    expect(list.stdout).toMatch(/\d+\s+dana.viewer\s+viewer\s+\S+\s+root.admin\n/);
    expect(list.stdout).not.toContain(issued.stdout.trim());
    const id = JSON.parse((await cli(['token', 'list', '--json'], admin)).stdout).tokens.find((t: { user: string }) => t.user === 'dana.viewer').id;
    expect((await cli(['token', 'revoke', id], admin)).stdout).toMatch(new RegExp(`^已吊销 revoked token ${id} of dana.viewer \\(viewer\\) at `));
    const refused = await cli(['list'], dana);
    expect({ code: refused.code, err: refused.stderr.includes('401 Unauthenticated') }).toEqual({ code: 1, err: true });
    const notAdmin = await cli(['token', 'list'], { JMRB_TOKEN: operator });
    expect({ code: notAdmin.code, err: notAdmin.stderr.includes('403 Forbidden') }).toEqual({ code: 1, err: true });
  });
});
