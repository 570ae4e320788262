// The control plane against real Postgres, without Temporal (a fake client and a recording start
// executor stand in where a workflow would be started or asked): the lease (taken over when it
// expires, given up on stop, lost with Postgres, a stale holder refused everywhere), the claims that
// make each record start once, what the starter does with a refused or failed start, the sweeper's
// and the router's lease checks, the cooldown, and the reconciler's repair decisions.
import pino from 'pino';
import { WorkflowNotFoundError } from '@temporalio/client';
import { msNumberToTs } from '@temporalio/common/lib/time';
import { checkpointRecords } from '../../src/db/checkpoint';
import { claimStarts, claimStuckRecords, pendingStarts, releaseClaims } from '../../src/db/relay-queries';
import { claimRestarts, stalledRecords } from '../../src/db/reconcile-queries';
import { readControlState, requestReconcile, writeControlState } from '../../src/db/control-lease';
import { failover, FailoverRefused } from '../../src/db/failover';
import { createPool, type Pool } from '../../src/db/pool';
import { ControlLease, NO_LEASE, type LeaseView } from '../../src/control/lease';
import { CLOSED_RUN, LEASE_LOST, type StartExecutor, type StartJob, type StartOutcome } from '../../src/control/start-executor';
import { WorkflowStarter } from '../../src/control/starter';
import { Reconciler, RECONCILER_STATE } from '../../src/control/reconciler';
import { RegionRouter } from '../../src/control/region-router';
import type { TemporalClients } from '../../src/temporal/clients';
import type { ReconcileView } from '../../src/contracts/reconcile';
import { createTestDb, type TestDb } from '../helpers/db';
import { waitFor } from '../helpers/system';

const logger = pino({ level: 'silent' });
let db: TestDb;
const pools: Pool[] = [];

beforeAll(async () => {
  db = await createTestDb('control');
});
afterAll(async () => {
  for (const p of pools) await p.end().catch(() => undefined);
  await db.drop();
});

