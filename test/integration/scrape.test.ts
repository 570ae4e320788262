// What /metrics and /v1/stats read, against real Postgres with a history (prefilled finished
// records) and open work driven through the real stage writes: the totals over every source, the
// per-stage load from the sources with open work only, the listing, and the latency histograms,
// which observe each write after their start exactly once and let a source go once caught up.
import pino from 'pino';
import { Registry } from 'prom-client';
import { markBlocked, runStage } from '../../src/activities/stage-write';
import { checkpointRecords } from '../../src/db/checkpoint';
import { skipRecord } from '../../src/db/operator';
import { STAGES, type Stage } from '../../src/contracts/names';
import { defaultWork } from '../../src/stages/work';
import { sourceCounts, totalCounts } from '../../src/db/metrics-queries';
import { listedSources, openWatermarks, stageLoad, watermarksOf } from '../../src/db/stats';
import { StageLatencies } from '../../src/api/stage-latency';
import { prefill } from '../../harness/prefill';
import { createTestDb, type TestDb } from '../helpers/db';

pino({ level: 'silent' });
let db: TestDb;

beforeAll(async () => {
  db = await createTestDb('scrape');
  // History: 40 sources x 25 finished records (two of them skipped).
  await prefill(db.pool, { records: 1000, sources: 40, prefix: 'hist' });
});
afterAll(() => db.drop());

const deps = () => ({ pool: db.pool, region: 'east', work: defaultWork });

async function accept(source: string, n: number, from = 1) {
  const items = Array.from({ length: n }, (_, i) => ({ id: `r${from + i}`, payload: { amount: from + i }, hash: `h${from + i}` }));
  const res = await checkpointRecords(db.pool, source, items);
  if (!res.ok) throw new Error('conflict');
  await db.pool.query(`UPDATE records SET status = 'processing', region = 'east', epoch = 1 WHERE source_id = $1 AND epoch IS NULL`, [
    source,
  ]);
}

async function stages(source: string, seq: number, upTo: Stage = 'outbound') {
  for (const stage of STAGES.slice(0, STAGES.indexOf(upTo) + 1)) await runStage(deps(), stage, { sourceId: source, seq, epoch: 1 });
}

/** The counts of every source one by one, as the scrape did before it aggregated. */
async function countsOneByOne() {
  const rows = await sourceCounts(db.pool, 1_000_000);
  const sum = (k: 'accepted' | 'delivered' | 'skipped' | 'blocked') => rows.reduce((n, r) => n + r[k], 0);
  return { sources: rows.length, accepted: sum('accepted'), delivered: sum('delivered'), skipped: sum('skipped'), blocked: sum('blocked') };
}

const latencyCounts = async (registry: Registry) => {
  const json = await registry.getMetricsAsJSON();
  const count = (name: string, stage?: string) =>
    (json.find((m) => m.name === name)?.values ?? []).find(
      // Histograms' values carry their series' name (`_count`, `_sum`, `_bucket`); the type omits it.
      (v) => (v as { metricName?: string }).metricName === `${name}_count` && (stage === undefined || v.labels.stage === stage),
    )?.value ?? 0;
  return { endToEnd: count('pipeline_accept_to_delivered_seconds'), inbound: count('pipeline_stage_latency_seconds', 'inbound') };
};

