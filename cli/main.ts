import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { STEP_ICONS } from '../workflows/cutover-steps';
import type * as answers from './answers';

/**
 * 割接运行手册命令行 — the runbook CLI for ops in a terminal: a thin client of the HTTP API with the
 * same bearer tokens, so it can do exactly what the token's role may do through the API, and every
 * change it makes is in the API's audit trail.
 *
 * The token never comes from the command line (it would land in shell history and in `ps`): it is
 * read from JMRB_TOKEN, or from the file JMRB_TOKEN_FILE (default ~/.config/jm-runbook/token), which
 * must be readable by its owner only (chmod 600).
 */
const USAGE = `用法 usage: npm run -s cli -- <command> [options]

  start <rehearsal|live> [--run-id ID]        启动割接 start a cutover
  verify [--run-id ID]                         启动验证 start a verification of the migrated data
  fallback <runId> --reason TEXT               手动回退 start the fallback of a run by hand
  plan <T0 YYYY-MM-DD> [--plan-id ID]          启动项目计划 start the 90-day plan
  status <workflowId>                          运行状态 state and progress of a run (any kind)
  list [--kind K] [--status S] [--phase P] [--limit N] [--page TOKEN]
                                               运行列表 list runs (kinds: cutover, fallback, verification,
                                               plan, reporting, standby, remediation)
  pending                                      待我审批 gates and plan sign-offs waiting for me
  approve <workflowId> [--gate G] [--comment TEXT]
  reject <workflowId> --comment TEXT [--gate G]
                                               审批 decide a gate (default: the run's one open gate)
  signoff <planWorkflowId> <item> [--comment TEXT]
                                               签收 sign off a plan item
  step <workflowId> <step> <retry|skip|continue|fallback|abort> [--reason TEXT]
                                               失败步骤处置 choose how a failed step goes on
  corrections upload <sheet.csv|sheet.json> [--reason TEXT]
                                               上传整改单 upload a corrections sheet (CSV table,key,column,value
                                               needs --reason; JSON {reason, corrections, codeMappings})
  corrections list                             整改单列表 sheets and their status
  corrections approve|reject <sheetId> [--comment TEXT]
                                               审批整改单 decide a sheet (approver; never its uploader)
  remediate <sheetId> [--run-id ID]            问题数据整改 start a remediation run applying an approved sheet
  held [--table T] [--rule R] [--out FILE]     问题数据清单 held rows and issues; --out writes the CSV for Excel
  cancel <workflowId> --reason TEXT            取消 cancel a run
  report <workflowId> <name> [--out FILE]      报告 download a report (names: status shows them; e.g.
                                               summary.md, evidence.html, failure-analysis.md)
  token issue <user> <role>                    签发令牌 (admin) prints the new token, once, on stdout
  token list                                   令牌列表 (admin) ids, users, roles; never secrets
  token revoke <id>                            吊销令牌 (admin)

  --json                                       print the API's JSON instead of text

环境 environment:
  JMRB_API_URL     the API (default http://127.0.0.1:3000)
  JMRB_TOKEN       bearer token, or
  JMRB_TOKEN_FILE  file holding it, mode 0600 (default ~/.config/jm-runbook/token)
  Tokens are issued by an admin: npm run -s cli -- token issue <user> <role> > FILE (chmod 600);
  the first admin's with npm run -s token -- <user> admin
`;

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function readToken(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JMRB_TOKEN) return env.JMRB_TOKEN.trim();
  const file = env.JMRB_TOKEN_FILE ?? path.join(os.homedir(), '.config', 'jm-runbook', 'token');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new CliError(`no token: set JMRB_TOKEN, or put the token in ${file} (chmod 600) or point JMRB_TOKEN_FILE at one`, 2);
  }
  // Same rule as ssh for private keys: a token others can read is a token others can use.
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new CliError(`token file ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); run: chmod 600 ${file}`, 2);
  }
  const token = fs.readFileSync(file, 'utf8').trim();
  if (!token) throw new CliError(`token file ${file} is empty`, 2);
  return token;
}

