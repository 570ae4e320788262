// The ordering gate, faults and blocked records against the real system.
import { Client, Connection } from '@temporalio/client';
import { runStage } from '../../src/activities/stage-write';
import { recordStartOptions } from '../../src/control/start-options';
import { checkpointRecords } from '../../src/db/checkpoint';
import { verifyInvariants, violations } from '../../src/db/verify';
import { RECORD_WORKFLOW_TYPE, recordWorkflowId, STAGES } from '../../src/contracts/names';
import { defaultWork } from '../../src/stages/work';
import { countActions } from '../../scripts/bench/actions';
import { stateQuery } from '../../src/contracts/record.messages';
import { gateNotifier } from '../../src/temporal/notifier';
import { deliveredCount, expectAllDelivered, randomBatch, uniqueSource } from '../helpers/records';
import { api, sharedSystem, submit, waitFor, type SharedSystem } from '../helpers/system';

jest.setTimeout(300_000);

let sys: SharedSystem;
let db: SharedSystem['db'];
let connection: Connection;
let client: Client;

beforeAll(async () => {
  // ACTIVITY_TIMEOUT_MS 3000, GATE_NUDGE_SECONDS 3, RELAY_INTERVAL_MS 500 (SHARED_ENV).
  sys = await sharedSystem();
  db = sys.db;
  connection = await Connection.connect({ address: sys.temporalAddress });
  client = new Client({ connection, namespace: 'pipeline-east' });
});
afterAll(async () => {
  await connection?.close();
  await sys?.release();
});

const count = async (table: string, sources: string[]) =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE source_id = ANY($1)`, [sources])).rows[0].n;

/** The activity a record's workflow has pending (scheduled or retrying), and its attempt. */
async function pendingActivity(source: string, seq: number): Promise<{ stage: string; attempt: number } | undefined> {
  const desc = await client.workflow.getHandle(recordWorkflowId(source, seq)).describe();
  const p = desc.raw.pendingActivities?.[0];
  return p ? { stage: p.activityType?.name ?? '', attempt: p.attempt ?? 0 } : undefined;
}

/**
 * Three sources, 3 batches of 10: batch 2 goes in while preprocess is down in east. Held there
 * means: the first record of batch 2 of every source has its preprocess activity pending, at
 * least `attempts` attempts in (a failing dependency is tried again and again; a stopped worker's
 * task waits, never started), and no record of batch 2 passed preprocess.
 */
async function failQueueScenario(fail: () => Promise<void>, recover: () => Promise<void>, attempts: number) {
  const sources = ['fq1', 'fq2', 'fq3'].map(uniqueSource);
  for (const s of sources) expect((await submit(sys.url, s, randomBatch('b1', 10))).status).toBe(202);
  await waitFor('batch 1 delivered', async () => (await deliveredCount(db.pool, sources)) === 30);

  await fail();
  for (const s of sources) expect((await submit(sys.url, s, randomBatch('b2', 10))).status).toBe(202);
  await waitFor('batch 2 at inbound', async () => (await count('stage_inbound', sources)) === 60);
  for (const s of sources) {
    await waitFor(`${s}#11 held at preprocess`, async () => {
      const p = await pendingActivity(s, 11);
      return p?.stage === 'preprocess' && p.attempt >= attempts;
    });
  }
  expect(await count('stage_preprocess', sources)).toBe(30);
  expect(await count('deliveries', sources)).toBe(30);

  await recover();
  for (const s of sources) expect((await submit(sys.url, s, randomBatch('b3', 10))).status).toBe(202);
  await waitFor('all 90 delivered', async () => (await deliveredCount(db.pool, sources)) === 90, 180_000);
  await expectAllDelivered(db.pool, sources, 30);
}

describe('the fail-queue scenario', () => {
  it('holds batch 2 at inbound while the preprocess dependency is down, then delivers everything in order', async () => {
    const fault = (action: string) => api(`${sys.url}/v1/admin/faults`, 'POST', { region: 'east', stage: 'preprocess', action });
    await failQueueScenario(
      async () => expect((await fault('fail')).status).toBe(200),
      async () => expect((await fault('recover')).status).toBe(200),
      3,
    );
  });

  it('holds batch 2 at inbound while the preprocess worker is stopped, then delivers everything in order', async () => {
    const worker = (stage: string, action: string) => api<{ state: string }>(`${sys.url}/v1/admin/workers/east/${stage}/${action}`, 'POST');
    await failQueueScenario(
      async () => expect((await worker('preprocess', 'stop')).body.state).toBe('stopped'),
      async () => {
        expect((await worker('inbound', 'stop')).body.state).toBe('stopped');
        expect((await worker('inbound', 'start')).body.state).toBe('running');
        expect((await worker('preprocess', 'start')).body.state).toBe('running');
      },
      1,
    );
  });
});

