// The start window's read against real Postgres: the never-started records a source's window lets
// in, and whether more wait beyond it (what tells the API which sources have a backlog).
import { checkpointRecords } from '../../src/db/checkpoint';
import { unstartedInWindow } from '../../src/db/queries';
import { claimStarts, PENDING_STARTS_SQL, pendingStarts } from '../../src/db/relay-queries';
import { relayBacklog } from '../../src/db/stats';
import { createTestDb, type TestDb } from '../helpers/db';

let db: TestDb;

beforeAll(async () => {
  db = await createTestDb('startwindow');
});
afterAll(async () => {
  await db.drop();
});

async function submit(sourceId: string, n: number) {
  const items = Array.from({ length: n }, (_, i) => ({ id: `r${i + 1}`, payload: { amount: i + 1 }, hash: `h${i + 1}` }));
  const res = await checkpointRecords(db.pool, sourceId, items);
  if (!res.ok) throw new Error('conflict');
}

describe('unstartedInWindow', () => {
  it('returns the never-started records inside the window, and whether others wait beyond it', async () => {
    await submit('w1', 10);
    await claimStarts(db.pool, [{ source_id: 'w1', seq: 1 }], { name: 'east', epoch: 1 }, null);
    // Inbound watermark 0: a window of 3 lets in seqs 1 to 3, of which 1 is started.
    expect(await unstartedInWindow(db.pool, 'w1', 3)).toEqual({ seqs: [2, 3], beyond: true });
    expect(await unstartedInWindow(db.pool, 'w1', 1)).toEqual({ seqs: [], beyond: true });
    expect(await unstartedInWindow(db.pool, 'w1', 10)).toEqual({ seqs: [2, 3, 4, 5, 6, 7, 8, 9, 10], beyond: false });
    // Every stage at 8 (the pipeline moves): the window counts from inbound.
    await db.pool.query(`UPDATE watermarks SET watermark = 8 WHERE source_id = 'w1'`);
    expect(await unstartedInWindow(db.pool, 'w1', 1)).toEqual({ seqs: [2, 3, 4, 5, 6, 7, 8, 9], beyond: true });
    expect(await unstartedInWindow(db.pool, 'w1', 2)).toEqual({ seqs: [2, 3, 4, 5, 6, 7, 8, 9, 10], beyond: false });
  });

  it('counts from a blocked record that holds the source back: no more than the window past it start', async () => {
    await submit('held', 40);
    // Records 1-5 passed core, 6 is blocked there; inbound and preprocess went on to 20 (the
    // records started before the block). Never started: 21 to 40.
    await db.pool.query(
      `UPDATE watermarks SET watermark = CASE WHEN stage IN ('inbound', 'preprocess') THEN 20 ELSE 5 END WHERE source_id = 'held'`,
    );
    await db.pool.query(`UPDATE records SET status = 'processing', epoch = 1 WHERE source_id = 'held' AND seq <= 20`);
    await db.pool.query(`UPDATE records SET status = 'blocked', blocked_stage = 'core' WHERE source_id = 'held' AND seq = 6`);
    // A window of 4: inbound would let in up to 24; the blocked record holds it at 5 + 4 = 9, all started.
    expect(await unstartedInWindow(db.pool, 'held', 4)).toEqual({ seqs: [], beyond: true });
    await db.pool.query(`UPDATE records SET accepted_at = now() - interval '1 minute' WHERE source_id = 'held'`);
    expect((await pendingStarts(db.pool, 1, 1000, 4)).filter((r) => r.source_id === 'held')).toEqual([]);
    // Without the block (a dependency down at core instead), inbound's window: 21 to 24.
    await db.pool.query(`UPDATE records SET status = 'processing', blocked_stage = NULL WHERE source_id = 'held' AND seq = 6`);
    expect((await unstartedInWindow(db.pool, 'held', 4)).seqs).toEqual([21, 22, 23, 24]);
    expect((await pendingStarts(db.pool, 1, 1000, 4)).filter((r) => r.source_id === 'held').map((r) => r.seq)).toEqual([21, 22, 23, 24]);
  });

  it('finds nothing for a source whose records have all started', async () => {
    await submit('w2', 2);
    await claimStarts(
      db.pool,
      [
        { source_id: 'w2', seq: 1 },
        { source_id: 'w2', seq: 2 },
      ],
      { name: 'east', epoch: 1 },
      null,
    );
    expect(await unstartedInWindow(db.pool, 'w2', 4)).toEqual({ seqs: [], beyond: false });
  });
});

