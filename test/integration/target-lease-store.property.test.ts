import fc from 'fast-check';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase } from '../../lib/db';
import { acquireLease, LEASE_DDL, releaseLease, shareParentLease } from '../../lib/target-lease';

/**
 * 目标库租约 The lease store on a real PostgreSQL, against a model, over generated sequences of starts,
 * ends and deaths of runs on two targets (one of them reached under two database names is still one
 * identity: the key is the identity, not a URL). Liveness is the model's word here (the integration test
 * asks the real Temporal server): a run that died without releasing holds nothing.
 * Invariants: one holder per target; a start while a live run holds the target is refused naming that
 * run; a dead holder is recovered by the next start; an end releases only what the run itself holds.
 */
const PG = process.env.TEST_PG_URL_BASE ?? 'postgres://postgres@127.0.0.1:5432';
const url = `${PG}/t${Date.now().toString(36)}_lease_prop`;

const TARGETS = [
  { systemIdentifier: '7300000000000000001', database: 'jm_target' },
  { systemIdentifier: '7300000000000000002', database: 'jm_target' }, // same name, another cluster: another target
];
const WORKFLOWS = ['cutover-a', 'cutover-b', 'fallback-a', 'remediation-x'];

type Op = { op: 'start'; w: number; t: number; child: boolean } | { op: 'end'; w: number } | { op: 'die'; w: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('start' as const), w: fc.nat(WORKFLOWS.length - 1), t: fc.nat(TARGETS.length - 1), child: fc.boolean() }),
  fc.record({ op: fc.constant('end' as const), w: fc.nat(WORKFLOWS.length - 1) }),
  fc.record({ op: fc.constant('die' as const), w: fc.nat(WORKFLOWS.length - 1) }),
);

describe('target lease store (property)', () => {
  const db = new Client({ connectionString: url });
  beforeAll(async () => {
    await ensureDatabase(url);
    await db.connect();
    for (const sql of LEASE_DDL) await db.query(sql);
  });
  afterAll(async () => {
    await db.end();
    await dropDatabase(url);
  });

  it('keeps one holder per target, refuses while it lives, recovers it once dead', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        await db.query('TRUNCATE target_lease, target_lease_event');
        // Model: each workflow's current run (a new run id per start after an end or a death), alive or not, and who holds each target.
        const run = WORKFLOWS.map(() => ({ n: 0, alive: false, parent: undefined as number | undefined }));
        const holder: (number | undefined)[] = TARGETS.map(() => undefined);
        const runId = (w: number) => `${WORKFLOWS[w]}-run${run[w].n}`;
        const holderRun = TARGETS.map(() => '');
        const alive = async (h: { workflowId: string; runId: string }) => {
          const w = WORKFLOWS.indexOf(h.workflowId);
          return run[w].alive && runId(w) === h.runId ? 'RUNNING' : 'TERMINATED';
        };
        for (const o of ops) {
          if (o.op === 'start') {
            if (!run[o.w].alive) {
              run[o.w] = { n: run[o.w].n + 1, alive: true, parent: undefined };
            }
            // As a child of the holder of the target, when asked and there is a live one other than itself.
            const h = holder[o.t];
            const parent = o.child && h !== undefined && h !== o.w && run[h].alive && holderRun[o.t] === runId(h) ? h : undefined;
            const claim = { workflowId: WORKFLOWS[o.w], runId: runId(o.w), kind: 'cutover', taskQueue: 'q', parent: parent === undefined ? undefined : { workflowId: WORKFLOWS[parent], runId: runId(parent) } };
            // As the activity does: the parent's lease by its name first, then the target's.
            const got = (await shareParentLease(db, claim)) ?? (await acquireLease(db, TARGETS[o.t], claim, alive));
            const mine = h === o.w && holderRun[o.t] === runId(o.w);
            if (h === undefined) expect(got).toMatchObject({ held: true, how: 'taken' });
            else if (mine) expect(got).toMatchObject({ held: true, how: 'already held' });
            else if (parent !== undefined) expect(got).toMatchObject({ held: true, how: 'shared with parent' });
            else if ((await alive({ workflowId: WORKFLOWS[h], runId: holderRun[o.t] })) === 'RUNNING') expect(got).toMatchObject({ held: false, holder: { workflowId: WORKFLOWS[h], runId: holderRun[o.t] } });
            else expect(got).toMatchObject({ held: true, how: 'recovered', recoveredFrom: { workflowId: WORKFLOWS[h], runId: holderRun[o.t], execution: 'TERMINATED' } });
            if (got.held && (got.how === 'taken' || got.how === 'recovered')) {
              holder[o.t] = o.w;
              holderRun[o.t] = runId(o.w);
            }
          } else if (o.op === 'end') {
            if (!run[o.w].alive) continue;
            const released = await releaseLease(db, { workflowId: WORKFLOWS[o.w], runId: runId(o.w) }, 'completed');
            const expected = TARGETS.map((t, i) => (holder[i] === o.w && holderRun[i] === runId(o.w) ? `${t.systemIdentifier}/${t.database}` : undefined)).filter(Boolean);
            expect(released.sort()).toEqual(expected.sort());
            for (let i = 0; i < TARGETS.length; i++) if (holder[i] === o.w && holderRun[i] === runId(o.w)) holder[i] = undefined;
            run[o.w].alive = false;
          } else {
            run[o.w].alive = false; // terminated: nothing released
          }
          // The table says what the model says: at most one row per target, naming the model's holder.
          const rows = (await db.query<{ target_key: string; holder_workflow_id: string; holder_run_id: string }>('SELECT target_key, holder_workflow_id, holder_run_id FROM target_lease ORDER BY target_key')).rows;
          const expected = TARGETS.flatMap((t, i) => (holder[i] === undefined ? [] : [{ target_key: `${t.systemIdentifier}/${t.database}`, holder_workflow_id: WORKFLOWS[holder[i]!], holder_run_id: holderRun[i] }]));
          expect(rows).toEqual(expected.sort((a, b) => a.target_key.localeCompare(b.target_key)));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('two starts racing for a free target: exactly one takes it, the other is refused naming it', async () => {
    await db.query('TRUNCATE target_lease, target_lease_event');
    const clients = [new Client({ connectionString: url }), new Client({ connectionString: url })];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const live = async () => 'RUNNING';
      const outcomes = await Promise.all(
        clients.map((c, i) => acquireLease(c, TARGETS[0], { workflowId: `cutover-race-${i}`, runId: `r${i}`, kind: 'cutover', taskQueue: 'q' }, live)),
      );
      expect(outcomes.filter((o) => o.held)).toHaveLength(1);
      const winner = outcomes.findIndex((o) => o.held);
      expect(outcomes[1 - winner]).toMatchObject({ held: false, holder: { workflowId: `cutover-race-${winner}` } });
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
