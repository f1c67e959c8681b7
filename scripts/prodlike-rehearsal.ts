import fs from 'node:fs';
import path from 'node:path';
import type { CutoverState } from '../workflows/cutover-messages';

/**
 * 彩排 The rehearsal `npm run prodlike` runs on its production-like stack (scripts/prodlike.sh), only through the API
 * and the UI server, as people would: an operator starts a cutover, a second person (approver) opens each gate; on
 * the way the worker is killed (SIGKILL, as a crash) once while the migration runs — the supervisor restarts it
 * and the run must still complete; while the run waits at a gate, the Web UI is asked to terminate and cancel it,
 * which a read-only UI must refuse (405) with the run untouched. Last line: result: rehearsal=<status> ui_writable=<bool>
 * Environment: PRODLIKE_API, PRODLIKE_UI, PRODLIKE_STATE (worker.pid, shared/), PRODLIKE_PROXY, PRODLIKE_NEW_SIDE,
 * OPERATOR_TOKEN, APPROVER_TOKEN.
 */
type RunView = CutoverState & { workflowId: string; execution: string; ui: string };

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`prodlike-rehearsal: ${k} is not set`);
  return v;
};
const API = env('PRODLIKE_API');
const UI = env('PRODLIKE_UI');
const STATE = env('PRODLIKE_STATE');
const operator = env('OPERATOR_TOKEN');
const approver = env('APPROVER_TOKEN');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stdout.write(`${s}\n`);

async function call<T>(method: string, url: string, token: string, body?: unknown): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(API + url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
      const json = (await res.json()) as T & { detail?: string };
      if (!res.ok) throw Object.assign(new Error(`${method} ${url} → ${res.status}: ${json.detail ?? JSON.stringify(json)}`), { status: res.status });
      return json;
    } catch (err) {
      // A 5xx or a dropped connection (the API reaches Temporal, which may be busy with a restarted worker) is retried.
      const status = (err as { status?: number }).status;
      if ((status !== undefined && status < 500) || attempt >= 5) throw err;
      await sleep(1000 * (attempt + 1));
    }
  }
}