describe('the scrapes', () => {
  it('total every source and read the load of the sources with open work only', async () => {
    // busy: 1-3 delivered, 4 at core, 5 accepted; held: 1 delivered, 2 blocked at preprocess, 3 waiting behind it.
    await accept('busy', 5);
    for (const seq of [1, 2, 3]) await stages('busy', seq);
    await stages('busy', 4, 'preprocess');
    await accept('held', 3);
    await stages('held', 1);
    await stages('held', 2, 'inbound');
    expect(await markBlocked(deps(), 'preprocess', { sourceId: 'held', seq: 2, epoch: 1 }, 'bad')).toBe(true);
    await stages('held', 3, 'inbound');
    // done: 1 delivered, 2 skipped at core, 3 delivered: finished, no open work.
    await accept('done', 3);
    await stages('done', 1);
    await stages('done', 2, 'preprocess');
    await markBlocked(deps(), 'core', { sourceId: 'done', seq: 2, epoch: 1 }, 'bad');
    expect((await skipRecord(db.pool, 'done', 2, 'test')).ok).toBe(true);
    await stages('done', 3);

    const totals = await totalCounts(db.pool);
    expect(totals).toEqual(await countsOneByOne());
    expect(totals).toMatchObject({ sources: 43, accepted: 1000 + 11, skipped: 2 + 1, blocked: 1 });

    const open = await openWatermarks(db.pool);
    expect(open.map((s) => s.sourceId)).toEqual(['busy', 'held']);
    const all = await watermarksOf(
      db.pool,
      (await db.pool.query<{ source_id: string }>('SELECT source_id FROM sources')).rows.map((r) => r.source_id),
    );
    expect(all).toHaveLength(43);
    const load = await stageLoad(db.pool, open);
    expect(load.map((s) => s.inFlight)).toEqual((await stageLoad(db.pool, all)).map((s) => s.inFlight));
    // busy: 5 at inbound, 4 at core; held: 2 and 3 at preprocess.
    expect(Object.fromEntries(load.map((s) => [s.stage, s.inFlight]))).toEqual({
      inbound: 1,
      preprocess: 2,
      core: 1,
      postprocess: 0,
      outbound: 0,
    });

    const listed = await listedSources(db.pool, open, 4);
    expect(listed.map((s) => s.sourceId)).toEqual(['busy', 'held', 'done', 'hist-00001']);
    expect(listed[2]).toMatchObject({ lastSeq: 3, watermarks: { inbound: 3, outbound: 3 } });
    expect((await listedSources(db.pool, open, 1)).map((s) => s.sourceId)).toEqual(['busy']);
  });

  it('observe each write after their start once, and follow a source only until caught up', async () => {
    const registry = new Registry();
    const latencies = new StageLatencies(registry);
    await latencies.start(db.pool);
    // busy 4 went through inbound and preprocess before the start (history), the rest after.
    await stages('busy', 4);
    await latencies.observe(db.pool);
    expect(await latencyCounts(registry)).toEqual({ endToEnd: 1, inbound: 0 });
    expect(latencies.followed).toBe(0);

    await new Promise((r) => setTimeout(r, 20));
    await stages('busy', 5, 'core');
    await accept('fresh', 2);
    await stages('fresh', 1);
    await stages('fresh', 2);
    await latencies.observe(db.pool);
    // busy 5 through inbound, preprocess and core; fresh 1 and 2 through all five stages.
    expect(await latencyCounts(registry)).toEqual({ endToEnd: 3, inbound: 3 });
    expect(latencies.followed).toBe(0);

    await stages('busy', 5);
    await accept('fresh', 1, 3);
    await stages('fresh', 3);
    await latencies.observe(db.pool);
    await latencies.observe(db.pool);
    expect(await latencyCounts(registry)).toEqual({ endToEnd: 5, inbound: 4 });
    expect(latencies.followed).toBe(0);
  });

  it('observe a write once when the read comes in the same millisecond as the write', async () => {
    // The read's time was kept to the millisecond, the writes' to the microsecond: a write in the read's
    // millisecond counted as after it, so the next read, finding the source moved, observed it again.
    const registry = new Registry();
    const latencies = new StageLatencies(registry);
    await latencies.start(db.pool);
    for (let i = 1; i <= 40; i++) {
      await accept('quick', 1, i);
      await stages('quick', i);
      await latencies.observe(db.pool);
      await latencies.observe(db.pool);
      expect(await latencyCounts(registry)).toEqual({ endToEnd: i, inbound: i });
    }
  });
});
