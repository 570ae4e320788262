// The gate's fast path against real Postgres: a stage activity whose predecessor has not finished
// waits in process, woken by the predecessor's commit (LISTEN/NOTIFY), and costs no signal; past its
// bound it registers, and then (only then) the predecessor's write signals it.
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStageActivities, type StageResult, type StageTask } from '../../src/activities/stage';
import { checkpointRecords } from '../../src/db/checkpoint';
import { GateListener } from '../../src/db/gate-listener';
import { gateChannel } from '../../src/db/stages';
import type { GateMessage } from '../../src/contracts/record.messages';
import { STAGES, type Stage } from '../../src/contracts/names';
import { createTestDb, type TestDb } from '../helpers/db';
import { waitFor } from '../helpers/system';

let db: TestDb;
let gate: GateListener;
let signals: Array<{ sourceId: string; seq: number; message: GateMessage }>;

beforeAll(async () => {
  db = await createTestDb('gatefast');
  gate = await GateListener.start({ connectionString: db.url, applicationName: 'gate-fast-path-test', stages: STAGES, reconnectMs: 100 });
});
afterAll(async () => {
  await gate.close();
  await db.drop();
});
beforeEach(() => {
  signals = [];
});

function activities(gateWaitMs: number, gateWaitSlots?: number) {
  return createStageActivities({
    pool: db.pool,
    region: 'east',
    gate,
    gateWaitMs,
    gateWaitAhead: 2,
    gateWaitSlots,
    notify: async (sourceId, seq, message) => {
      signals.push({ sourceId, seq, message });
      return 'sent';
    },
  });
}

/** One activity call in its own mock context (a context is shared by every run of one environment). */
function run(gateWaitMs: number, stage: Stage, task: StageTask, acts = activities(gateWaitMs)): Promise<StageResult> {
  return new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000 }).run<
    [StageTask],
    StageResult,
    (t: StageTask) => Promise<StageResult>
  >(acts[stage], task);
}

async function submit(sourceId: string, n: number) {
  const items = Array.from({ length: n }, (_, i) => ({ id: `r${i + 1}`, payload: { amount: i + 1 }, hash: `h${i + 1}` }));
  const res = await checkpointRecords(db.pool, sourceId, items);
  if (!res.ok) throw new Error('conflict');
}

const task = (sourceId: string, seq: number): StageTask => ({ sourceId, seq, epoch: 1 });
const waiters = async (sourceId: string) =>
  (await db.pool.query('SELECT stage, seq FROM gate_waiters WHERE source_id = $1 ORDER BY stage, seq', [sourceId])).rows;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the gate fast path', () => {
  it("holds a record in its activity until its predecessor's commit, then writes: no signal, no waiter", async () => {
    await submit('fast', 3);
    const started = Date.now();
    // 3 and 2 first, 1 last: each waits in process for the one before it.
    const third = run(30_000, 'inbound', task('fast', 3));
    const second = run(30_000, 'inbound', task('fast', 2));
    await sleep(300);
    expect(await waiters('fast')).toEqual([]);
    expect((await run(30_000, 'inbound', task('fast', 1))).outcome).toBe('done');
    expect((await second).outcome).toBe('done');
    expect((await third).outcome).toBe('done');
    // Woken by NOTIFY, far within the 30 s bound it would otherwise have waited.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(signals).toEqual([]);
    expect(await waiters('fast')).toEqual([]);
    const order = await db.pool.query(`SELECT seq FROM stage_inbound WHERE source_id = 'fast' ORDER BY id`);
    expect(order.rows.map((r) => Number(r.seq))).toEqual([1, 2, 3]);
  });

  it('past its bound, registers and answers waiting; the predecessor then signals it alone', async () => {
    await submit('slow', 3);
    expect((await run(30_000, 'inbound', task('slow', 1))).outcome).toBe('done');
    const waiting = await run(200, 'inbound', task('slow', 3));
    expect(waiting).toEqual({ outcome: 'waiting', watermarks: { inbound: 1, preprocess: 0, core: 0, postprocess: 0, outbound: 0 } });
    expect(await waiters('slow')).toEqual([{ stage: 'inbound', seq: 3 }]);
    expect((await run(200, 'inbound', task('slow', 2))).outcome).toBe('done');
    expect(signals).toEqual([
      { sourceId: 'slow', seq: 3, message: { watermarks: { inbound: 2, preprocess: 0, core: 0, postprocess: 0, outbound: 0 } } },
    ]);
    expect(await waiters('slow')).toEqual([]);
  });

  it('does not hold a slot for a record far behind: it registers at once', async () => {
    await submit('far', 4);
    const started = Date.now();
    // 3 unfinished records before 4: more than gateWaitAhead (2).
    expect(await run(30_000, 'inbound', task('far', 4))).toMatchObject({ outcome: 'waiting' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await waiters('far')).toEqual([{ stage: 'inbound', seq: 4 }]);
  });

  it('registers at once when gateWaitSlots attempts of its process wait already', async () => {
    await submit('slots', 3);
    const acts = activities(30_000, 1);
    // 2 waits in process and takes the one slot; 3 (close enough behind to wait) finds it taken.
    const second = run(30_000, 'inbound', task('slots', 2), acts);
    await sleep(300);
    const started = Date.now();
    expect(await run(30_000, 'inbound', task('slots', 3), acts)).toMatchObject({ outcome: 'waiting' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await waiters('slots')).toEqual([{ stage: 'inbound', seq: 3 }]);
    expect((await run(30_000, 'inbound', task('slots', 1), acts)).outcome).toBe('done');
    expect((await second).outcome).toBe('done');
    // 2's commit signals 3, the registered waiter; the slot is free again.
    expect(signals.map((s) => s.seq)).toEqual([3]);
    expect((await run(30_000, 'inbound', task('slots', 3), acts)).outcome).toBe('done');
  });

  it('wakes its waiters to read Postgres again when the LISTEN connection dies, and listens again', async () => {
    await submit('lost', 2);
    const second = run(30_000, 'inbound', task('lost', 2));
    await sleep(200);
    const killed = await db.pool.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gate-fast-path-test:gate'",
    );
    expect(killed.rowCount).toBe(1);
    await waitFor('the listener to reconnect', async () => gate.listening, 10_000, 50);
    expect((await run(30_000, 'inbound', task('lost', 1))).outcome).toBe('done');
    expect((await second).outcome).toBe('done');
    expect(signals).toEqual([]);
  });
});