/** An answer of the API: `body` is the route's JSON (cli/answers.ts), or text for other content types. */
interface Answer<Body> {
  status: number;
  body: Body;
  headers: Headers;
}

class Api {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call<Body = unknown>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<Body>> {
    const requestId = `cli-${randomUUID()}`;
    const send = () =>
      fetch(this.baseUrl + url, {
        method,
        redirect: 'manual',
        headers: {
          authorization: `Bearer ${this.token}`,
          'x-request-id': requestId,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        // a string is sent as it is (a CSV sheet, with its own content-type header)
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
    let res: Response;
    try {
      res = await send();
    } catch (err) {
      // One retry on a network failure; decisions carry an Idempotency-Key, so a retry never counts twice.
      if (method !== 'GET' && !headers['idempotency-key']) throw new CliError(`cannot reach the API at ${this.baseUrl}: ${(err as Error).message}`);
      try {
        res = await send();
      } catch (again) {
        throw new CliError(`cannot reach the API at ${this.baseUrl}: ${(again as Error).message}`);
      }
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    if (res.status >= 400) {
      const p = parsed as { title?: string; detail?: string; field?: string };
      throw new CliError(`错误 error ${res.status} ${p.title ?? ''}: ${p.detail ?? text}${p.field ? ` [${p.field}]` : ''} (request ${res.headers.get('x-request-id') ?? requestId})`);
    }
    return { status: res.status, body: parsed as Body, headers: res.headers };
  }

  /** A run's path under its kind, e.g. /cutovers/cutover-x, asked of the API so the CLI knows no kinds. */
  async runPath(workflowId: string): Promise<string> {
    const r = await this.call('GET', `/runs/${encodeURIComponent(workflowId)}`);
    const location = r.headers.get('location');
    if (r.status !== 307 || !location) throw new CliError(`the API did not say where run ${workflowId} is`);
    return location;
  }
}

export function progressBar(done: number, total: number, width = 30): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total}`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows.map((r) => r.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join('  ').trimEnd()).join('\n');
}

async function main(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      'run-id': { type: 'string' },
      'plan-id': { type: 'string' },
      kind: { type: 'string' },
      status: { type: 'string' },
      phase: { type: 'string' },
      limit: { type: 'string' },
      page: { type: 'string' },
      gate: { type: 'string' },
      table: { type: 'string' },
      rule: { type: 'string' },
      comment: { type: 'string' },
      reason: { type: 'string' },
      out: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.token !== undefined) {
    throw new CliError('refusing --token: a token on the command line lands in shell history and `ps`. Use JMRB_TOKEN or a 0600 token file (JMRB_TOKEN_FILE).', 2);
  }
  const [command, ...args] = positionals;
  if (!command || values.help) {
    out(USAGE);
    if (!command && !values.help) throw new CliError('no command given', 2);
    return;
  }
  const need = (n: number, what: string) => {
    if (args.length < n) throw new CliError(`${command}: missing ${what}\n\n${USAGE}`, 2);
  };
  const api = new Api((process.env.JMRB_API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''), readToken());
  const print = (json: unknown, text: () => string) => out(values.json ? JSON.stringify(json, null, 2) : text());

  switch (command) {
    case 'start': {
      need(1, '<rehearsal|live>');
      // the mode as typed: the API checks it (400 naming body.mode and the allowed values), one message for every client
      const body: answers.CutoverStartBody = { mode: args[0] as answers.CutoverStartBody['mode'], ...(values['run-id'] ? { runId: values['run-id'] } : {}) };
      const r = await api.call<answers.Started>('POST', '/cutovers', body);
      return print(r.body, () => `已启动 started ${r.body.workflowId}\n  ${r.body.ui}`);
    }
    case 'verify': {
      const body: answers.VerificationStartBody = values['run-id'] ? { runId: values['run-id'] } : {};
      const r = await api.call<answers.Started>('POST', '/verifications', body);
      return print(r.body, () => `已启动 started ${r.body.workflowId}\n  ${r.body.ui}`);
    }
    case 'fallback': {
      need(1, '<runId>');
      if (!values.reason) throw new CliError('fallback: say why with --reason "…"', 2);
      const body: answers.FallbackStartBody = { runId: args[0], reason: values.reason };
      const r = await api.call<answers.Started>('POST', '/fallbacks', body);
      return print(r.body, () => `已启动回退 fallback started ${r.body.workflowId}\n  ${r.body.ui}`);
    }
    case 'plan': {
      need(1, '<T0>');
      const body: answers.PlanStartBody = { t0: args[0], ...(values['plan-id'] ? { planId: values['plan-id'] } : {}) };
      const r = await api.call<answers.Started>('POST', '/plans', body);
      return print(r.body, () => `已启动 started ${r.body.workflowId}\n  ${r.body.ui}`);
    }
    case 'signoff': {
      need(2, '<planWorkflowId> <item>');
      const body: answers.PlanSignOffBody = values.comment ? { note: values.comment } : {};
      const r = await api.call<answers.ItemSignedOff>('POST', `${await api.runPath(args[0])}/items/${encodeURIComponent(args[1])}/signoff`, body);
      return print(r.body, () => `已签收 signed off ${r.body.itemId} of ${r.body.workflowId}`);
    }
    case 'step': {
      need(3, '<workflowId> <step> <action>');
      const r = await api.call<answers.StepChoiceSent>('POST', `${await api.runPath(args[0])}/steps/${encodeURIComponent(args[1])}/action`, { action: args[2], ...(values.reason ? { reason: values.reason } : {}) });
      return print(r.body, () => `已送达 sent ${r.body.action} for step ${r.body.step} of ${r.body.workflowId}`);
    }
    case 'corrections': {
      const [sub, ...rest] = args;
      if (sub === 'upload') {
        if (!rest.length) throw new CliError(`corrections upload: missing <sheet file>\n\n${USAGE}`, 2);
        const text = fs.readFileSync(rest[0], 'utf8');
        const csv = !rest[0].toLowerCase().endsWith('.json');
        if (csv && !values.reason) throw new CliError('corrections upload: a CSV sheet needs --reason "…" (整改说明)', 2);
        const r = csv
          ? await api.call<answers.CorrectionSetStored>('POST', `/remediation/corrections?reason=${encodeURIComponent(values.reason!)}`, text, { 'content-type': 'text/csv' })
          : await api.call<answers.CorrectionSetStored>('POST', '/remediation/corrections', JSON.parse(text));
        return print(r.body, () => `已保存 stored sheet ${r.body.id}: ${r.body.corrections} corrections, ${r.body.codeMappings} code entries, ${r.body.rows} held rows; awaiting approval by a second person`);
      }
      if (sub === 'list') {
        const r = await api.call<answers.CorrectionSetList>('GET', '/remediation/corrections');
        return print(r.body, () =>
          table([['sheet', 'status', 'uploaded by', 'decided by', 'corrections', 'codes', 'at'], ...r.body.sheets.map((x) => [x.id, x.status, x.uploadedBy, x.decision?.actor ?? '', String(x.corrections), String(x.codeMappings), x.at])]),
        );
      }
      if (sub === 'approve' || sub === 'reject') {
        if (!rest.length) throw new CliError(`corrections ${sub}: missing <sheetId>\n\n${USAGE}`, 2);
        const r = await api.call<answers.CorrectionSetView>('POST', `/remediation/corrections/${encodeURIComponent(rest[0])}/decision`, { decision: sub, ...(values.comment ? { reason: values.comment } : {}) });
        return print(r.body, () => `${sub === 'approve' ? '已批准 approved' : '已驳回 rejected'} sheet ${r.body.id}`);
      }
      throw new CliError(`corrections: say upload, list, approve or reject\n\n${USAGE}`, 2);
    }
    case 'held': {
      const q = new URLSearchParams();
      if (values.table) q.set('table', values.table);
      if (values.rule) q.set('rule', values.rule);
      if (values.out) {
        q.set('format', 'csv');
        const r = await api.call<string>('GET', `/remediation/held?${q}`);
        // the BOM Excel needs, which reading the answer as text dropped
        fs.writeFileSync(values.out, `\ufeff${String(r.body).replace(/^\ufeff/, '')}`);
        return out(`已写出 written ${values.out}`);
      }
      const r = await api.call<answers.HeldRows>('GET', `/remediation/held?${q}`);
      return print(r.body, () => table([['kind', 'table', 'rule', 'key', 'column', 'raw value'], ...r.body.rows.map((x) => [x.kind, x.table, x.rule, x.key ?? '', x.column ?? '', x.rawValue ?? ''])]));
    }
    case 'remediate': {
      need(1, '<sheetId>');
      const r = await api.call<answers.Started>('POST', '/remediations', { correctionSet: args[0], ...(values['run-id'] ? { runId: values['run-id'] } : {}) });
      return print(r.body, () => `已启动整改 remediation started ${r.body.workflowId}\n  ${r.body.ui}`);
    }
    case 'token': {
      const [sub, ...rest] = args;
      if (sub === 'issue') {
        if (rest.length < 2) throw new CliError(`token issue: missing <user> <role>\n\n${USAGE}`, 2);
        const r = await api.call<answers.IssuedToken>('POST', '/admin/tokens', { user: rest[0], role: rest[1] });
        // The secret alone on stdout, so it can go straight into a 0600 file; the rest to stderr.
        process.stderr.write(`已签发 issued token ${r.body.id} for ${r.body.user} (${r.body.role}); it is shown this once\n`);
        return print(r.body, () => r.body.token);
      }
      if (sub === 'list') {
        const r = await api.call<answers.TokenList>('GET', '/admin/tokens');
        return print(r.body, () =>
          table([
            ['id', 'user', 'role', 'created', 'by', 'revoked'],
            ...r.body.tokens.map((t) => [t.id, t.user, t.role, t.createdAt, t.createdBy ?? '(bootstrap)', t.revokedAt ? `${t.revokedAt} by ${t.revokedBy}` : '']),
          ]),
        );
      }
      if (sub === 'revoke') {
        if (!rest.length) throw new CliError(`token revoke: missing <id>\n\n${USAGE}`, 2);
        const r = await api.call<answers.TokenRecord>('DELETE', `/admin/tokens/${encodeURIComponent(rest[0])}`);
        return print(r.body, () => `已吊销 revoked token ${r.body.id} of ${r.body.user} (${r.body.role}) at ${r.body.revokedAt}`);
      }
      throw new CliError(`token: say issue, list or revoke\n\n${USAGE}`, 2);
    }
    case 'status': {
      need(1, '<workflowId>');
      const r = await api.call<answers.RunStatus>('GET', await api.runPath(args[0]));
      const s = r.body;
      return print(s, () =>
        [
          // Verification runs have no status of their own: a phase while running, a verdict at the end.
          `${s.workflowId}  ${s.status ?? s.verdict ?? s.phase} (${s.execution.toLowerCase()})${s.requestedBy ? `  started by ${s.requestedBy}` : ''}`,
          `${progressBar(s.progress.done, s.progress.total)}${s.progress.current ? `  ${s.progress.current}` : ''}`,
          // Numbered by their place in the run's list, which is the step table's order (workflows/cutover-steps.ts).
          ...(s.steps ?? []).map((st, i, all) => `  ${String(i + 1).padStart(String(all.length).length)}/${all.length} ${STEP_ICONS[st.status] ?? '?'} ${st.title}${st.detail ? ` — ${st.detail}` : ''}${st.status === 'failed' && st.error ? `\n      ✗ ${String(st.error).split('\n').join('\n      ')}` : ''}`),
          ...(s.openGates?.length ? [`待审批 waiting for approval: ${s.openGates.join(', ')}`] : []),
          ...(s.pendingFailure ? [`等待操作员 waiting for the operator: step ${s.pendingFailure.step} failed; choose ${s.pendingFailure.choices.join(' | ')} (npm run -s cli -- step ${s.workflowId} ${s.pendingFailure.step} <choice>)`] : []),
          ...(s.failure ? [`失败 failure: ${s.failure}`] : []),
          `  ${s.ui}`,
        ].join('\n'),
      );
    }
    case 'list': {
      const q = new URLSearchParams();
      if (values.kind) q.set('kind', values.kind);
      if (values.status) q.set('status', values.status);
      if (values.phase) q.set('phase', values.phase);
      if (values.limit) q.set('pageSize', values.limit);
      if (values.page) q.set('pageToken', values.page);
      const r = await api.call<answers.RunList>('GET', `/runs${q.size ? `?${q}` : ''}`);
      return print(r.body, () => {
        if (!r.body.runs.length) return '(无运行 no runs)';
        const rows = [['workflow', 'kind', 'status', 'phase', 'started by', 'started at'], ...r.body.runs.map((x) => [x.workflowId, x.kind, x.status ?? '', x.phase ?? '', x.requestedBy ?? '', x.startedAt])];
        return table(rows) + (r.body.nextPageToken ? `\nmore: --page ${r.body.nextPageToken}` : '');
      });
    }
    case 'pending': {
      const r = await api.call<answers.PendingApprovals>('GET', '/approvals/pending');
      return print(r.body, () => {
        const lines = r.body.pending.length
          ? table([['workflow', 'gate', 'started by', 'started at'], ...r.body.pending.map((p) => [p.workflowId, `${p.gate} (${p.gateTitle})`, p.requestedBy ?? '', p.startedAt])])
          : '(无待审批 nothing waiting for you)';
        const unreadable = r.body.unavailable.map((u) => `  ? ${u.workflowId}: ${u.problem}`);
        return [lines, ...(unreadable.length ? ['暂不可读 could not read:', ...unreadable] : [])].join('\n');
      });
    }
    case 'approve':
    case 'reject': {
      need(1, '<workflowId>');
      if (command === 'reject' && !values.comment) throw new CliError('reject: say why with --comment "…"', 2);
      const runPath = await api.runPath(args[0]);
      let gate = values.gate;
      if (!gate) {
        const s = (await api.call<answers.RunStatus>('GET', runPath)).body;
        if (s.openGates?.length !== 1) throw new CliError(`run ${args[0]} has ${s.openGates?.length ? `gates ${s.openGates.join(', ')} open` : 'no open gate'}; name one with --gate`, 2);
        gate = s.openGates[0];
      }
      const r = await api.call<answers.GateDecisionSent>(
        'POST',
        `${runPath}/gates/${encodeURIComponent(gate)}/decision`,
        { decision: command, ...(values.comment ? { reason: values.comment } : {}) },
        { 'idempotency-key': randomUUID() },
      );
      const repeat = r.headers.get('idempotent-replayed') === 'true';
      return print(r.body, () =>
        `${command === 'approve' ? '已批准 approved' : '已驳回 rejected'} ${r.body.workflowId} gate ${r.body.gate}${repeat ? ` (重复请求，只计一次 already decided by ${r.body.decidedBy}; counted once)` : ''}`,
      );
    }
    case 'cancel': {
      need(1, '<workflowId>');
      if (!values.reason) throw new CliError('cancel: say why with --reason "…"', 2);
      const r = await api.call<answers.CancelRequested>('POST', `${await api.runPath(args[0])}/cancel`, { reason: values.reason });
      return print(r.body, () => `已请求取消 cancellation requested for ${r.body.workflowId}`);
    }
    case 'report': {
      need(2, '<workflowId> <name>');
      const r = await api.call('GET', `${await api.runPath(args[0])}/reports/${encodeURIComponent(args[1])}`);
      const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body, null, 2);
      if (values.out) {
        fs.writeFileSync(values.out, text);
        return out(`已保存 saved ${values.out}`);
      }
      return out(text);
    }
    default:
      throw new CliError(`unknown command "${command}"\n\n${USAGE}`, 2);
  }
}

if (require.main === module) {
  main(process.argv.slice(2), (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n')).catch((err) => {
    process.stderr.write(`${err instanceof CliError ? err.message : (err as Error).stack}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  });
}