/** Another process's pool on the same database. */
function otherPool(): Pool {
  const pool = createPool({ connectionString: db.url, applicationName: 'control-test', max: 4 });
  pools.push(pool);
  return pool;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lease(pool: Pool, holder: string, ttlMs = 800): ControlLease {
  return new ControlLease({ pool, holder, ttlMs, renewMs: 100, logger });
}

/** Holds the lease for the test's writes: takes it (waiting out another holder's expiry). */
async function take(l: ControlLease): Promise<number> {
  await waitFor('the lease', async () => (await l.tick(), l.held()), 10_000, 50);
  return l.token()!;
}

async function accept(source: string, n: number): Promise<number[]> {
  const items = Array.from({ length: n }, (_, i) => ({ id: `${source}-${i + 1}`, payload: { amount: i + 1 }, hash: `h${i + 1}` }));
  const res = await checkpointRecords(db.pool, source, items);
  if (!res.ok) throw new Error('conflict');
  // Older than the submit path's own chance (3 s): the relay may take them.
  await db.pool.query(`UPDATE records SET accepted_at = now() - interval '1 minute' WHERE source_id = $1`, [source]);
  return res.newSeqs;
}

const records = async (source: string) =>
  (
    await db.pool.query<{ seq: number; status: string; epoch: number | null }>(
      'SELECT seq::int, status, epoch::int FROM records WHERE source_id = $1 ORDER BY seq',
      [source],
    )
  ).rows;

/** Records every job; answers each with `answer` (null: started). */
class RecordingExecutor implements StartExecutor {
  readonly jobs: StartJob[] = [];
  constructor(private readonly answer: (job: StartJob, nth: number) => StartOutcome = () => null) {}
  async start(_region: string, jobs: StartJob[]): Promise<StartOutcome[]> {
    return jobs.map((job) => {
      this.jobs.push(job);
      return this.answer(job, this.jobs.filter((j) => j.options.workflowId === job.options.workflowId).length);
    });
  }
  async close(): Promise<void> {}
  started(): string[] {
    return this.jobs.map((j) => j.options.workflowId);
  }
}

function starter(pool: Pool, executor: StartExecutor, leaseView: LeaseView = NO_LEASE): WorkflowStarter {
  return new WorkflowStarter({
    pool,
    temporal: {} as TemporalClients,
    logger,
    concurrency: 4,
    relayIntervalMs: 60_000,
    nudgeAfterSeconds: 30,
    workflowDefaults: {},
    executor,
    lease: leaseView,
  });
}

describe('the control lease', () => {
  it('is held by one process; another takes it over with a greater token once it expires', async () => {
    const a = lease(otherPool(), 'a');
    const b = lease(otherPool(), 'b');
    const t1 = await take(a);
    await b.tick();
    expect(b.held()).toBe(false);
    // a stops renewing (paused): within the TTL nobody else may take it.
    await sleep(300);
    await b.tick();
    expect(b.held()).toBe(false);
    const t2 = await take(b);
    expect(t2).toBeGreaterThan(t1);
    // a knows on its own that its holding ended, before it hears from Postgres again.
    expect(a.held()).toBe(false);
    const lost = new Promise((r) => a.once('lost', r));
    await a.tick();
    await lost;
    expect(a.token()).toBeNull();
    await b.stop();
  });

  it('is given up on stop: another process takes it at once, not after the expiry', async () => {
    const a = lease(otherPool(), 'a2', 60_000);
    const b = lease(otherPool(), 'b2', 60_000);
    await take(a);
    await a.stop();
    await b.tick();
    expect(b.held()).toBe(true);
    await b.stop();
  });

  it('runs out on its own when Postgres cannot be reached', async () => {
    const pool = otherPool();
    const a = lease(pool, 'a3', 500);
    await take(a);
    await pool.end();
    const lost = new Promise((r) => a.once('lost', r));
    await sleep(600);
    expect(a.held()).toBe(false);
    await a.tick();
    await lost;
  });

  it("refuses a stale holder's claim, nudge, failover and report", async () => {
    const a = lease(otherPool(), 'a4', 300);
    const b = lease(otherPool(), 'b4', 60_000);
    const stale = await take(a);
    const current = await take(b);
    expect(current).toBeGreaterThan(stale);
    const [seq] = await accept('stale', 1);
    expect(await claimStarts(db.pool, [{ source_id: 'stale', seq }], { name: 'east', epoch: 1 }, stale)).toEqual([]);
    await db.pool.query(
      `UPDATE watermarks SET updated_at = now() - interval '1 hour' WHERE source_id = 'stale';
       UPDATE records SET status = 'processing', epoch = 1, started_at = now() - interval '1 hour' WHERE source_id = 'stale'`,
    );
    expect(await claimStuckRecords(db.pool, 1, 30, 300, stale)).toEqual([]);
    await expect(failover(db.pool, 'west', { leaseToken: stale })).rejects.toMatchObject({ code: 'not_control_holder' });
    expect(await writeControlState(db.pool, 'test', { by: 'stale' }, stale)).toBe(false);
    // The holder's own are taken.
    expect(await claimStuckRecords(db.pool, 1, 30, 300, current)).toEqual([{ source_id: 'stale', seq }]);
    expect(await writeControlState(db.pool, 'test', { by: 'current' }, current)).toBe(true);
    expect(await readControlState(db.pool, 'test')).toEqual({ by: 'current' });
    await b.stop();
  });
});

describe('claims: each record started once', () => {
  it('two processes claiming the same records at once get each record exactly once', async () => {
    const seqs = await accept('race', 200);
    const want = seqs.map((seq) => ({ source_id: 'race', seq }));
    const [x, y] = await Promise.all([
      claimStarts(otherPool(), want, { name: 'east', epoch: 1 }, null),
      claimStarts(otherPool(), [...want].reverse(), { name: 'east', epoch: 1 }, null),
    ]);
    const all = [...x, ...y].map((c) => c.seq).sort((p, q) => p - q);
    expect(all).toEqual(seqs);
    expect(x.every((c) => c.epoch === null && c.prevStatus === 'accepted')).toBe(true);
    // Claimed once: the same claim again gets nothing.
    expect(await claimStarts(db.pool, want, { name: 'east', epoch: 1 }, null)).toEqual([]);
  });

  it('claims nothing at an epoch its region is not active at, and gives back only its own claim', async () => {
    const [s1, s2] = await accept('give', 2);
    expect(await claimStarts(db.pool, [{ source_id: 'give', seq: s1 }], { name: 'west', epoch: 1 }, null)).toEqual([]);
    expect(await claimStarts(db.pool, [{ source_id: 'give', seq: s1 }], { name: 'east', epoch: 7 }, null)).toEqual([]);
    const claims = await claimStarts(
      db.pool,
      [
        { source_id: 'give', seq: s1 },
        { source_id: 'give', seq: s2 },
      ],
      { name: 'east', epoch: 1 },
      null,
    );
    expect(claims).toHaveLength(2);
    // seq 2 was claimed again since (the reconciler): its release must not undo that.
    const again = await claimRestarts(
      db.pool,
      [{ source_id: 'give', seq: s2, started_at: claims[1].claimedAt }],
      { name: 'east', epoch: 1 },
      0,
    );
    expect(again).toEqual([]); // no lease 0
    await db.pool.query(`UPDATE records SET started_at = clock_timestamp() WHERE source_id = 'give' AND seq = $1`, [s2]);
    await releaseClaims(db.pool, claims, 1);
    expect(await records('give')).toEqual([
      { seq: s1, status: 'accepted', epoch: null },
      { seq: s2, status: 'processing', epoch: 1 },
    ]);
  });

  it("a submit's start and a relay pass in two processes start each record once", async () => {
    const l = lease(otherPool(), 'relay', 60_000);
    await take(l);
    const seqs = await accept('both', 50);
    const submitExec = new RecordingExecutor();
    const relayExec = new RecordingExecutor();
    const submitter = starter(otherPool(), submitExec);
    const relay = starter(otherPool(), relayExec, l);
    await Promise.all([submitter.startRecords('both', seqs), relay.relayOnce(), relay.relayOnce()]);
    const started = [...submitExec.started(), ...relayExec.started()].filter((id) => id.startsWith('record:both:')).sort();
    expect(started).toEqual(seqs.map((s) => `record:both:${s}`).sort());
    expect(relayExec.jobs.every((j) => j.leased) && submitExec.jobs.every((j) => !j.leased)).toBe(true);
    await l.stop();
  });

  it('gives the claim back when the start fails or the lease ran out first, and starts nothing without the lease', async () => {
    const l = lease(otherPool(), 'fail', 60_000);
    await take(l);
    const seqs = await accept('fails', 2);
    const exec = new RecordingExecutor((job) => (job.options.workflowId.endsWith(':1') ? 'connection refused' : LEASE_LOST));
    const s = starter(otherPool(), exec, l);
    expect(await s.relayOnce()).toMatchObject({ started: 0 });
    expect((await records('fails')).map((r) => [r.status, r.epoch])).toEqual(seqs.map(() => ['accepted', null]));
    await l.stop();
    const none = new RecordingExecutor();
    expect(await starter(otherPool(), none, l).relayOnce()).toEqual({ started: 0, failed: 0 });
    expect(none.jobs).toEqual([]);
  });

  it('over a closed run: starts again only a record still open, never a finished one', async () => {
    const [open, done] = await accept('closed', 2);
    // Both starts are refused: a closed run of each id exists. Meanwhile `done` was delivered (by
    // that run): its late start must not run it a second time; `open` is started over its run.
    const exec = new RecordingExecutor((_job, nth) => (nth === 1 ? CLOSED_RUN : null));
    const issue = exec.start.bind(exec);
    exec.start = async (region, jobs) => {
      await db.pool.query(`UPDATE records SET status = 'delivered', finished_at = now() WHERE source_id = 'closed' AND seq = $1`, [done]);
      return issue(region, jobs);
    };
    expect(await starter(otherPool(), exec).startRecords('closed', [open, done])).toEqual({ started: 2, failed: 0 });
    expect(exec.jobs.map((j) => [j.options.workflowId, j.options.workflowIdReusePolicy])).toEqual([
      [`record:closed:${open}`, 'REJECT_DUPLICATE'],
      [`record:closed:${done}`, 'REJECT_DUPLICATE'],
      [`record:closed:${open}`, 'ALLOW_DUPLICATE'],
    ]);
  });
});

describe("the relay's and the reconciler's reads", () => {
  it("pending starts: never-started records past the submit path's chance and inside the window, and those of an older epoch", async () => {
    const seqs = await accept('pend', 6);
    // seq 6 was just accepted: the submit path's own start comes first.
    await db.pool.query(`UPDATE records SET accepted_at = now() WHERE source_id = 'pend' AND seq = 6`);
    // seq 1 runs at epoch 1 (current: not pending); seq 2 at an older epoch 0 (pending whatever the window).
    await db.pool.query(`UPDATE records SET epoch = 1, status = 'processing' WHERE source_id = 'pend' AND seq = 1`);
    await db.pool.query(`UPDATE records SET epoch = 0, status = 'processing' WHERE source_id = 'pend' AND seq = 2`);
    const mine = async (window: number) =>
      (await pendingStarts(db.pool, 1, 1000, window)).filter((r) => r.source_id === 'pend').map((r) => [r.seq, r.epoch]);
    expect(await mine(0)).toEqual([
      [2, 0],
      [3, null],
      [4, null],
      [5, null],
    ]);
    // A window of 3 past the inbound watermark (0): seqs up to 3.
    expect(await mine(3)).toEqual([
      [2, 0],
      [3, null],
    ]);
    expect(seqs).toHaveLength(6);
  });

  it('stalled sources: the first record in line at its lowest stage, once neither it nor the watermark moved for a while', async () => {
    await accept('stall', 3);
    await db.pool.query(
      `UPDATE records SET status = 'processing', epoch = 1, started_at = now() - interval '10 minutes' WHERE source_id = 'stall';
       UPDATE watermarks SET watermark = 1, updated_at = now() - interval '10 minutes' WHERE source_id = 'stall' AND stage = 'inbound';
       UPDATE watermarks SET updated_at = now() - interval '10 minutes' WHERE source_id = 'stall'`,
    );
    const stalled = (await stalledRecords(db.pool, 60, 1000)).filter((r) => r.source_id === 'stall');
    // One line per source, at its lowest stage: seq 2 first in line at inbound (seq 1, first in line
    // at preprocess, is behind a lower stage's line).
    expect(stalled).toHaveLength(1);
    expect(stalled[0]).toMatchObject({ source_id: 'stall', seq: 2, stage: 'inbound', status: 'processing', epoch: 1 });
    expect(stalled[0].idle_seconds).toBeGreaterThanOrEqual(599);
    await db.pool.query(`UPDATE watermarks SET updated_at = now() WHERE source_id = 'stall'`);
    expect((await stalledRecords(db.pool, 60, 1000)).filter((r) => r.source_id === 'stall')).toEqual([]);
  });
});

describe('the router and the failover', () => {
  it('decides nothing without the lease (it does not even probe)', async () => {
    const temporal = {
      client: () => Promise.reject(new Error('probed without the lease')),
      region: () => ({ namespace: 'x', address: 'y' }),
    } as unknown as TemporalClients;
    const router = new RegionRouter({
      pool: db.pool,
      temporal,
      logger,
      mode: 'auto',
      intervalMs: 60_000,
      threshold: 1,
      pollerLivenessMs: 30_000,
      startupGraceMs: 0,
      recover: async () => undefined,
    });
    await expect(router.checkOnce()).resolves.toBeUndefined();
    expect(await router.supersede()).toBe(0);
  });

  /** Regions whose namespaces answer (or not) and whose task queues have a live poller each. */
  function fakeRegions(up: Record<string, boolean>): TemporalClients {
    const client = (region: string) => ({
      connection: { withDeadline: (_d: number, fn: () => Promise<unknown>) => fn() },
      workflowService: {
        async describeNamespace() {
          if (!up[region]) throw new Error(`${region} is down`);
          return {};
        },
        async describeTaskQueue() {
          return { pollers: [{ lastAccessTime: msNumberToTs(Date.now()) }] };
        },
      },
      workflow: {
        async *list() {},
      },
    });
    return {
      client: async (region: string) => client(region),
      region: (region: string) => ({ namespace: `pipeline-${region}`, address: region }),
    } as unknown as TemporalClients;
  }

  function router(l: LeaseView, up: Record<string, boolean>, cooldownMs = 60_000): RegionRouter {
    return new RegionRouter({
      pool: otherPool(),
      temporal: fakeRegions(up),
      logger,
      lease: l,
      mode: 'auto',
      intervalMs: 60_000,
      threshold: 2,
      pollerLivenessMs: 30_000,
      startupGraceMs: 0,
      cooldownMs,
      recover: async () => undefined,
    });
  }

  it('decides once: of two routers that see the active region down, only the holder fails over, and never back within the cooldown', async () => {
    const activeNow = async () =>
      (await db.pool.query<{ name: string; epoch: number }>('SELECT name, epoch::int FROM regions WHERE active')).rows[0];
    // Out of any earlier switch's cooldown (the seeded regions count as none; an earlier test may have switched).
    await db.pool.query(`UPDATE regions SET updated_at = now() - interval '1 hour'`);
    const before = await activeNow();
    const standby = before.name === 'east' ? 'west' : 'east';
    const holder = lease(otherPool(), 'router-a', 60_000);
    const other = lease(otherPool(), 'router-b', 60_000);
    await take(holder);
    await other.tick();
    try {
      const down = { [before.name]: false, [standby]: true };
      const a = router(holder, down);
      const b = router(other, down);
      for (let i = 0; i < 3; i++) await Promise.all([a.checkOnce(), b.checkOnce()]);
      const after = await activeNow();
      expect(after).toEqual({ name: standby, epoch: before.epoch + 1 });
      expect([a.failovers, b.failovers]).toEqual([1, 0]);
      // Now the new active region looks down too and the old one up again: no switch back within the cooldown.
      const flipped = router(holder, { [before.name]: true, [standby]: false });
      for (let i = 0; i < 4; i++) await flipped.checkOnce();
      expect(await activeNow()).toEqual(after);
      expect(flipped.failovers).toBe(0);
    } finally {
      await holder.stop();
      await other.stop();
    }
  });

  it('refuses an automatic failover within the cooldown of the last switch; an operator may still switch', async () => {
    const l = lease(otherPool(), 'router', 60_000);
    const token = await take(l);
    // The last switch an hour ago: out of the cooldown.
    await db.pool.query(`UPDATE regions SET updated_at = now() - interval '1 hour'`);
    const standby = (await db.pool.query<{ name: string }>('SELECT name FROM regions WHERE NOT active')).rows[0].name;
    const back = standby === 'east' ? 'west' : 'east';
    const first = await failover(db.pool, standby, { leaseToken: token, cooldownMs: 60_000 }).catch((err: unknown) => err);
    expect(first).toMatchObject({ to: standby });
    const second = await failover(db.pool, back, { leaseToken: token, cooldownMs: 60_000 }).catch((err: unknown) => err);
    expect(second).toBeInstanceOf(FailoverRefused);
    expect(second).toMatchObject({ code: 'cooldown' });
    expect(await failover(db.pool, back)).toMatchObject({ to: back });
    await l.stop();
  });
});

describe('the reconciler', () => {
  interface FakeRun {
    status: 'RUNNING' | 'COMPLETED' | 'TERMINATED';
    phase?: string;
  }
  /** A Temporal client over a map of runs: list, describe, query, signal, terminate. */
  function fakeTemporal(runs: Map<string, FakeRun>, calls: string[]): TemporalClients {
    const client = {
      connection: { withDeadline: (_d: number, fn: () => Promise<unknown>) => fn() },
      workflow: {
        async *list() {
          for (const [workflowId, r] of runs) if (r.status === 'RUNNING') yield { workflowId };
        },
        getHandle: (id: string) => ({
          async describe() {
            const r = runs.get(id);
            if (!r) throw new WorkflowNotFoundError('not found', id, undefined);
            return { status: { name: r.status } };
          },
          async query() {
            return { phase: runs.get(id)?.phase ?? 'running', stage: null };
          },
          async signal(def: { name: string }) {
            calls.push(`signal ${def.name} ${id}`);
          },
          async terminate() {
            calls.push(`terminate ${id}`);
          },
        }),
      },
    };
    return { client: async () => client, region: () => ({ namespace: 'pipeline-east', address: 'fake' }) } as unknown as TemporalClients;
  }

  it("restarts a missing run, sends a lost skip again, ends a delivered record's idle run, and records the pass for every replica", async () => {
    const l = lease(otherPool(), 'reconciler', 60_000);
    const token = await take(l);
    const [missing, skipped, delivered, busy] = await accept('rec', 4);
    // At the active epoch (the router's test switched regions).
    await db.pool.query(
      `UPDATE records SET (epoch, region) = (SELECT epoch, name FROM regions WHERE active), status = 'processing',
              started_at = now() - interval '1 minute' WHERE source_id = 'rec';
       UPDATE records SET status = 'skipped', finished_at = now() - interval '1 minute' WHERE source_id = 'rec' AND seq = ${skipped};
       UPDATE records SET status = 'delivered', finished_at = now() - interval '1 minute' WHERE source_id = 'rec' AND seq IN (${delivered}, ${busy})`,
    );
    const runs = new Map<string, FakeRun>([
      [`record:rec:${skipped}`, { status: 'RUNNING', phase: 'blocked' }],
      [`record:rec:${delivered}`, { status: 'RUNNING', phase: 'waiting' }],
      [`record:rec:${busy}`, { status: 'RUNNING', phase: 'running' }],
    ]);
    const calls: string[] = [];
    const exec = new RecordingExecutor();
    const temporal = fakeTemporal(runs, calls);
    const reconciler = new Reconciler({
      pool: otherPool(),
      temporal,
      starter: starter(otherPool(), exec, l),
      logger,
      lease: l,
      intervalMs: 60_000,
      stallSeconds: 3600,
      graceSeconds: 5,
      maxRepairs: 100,
    });
    const before = (await records('rec')).find((r) => r.seq === missing);
    const pass = await reconciler.runOnce();
    expect(pass.repaired).toMatchObject({ missing_run: 1, lost_skip: 1, leaked_run: 1 });
    expect(exec.started()).toEqual([`record:rec:${missing}`]);
    expect(calls.sort()).toEqual([`signal skip record:rec:${skipped}`, `terminate record:rec:${delivered}`].sort());
    expect((await records('rec')).find((r) => r.seq === missing)).toEqual(before);
    const stored = await readControlState<ReconcileView>(db.pool, RECONCILER_STATE);
    expect(stored).toMatchObject({ passes: 1, repairedTotal: { missing_run: 1, lost_skip: 1, leaked_run: 1 } });
    // An operator's request through another replica is served by the holder's next renewal.
    const n = await requestReconcile(db.pool);
    l.on('renewed', (requests: number) => void reconciler.request(requests));
    await waitFor(
      'the requested pass',
      async () => {
        await l.tick();
        return ((await readControlState<ReconcileView>(db.pool, RECONCILER_STATE))?.requestsServed ?? 0) >= n;
      },
      10_000,
      50,
    );
    expect(token).toBe(l.token());
    await l.stop();
    await expect(reconciler.runOnce()).rejects.toThrow(/does not hold the control role/);
  });
});