describe('a lazy gate listener (idleMs)', () => {
  const app = 'gate-lazy-test';
  const connections = async () =>
    Number((await db.pool.query('SELECT count(*) FROM pg_stat_activity WHERE application_name = $1', [`${app}:gate`])).rows[0].count);
  const until = (what: string, ok: () => Promise<boolean>) => waitFor(what, ok, 10_000, 50);
  const lazyListener = (idleMs: number) =>
    GateListener.start({ connectionString: db.url, applicationName: app, stages: ['inbound'], idleMs, reconnectMs: 100 });

  it('holds no connection until a wait, wakes that wait once listening, and closes after idleMs without one', async () => {
    const lazy = await lazyListener(500);
    try {
      await sleep(300);
      expect(lazy.listening).toBe(false);
      expect(await connections()).toBe(0);
      // The first wait connects; once LISTEN is in place the waiter is woken to read again (a
      // commit before that could not have been heard).
      const first = lazy.waitFor('lazy', 'inbound', 1, 20_000);
      expect(await first.done).toBe(true);
      expect(lazy.listening).toBe(true);
      expect(await connections()).toBe(1);
      // Listening: a NOTIFY wakes the next wait.
      const second = lazy.waitFor('lazy', 'inbound', 1, 20_000);
      await db.pool.query('SELECT pg_notify($1, $2)', [gateChannel('inbound'), JSON.stringify({ t: 'inbound', s: 'lazy', w: 1 })]);
      expect(await second.done).toBe(true);
      // No waiter for idleMs: the connection goes, and the next wait brings it back.
      await until('the idle close', async () => (await connections()) === 0);
      expect(lazy.listening).toBe(false);
      const third = lazy.waitFor('lazy', 'inbound', 1, 20_000);
      expect(await third.done).toBe(true);
      expect(await connections()).toBe(1);
    } finally {
      await lazy.close();
    }
    await until('the close', async () => (await connections()) === 0);
  });

  it('with a wait pending when its connection dies, listens again after the backoff', async () => {
    const lazy = await lazyListener(60_000);
    try {
      expect(await lazy.waitFor('lazy2', 'inbound', 1, 20_000).done).toBe(true);
      const pending = lazy.waitFor('lazy2', 'inbound', 5, 20_000);
      await db.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`${app}:gate`]);
      // Woken to read Postgres again (notices may have been lost) ...
      expect(await pending.done).toBe(true);
      // ... and listening again without another wait.
      await until('the reconnect', async () => lazy.listening);
      expect(await connections()).toBe(1);
    } finally {
      await lazy.close();
    }
  });
});