describe('blocked records', () => {
  it('holds later records behind a blocked one until it is skipped; other sources go on', async () => {
    const [src, other] = ['blk', 'free'].map(uniqueSource);
    const records = randomBatch('r', 5);
    records[2].payload.amount = 'not a number';
    expect((await submit(sys.url, src, records)).status).toBe(202);
    expect((await submit(sys.url, other, randomBatch('o', 5))).status).toBe(202);
    await waitFor('blocked', async () => (await api<{ blocked: unknown }>(`${sys.url}/v1/sources/${src}`, 'GET')).body.blocked);
    await waitFor('other source delivered', async () => (await deliveredCount(db.pool, [other])) === 5);

    const source = (
      await api<{ blocked: { seq: number; stage: string; reason: string }; watermarks: Record<string, number> }>(
        `${sys.url}/v1/sources/${src}`,
        'GET',
      )
    ).body;
    expect(source.blocked).toMatchObject({ seq: 3, stage: 'core', reason: expect.stringMatching(/amount/) });
    expect((await api<{ status: string }>(`${sys.url}/v1/sources/${src}/records/3`, 'GET')).body.status).toBe('blocked');
    await waitFor('4 and 5 waiting at core', async () => (await count('stage_preprocess', [src])) === 5);
    expect(source.watermarks.core).toBe(2);
    const state = await waitFor('record 4 waiting', async () => {
      const s = await client.workflow.getHandle(recordWorkflowId(src, 4)).query(stateQuery);
      return s.phase === 'waiting' && s;
    });
    // It names the first record it does not know to be done: 3, or 2 when its last attempt read
    // Postgres before 2 finished core (the gate signals only the next record, so 4 hears of 3 alone).
    expect(state).toMatchObject({ stage: 'core', waitingFor: { stage: 'core' } });
    expect([2, 3]).toContain(state.waitingFor?.seq);
    const blockedDesc = await client.workflow.getHandle(recordWorkflowId(src, 3)).describe();
    expect(blockedDesc.typedSearchAttributes.getAll().find((p) => p.key.name === 'Stage')?.value).toBe('core');

    const skip = await api(`${sys.url}/v1/sources/${src}/records/3/skip`, 'POST', { reason: 'bad amount' });
    expect(skip).toMatchObject({ status: 200, body: { status: 'skipped', stage: 'core' } });
    await waitFor('4 and 5 delivered', async () => (await deliveredCount(db.pool, [src])) === 4);
    expect((await db.pool.query('SELECT stage, reason FROM dead_letters WHERE source_id = $1', [src])).rows).toEqual([
      { stage: 'core', reason: expect.stringContaining('bad amount') },
    ]);
    expect((await api<{ status: string }>(`${sys.url}/v1/sources/${src}/records/3`, 'GET')).body.status).toBe('skipped');
    // With #3 skipped at core, the checker's rules leave one layout: 1 to 5 in inbound and preprocess,
    // 1, 2, 4, 5 from core on and in deliveries, each in that order by id.
    const report = await verifyInvariants(db.pool, { sources: [src], expectDrained: true });
    expect(violations(report)).toEqual([]);
    expect(report.records).toEqual({ delivered: 4, skipped: 1 });
    expect(report.rows).toEqual({
      stage_inbound: 5,
      stage_preprocess: 5,
      stage_core: 4,
      stage_postprocess: 4,
      stage_outbound: 4,
      deliveries: 4,
    });
  });

  it('runs a blocked record again on retry after the cause is fixed', async () => {
    const src = uniqueSource('retry');
    const records = randomBatch('r', 3);
    records[1].payload.amount = 'oops';
    expect((await submit(sys.url, src, records)).status).toBe(202);
    await waitFor('blocked', async () => (await api<{ blocked: unknown }>(`${sys.url}/v1/sources/${src}`, 'GET')).body.blocked);
    // A retry without a fix blocks again, with the same reason.
    expect((await api(`${sys.url}/v1/sources/${src}/records/2/retry`, 'POST')).status).toBe(200);
    await waitFor(
      'blocked again',
      async () => (await api<{ status: string }>(`${sys.url}/v1/sources/${src}/records/2`, 'GET')).body.status === 'blocked',
    );
    // The operator corrects the stage's input, then retries.
    await db.pool.query(`UPDATE stage_preprocess SET output = jsonb_set(output, '{record,amount}', '7') WHERE source_id = $1 AND seq = 2`, [
      src,
    ]);
    expect((await api(`${sys.url}/v1/sources/${src}/records/2/retry`, 'POST')).status).toBe(200);
    await waitFor('all delivered', async () => (await deliveredCount(db.pool, [src])) === 3);
    await expectAllDelivered(db.pool, [src], 3);
    const d = await db.pool.query(`SELECT output->>'body' AS body FROM deliveries WHERE source_id = $1 AND seq = 2`, [src]);
    expect(JSON.parse(d.rows[0].body).result.total).toBeGreaterThanOrEqual(7);
  });
});