/** A write through the UI server's API, as the UI's buttons send it; the Authorization header skips its CSRF check. */
async function uiWrite(workflowId: string, action: 'terminate' | 'cancel'): Promise<number> {
  const res = await fetch(`${UI}/api/v1/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer prodlike-ui-probe' },
    body: JSON.stringify({ reason: `prodlike: ${action} through the Web UI` }),
  });
  await res.body?.cancel();
  return res.status;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const started = await call<RunView>('POST', '/cutovers', operator, {
    mode: 'rehearsal',
    // Small chunks and a short heartbeat: the migration lasts long enough to kill the worker in it, and the killed
    // chunk is retried 10 s later instead of 60.
    migration: { rowsPerChunk: 1000, concurrency: 2, heartbeatSeconds: 10 },
  });
  const id = started.workflowId;
  say(`· 割接彩排 rehearsal started by prodlike.operator: ${id}`);

  let killed: { phase: string; pid: number; at: number } | undefined;
  let ui: { terminate: number; cancel: number; read: number; settingsReadOnly: boolean; runUntouched: boolean } | undefined;
  let lastPhase = '';
  let state = await call<RunView>('GET', `/cutovers/${id}`, approver);
  const deadline = Date.now() + 20 * 60_000;
  while (state.execution === 'RUNNING') {
    if (Date.now() > deadline) throw new Error(`the rehearsal did not finish within 20 minutes (phase ${state.phase})`);
    if (state.phase !== lastPhase) say(`  … ${state.steps.find((s) => s.key === state.phase)?.title ?? state.phase}`);
    lastPhase = state.phase;

    // 1. The worker crashes while it copies data (or, should the migration have been quicker than the poll, at the
    //    next step that runs on the worker).
    if (!killed && ['migrate', 'verify', 'snapshot', 'business-tests'].includes(state.phase) && state.status !== 'waiting_approval') {
      const pid = Number(fs.readFileSync(path.join(STATE, 'worker.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      killed = { phase: state.phase, pid, at: Date.now() };
      say(`· worker (pid ${pid}) killed with SIGKILL during ${state.phase}; the supervisor must restart it`);
    }

    const open = state.gates.find((g) => g.status === 'open');
    if (open && !ui) {
      // 2. While the run waits for a person, the UI is asked to end it.
      const settings = (await (await fetch(`${UI}/api/v1/settings`)).json()) as Record<string, unknown>;
      const read = (await fetch(`${UI}/api/v1/namespaces/default/workflows/${encodeURIComponent(id)}`)).status;
      const terminate = await uiWrite(id, 'terminate');
      const cancel = await uiWrite(id, 'cancel');
      const after = await call<RunView>('GET', `/cutovers/${id}`, approver);
      ui = { terminate, cancel, read, settingsReadOnly: settings.DisableWriteActions === true, runUntouched: after.execution === 'RUNNING' };
      say(`· Web UI: read ${read}; terminate → ${terminate}, cancel → ${cancel}; settings DisableWriteActions=${String(settings.DisableWriteActions)}; run still ${after.execution}`);
    }
    if (open) {
      say(`· ${open.title}: gate open; prodlike.approver (not the operator who started the run) approves`);
      await call('POST', `/cutovers/${id}/gates/${open.name}/decision`, approver, { decision: 'approve', reason: '彩排 prodlike rehearsal' });
    } else if (state.status === 'waiting_operator') {
      throw new Error(`step ${state.pendingFailure?.step} failed: ${state.pendingFailure?.error}`);
    }
    await sleep(killed ? 500 : 100);
    state = await call<RunView>('GET', `/cutovers/${id}`, approver);
  }

  say(`\n结果 Result: ${state.status} (${state.execution}) in ${Math.round((Date.now() - t0) / 1000)} s`);
  for (const s of state.steps) say(`  ${s.status.padEnd(8)} ${s.title}${s.detail ? ' — ' + s.detail : ''}`);
  const read = state.tables.reduce((n, t) => n + t.rowsRead, 0);
  const loaded = state.tables.reduce((n, t) => n + t.rowsLoaded, 0);
  const held = state.tables.reduce((n, t) => n + t.rowsQuarantined, 0);
  say(`  rows: read ${read}, loaded ${loaded}, quarantined ${held} (${read === loaded + held ? 'reconciled' : 'NOT reconciled'})`);

  // Reports the worker wrote are served by the API from the shared REPORTS_DIR; backups are on the shared path.
  const problems: string[] = [];
  for (const name of ['evidence.md', 'verification-report.md']) {
    const res = await fetch(`${API}/cutovers/${id}/reports/${name}`, { headers: { authorization: `Bearer ${approver}` } });
    await res.body?.cancel();
    say(`  report ${name} through the API → ${res.status}`);
    if (res.status !== 200) problems.push(`report ${name} answered ${res.status}`);
  }
  const backups = fs.readdirSync(path.join(STATE, 'shared', 'backups'), { recursive: true }).length;
  say(`  backups on the shared path: ${backups} entries`);
  if (!backups) problems.push('no backup files on the shared path');
  // The connected systems now go to the new side through nginx.
  const proxied = await fetch(`${env('PRODLIKE_PROXY')}/interface/gsxt/health`);
  await proxied.body?.cancel();
  say(`  through nginx: gsxt → ${proxied.headers.get('x-jm-side')} (${proxied.headers.get('x-jm-upstream')})`);
  if (proxied.headers.get('x-jm-side') !== 'new' || !proxied.headers.get('x-jm-upstream')?.endsWith(`:${env('PRODLIKE_NEW_SIDE')}`)) problems.push('nginx does not route gsxt to the new side');
  if (!killed) problems.push('the worker was never killed (no step ran on the worker while polled)');
  if (!ui) problems.push('no gate opened, so the UI was not probed');
  if (read !== loaded + held) problems.push('counts do not reconcile');
  for (const p of problems) say(`  PROBLEM: ${p}`);

  const uiWritable = !ui || ui.terminate !== 405 || ui.cancel !== 405 || !ui.settingsReadOnly || !ui.runUntouched || ui.read !== 200;
  const rehearsal = state.status === 'completed' && state.execution === 'COMPLETED' && !problems.length ? 'completed' : `${state.status}${problems.length ? '-with-problems' : ''}`;
  say(`result: rehearsal=${rehearsal} ui_writable=${uiWritable}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  say('result: rehearsal=error ui_writable=unknown');
  process.exit(1);
});