describe('pendingStarts at a deep backlog', () => {
  it('still finds a record whose start was reported failed but whose run went on past inbound', async () => {
    // The claim given back (epoch NULL), the run's inbound write then made it processing: the relay
    // starts it again (the start finds the run), as for any record without a workflow in the epoch.
    await submit('ambiguous', 3);
    await db.pool.query(
      `UPDATE records SET status = 'processing', accepted_at = now() - interval '1 minute' WHERE source_id = 'ambiguous'`,
    );
    await db.pool.query(`UPDATE records SET status = 'accepted' WHERE source_id = 'ambiguous' AND seq > 1`);
    await db.pool.query(`UPDATE watermarks SET watermark = 1 WHERE source_id = 'ambiguous' AND stage = 'inbound'`);
    const pending = (await pendingStarts(db.pool, 1, 1000, 4)).filter((r) => r.source_id === 'ambiguous');
    expect(pending.map((r) => [r.seq, r.epoch])).toEqual([
      [1, null],
      [2, null],
      [3, null],
    ]);
  });

  // The relay reads this every RELAY_INTERVAL_MS: its cost must follow the sources with work and
  // their windows, not the records waiting behind the windows (a 100,000-record backlog).
  it('reads what the windows let in without visiting the records waiting behind them', async () => {
    for (let from = 0; from < 10_000; from += 1000) {
      const items = Array.from({ length: 1000 }, (_, i) => ({ id: `d${from + i + 1}`, payload: {}, hash: `h${from + i + 1}` }));
      const res = await checkpointRecords(db.pool, 'deep', items);
      if (!res.ok) throw new Error('conflict');
    }
    await submit('older-epoch', 3);
    await claimStarts(db.pool, [{ source_id: 'older-epoch', seq: 2 }], { name: 'east', epoch: 1 }, null);
    await db.pool.query(`UPDATE records SET accepted_at = now() - interval '1 minute' WHERE source_id IN ('deep', 'older-epoch')`);
    // The first 100 delivered, inbound's watermark at 100: 9,900 wait behind the window.
    await db.pool.query(`UPDATE records SET status = 'delivered', epoch = 1, region = 'east', started_at = now(), finished_at = now()
                          WHERE source_id = 'deep' AND seq <= 100`);
    await db.pool.query(`UPDATE watermarks SET watermark = 100 WHERE source_id = 'deep'`);

    const pending = (await pendingStarts(db.pool, 2, 1000, 4)).filter((r) => ['deep', 'older-epoch'].includes(r.source_id));
    // deep: 101 to 104 (inbound at 100, a window of 4); older-epoch: 1 and 3 within its window, 2 started at epoch 1.
    expect(pending.map((r) => [r.source_id, r.seq, r.epoch])).toEqual([
      ['deep', 101, null],
      ['deep', 102, null],
      ['deep', 103, null],
      ['deep', 104, null],
      ['older-epoch', 1, null],
      ['older-epoch', 2, 1],
      ['older-epoch', 3, null],
    ]);
    // Without a window, every never-started record counts, up to the limit.
    expect(await pendingStarts(db.pool, 2, 10, 0)).toHaveLength(10);

    // Visiting the 9,900 waiting records costs tens of thousands of buffer reads; the sources'
    // windows, a few hundred at most. Both with the statistics of an empty table (as right after
    // a bulk submit, or wherever autovacuum is off) and with fresh ones.
    const buffers = async () => {
      const { rows } = await db.pool.query<{ 'QUERY PLAN': [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }] }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${PENDING_STARTS_SQL}`,
        [2, 1000, 4],
      );
      const plan = rows[0]['QUERY PLAN'][0].Plan;
      return plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
    };
    expect(await buffers()).toBeLessThan(1000);
    await db.pool.query('ANALYZE records');
    expect(await buffers()).toBeLessThan(1000);

    // The scrapes' gauge of it agrees with its plain definition, here and over every test's records
    // (w1's watermarks were moved past records never started above, which no run does).
    await db.pool.query(`UPDATE watermarks SET watermark = 0 WHERE source_id = 'w1' AND stage <> 'inbound'`);
    const { rows: plain } = await db.pool.query<{ count: number; oldest: number }>(
      `SELECT count(*)::int AS count, extract(epoch FROM now() - min(r.accepted_at))::float8 AS oldest
         FROM records r, regions g WHERE g.active AND r.status IN ('accepted', 'processing') AND r.epoch IS DISTINCT FROM g.epoch`,
    );
    const gauge = await relayBacklog(db.pool);
    expect(gauge.count).toBe(plain[0].count);
    expect(gauge.count).toBeGreaterThan(9_900);
    expect(gauge.oldestSeconds).toBeCloseTo(plain[0].oldest, 0);
  });
});