describe('the start window', () => {
  it('starts a source only START_WINDOW (4) records past its inbound watermark, then the rest as inbound moves', async () => {
    const src = uniqueSource('window');
    const fault = (action: string) => api(`${sys.url}/v1/admin/faults`, 'POST', { region: 'east', stage: 'inbound', action });
    expect((await fault('fail')).status).toBe(200);
    try {
      expect((await submit(sys.url, src, randomBatch('w', 12))).status).toBe(202);
      // The relay (every 500 ms here) has its chances to start too many while inbound keeps
      // failing: record 1's inbound tried 5 times (backoff 0.2, 0.4, 0.8, 1.6 s).
      await waitFor('inbound failing for a while', async () => ((await pendingActivity(src, 1))?.attempt ?? 0) >= 5, 60_000, 200);
      const started = await db.pool.query<{ seq: number }>(
        `SELECT seq FROM records WHERE source_id = $1 AND epoch IS NOT NULL ORDER BY seq`,
        [src],
      );
      expect(started.rows.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
      await expect(client.workflow.getHandle(recordWorkflowId(src, 5)).describe()).rejects.toThrow(/not found/i);
      expect((await client.workflow.getHandle(recordWorkflowId(src, 4)).describe()).status.name).toBe('RUNNING');
    } finally {
      expect((await fault('recover')).status).toBe(200);
    }
    await waitFor('12 delivered', async () => (await deliveredCount(db.pool, [src])) === 12, 60_000);
    await expectAllDelivered(db.pool, [src], 12);
  });
});

describe('the gate', () => {
  async function checkpointOnly(source: string, n: number) {
    const items = randomBatch('g', n).map((r) => ({ ...r, hash: r.id }));
    const res = await checkpointRecords(db.pool, source, items);
    if (!res.ok) throw new Error('conflict');
  }
  const start = async (source: string, seq: number, historyLimit?: number) =>
    client.workflow.start(
      RECORD_WORKFLOW_TYPE,
      recordStartOptions(
        { source_id: source, seq, epoch: null },
        { name: 'east', epoch: 1 },
        {},
        { activityTimeoutMs: 3000, ...(historyLimit ? { historyLimit } : {}) },
      ),
    );

  it('makes records started out of order wait, and the relay starts one never started', async () => {
    const src = uniqueSource('ooo');
    await checkpointOnly(src, 3);
    await start(src, 3);
    await start(src, 2);
    // seq 1 is never started by hand: the relay finds it.
    const state = await waitFor('3 waiting', async () => {
      const s = await client.workflow.getHandle(recordWorkflowId(src, 3)).query(stateQuery);
      return s.phase === 'waiting' && s;
    });
    expect(state.stage).toBe('inbound');
    await waitFor('all delivered', async () => (await deliveredCount(db.pool, [src])) === 3, 60_000);
    await expectAllDelivered(db.pool, [src], 3);
  });

  it('delivers in order records that continued as new while they waited', async () => {
    const src = uniqueSource('can');
    await checkpointOnly(src, 16);
    // Started last to first with a tiny history limit: every record waits at several stages, and
    // a wait past the limit continues as new (carrying what it knows of the watermarks). The last
    // ones are more than GATE_WAIT_AHEAD (12) behind: they wait for signals from the start.
    for (let seq = 16; seq >= 1; seq--) await start(src, seq, 12);
    await db.pool.query(`UPDATE records SET status = 'processing', region = 'east', epoch = 1, started_at = now() WHERE source_id = $1`, [
      src,
    ]);
    await waitFor('16 delivered', async () => (await deliveredCount(db.pool, [src])) === 16, 120_000);
    await expectAllDelivered(db.pool, [src], 16);
    const continued = await client.workflow.count(`SourceId = "${src}" AND ExecutionStatus = "ContinuedAsNew"`);
    expect(continued.count).toBeGreaterThan(0);
  });

  it('reads Postgres when it starts after its predecessor finished: the signal sent before it existed is not needed', async () => {
    const src = uniqueSource('early');
    await checkpointOnly(src, 2);
    // Both claimed as started (the start window and the relay leave them alone): seq 1 finishes
    // every stage outside Temporal, and its gate signal to seq 2 comes too early: no workflow yet.
    await db.pool.query(`UPDATE records SET status = 'processing', region = 'east', epoch = 1, started_at = now() WHERE source_id = $1`, [
      src,
    ]);
    for (const stage of STAGES)
      await runStage({ pool: db.pool, region: 'east', work: defaultWork }, stage, { sourceId: src, seq: 1, epoch: 1 });
    expect(await gateNotifier(client)(src, 2, { watermarks: { outbound: 1 } })).toBe('absent');
    const handle = await start(src, 2);
    expect(await handle.result()).toEqual({ outcome: 'delivered' });
    // It read the watermarks in its first attempt at each stage: it never waited, and no signal
    // (the sweeper's nudge among them) reached it.
    const history = await handle.fetchHistory();
    expect((history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
    expect((history.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes)).toHaveLength(STAGES.length);
    await expectAllDelivered(db.pool, [src], 2);
  });

  it('recovers from a lost signal through the sweeper nudge', async () => {
    const src = uniqueSource('lost');
    await checkpointOnly(src, 2);
    // seq 1 is processed outside Temporal: nobody signals seq 2.
    await db.pool.query(
      `UPDATE records SET status = 'processing', region = 'east', epoch = 1, started_at = now() WHERE source_id = $1 AND seq = 1`,
      [src],
    );
    await start(src, 2);
    await db.pool.query(
      `UPDATE records SET status = 'processing', region = 'east', epoch = 1, started_at = now() WHERE source_id = $1 AND seq = 2`,
      [src],
    );
    await waitFor(
      '2 waiting',
      async () => (await client.workflow.getHandle(recordWorkflowId(src, 2)).query(stateQuery)).phase === 'waiting',
    );
    for (const stage of STAGES)
      await runStage({ pool: db.pool, region: 'east', work: defaultWork }, stage, { sourceId: src, seq: 1, epoch: 1 });
    await waitFor('2 delivered after a nudge', async () => (await deliveredCount(db.pool, [src])) === 2, 30_000);
    const history = await client.workflow.getHandle(recordWorkflowId(src, 2)).fetchHistory();
    const signals = (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'gate');
    expect(signals.length).toBeGreaterThanOrEqual(1);
    await expectAllDelivered(db.pool, [src], 2);
  });

  it('keeps one long source in order with small histories and few actions per record', async () => {
    const src = uniqueSource('long');
    for (let b = 0; b < 3; b++) expect((await submit(sys.url, src, randomBatch(`l${b}`, 100))).status).toBe(202);
    await waitFor('300 delivered', async () => (await deliveredCount(db.pool, [src])) === 300, 240_000);
    await expectAllDelivered(db.pool, [src], 300);
    const lengths: number[] = [];
    const actions: number[] = [];
    for (const seq of [1, 50, 150, 299, 300]) {
      const handle = client.workflow.getHandle(recordWorkflowId(src, seq));
      const history = await handle.fetchHistory();
      lengths.push(history.events?.length ?? 0);
      actions.push(countActions(history).total);
    }
    // five activities, at most one signal per stage and one Postgres read: the history is bounded
    expect(Math.max(...lengths)).toBeLessThan(90);
    expect(Math.max(...actions)).toBeLessThanOrEqual(13);
  });
});
