// Readiness, /v1/stats and /metrics through app.inject, against real Postgres and a real Temporal
// dev server with real pollers (in-process workers on the east task queues; none in west).
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NativeConnection, Worker } from '@temporalio/worker';
import { markBlocked, runStage } from '../../src/activities/stage-write';
import { failover } from '../../src/db/failover';
import { defaultWork } from '../../src/stages/work';
import { ALL_TASK_QUEUES, STAGES, WORKFLOW_TASK_QUEUE } from '../../src/contracts/names';
import { buildTestApp, type TestApp } from '../helpers/app';
import { createTestDb, startsGivenBack, type TestDb } from '../helpers/db';
import { startDevServer } from '../helpers/temporal';
import { waitFor } from '../helpers/system';

jest.setTimeout(120_000);

let db: TestDb;
let app: FastifyInstance;
let testApp: TestApp;
let server: Awaited<ReturnType<typeof startDevServer>>;
let connection: NativeConnection;
// Readiness counts pollers, not work: one empty activity serves each stage's task queue.
const emptyActivities = { async noop() {} };
const workers: Worker[] = [];
const running: Promise<void>[] = [];

beforeAll(async () => {
  db = await createTestDb('observability');
  server = await startDevServer(['pipeline-east', 'pipeline-west']);
  // Not a test of auth (auth.test.ts is): every caller is admin here. The starter gets a Temporal
  // that does not answer: records stay accepted, and the test drives the stages itself; the router
  // (health, readiness, stats) sees the real server.
  testApp = await buildTestApp(db, { TEMPORAL_ADDRESS: server.address, METRICS_MAX_SOURCES: '2', AUTH: 'off' }, undefined, {
    starterTemporalAddress: '127.0.0.1:1',
  });
  app = testApp.app;
  connection = await NativeConnection.connect({ address: server.address });
});
afterAll(async () => {
  for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  await Promise.all(running);
  await connection?.close();
  await testApp?.close();
  await server?.stop();
  await db?.drop();
});

async function startWorkers(): Promise<void> {
  const bundle = path.resolve(__dirname, '../../dist/workflow-bundle.js');
  for (const queue of ALL_TASK_QUEUES) {
    const w =
      queue === WORKFLOW_TASK_QUEUE
        ? await Worker.create({ connection, namespace: 'pipeline-east', taskQueue: queue, workflowBundle: { codePath: bundle } })
        : await Worker.create({ connection, namespace: 'pipeline-east', taskQueue: queue, activities: emptyActivities });
    workers.push(w);
    running.push(w.run());
  }
}

type Check = { name: string; ok: boolean; latencyMs: number; reason?: string };

describe('readiness', () => {
  it('is degraded (still accepting: 200) while a task queue of the active region has no pollers, and says which', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'degraded' });
    const checks = res.json().checks as Check[];
    expect(checks.map((c) => c.name)).toEqual(['postgres', 'temporal:east', ...ALL_TASK_QUEUES.map((q) => `pollers:${q}`)]);
    expect(checks.find((c) => c.name === 'temporal:east')).toMatchObject({ ok: true });
    expect(checks.find((c) => c.name === 'pollers:core')).toMatchObject({ ok: false, reason: 'no live pollers' });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('is ready when every task queue has a poller, with every check timed', async () => {
    await startWorkers();
    const res = await waitFor(
      'ready',
      async () => {
        const r = await app.inject({ method: 'GET', url: '/readyz' });
        return r.json().status === 'ready' ? r : undefined;
      },
      30_000,
    );
    expect(res.json()).toMatchObject({ status: 'ready', activeRegion: 'east' });
    const checks = res.json().checks as Check[];
    expect(checks).toHaveLength(2 + ALL_TASK_QUEUES.length);
    for (const c of checks) expect(c).toEqual({ name: c.name, ok: true, latencyMs: expect.any(Number) });
  });
});

describe('GET /v1/stats', () => {
  it('shows pollers per region and queue, in flight per stage, per source progress and recent totals', async () => {
    const submit = await app.inject({
      method: 'POST',
      url: '/v1/sources/st-a/records',
      payload: { records: [1, 2, 3].map((i) => ({ id: `r${i}`, payload: { amount: i } })) },
    });
    expect(submit.statusCode).toBe(202);
    // The starter's Temporal does not answer: the starts fail and give their claims back.
    await startsGivenBack(db.pool);
    const deps = { pool: db.pool, region: 'east', work: defaultWork };
    const at = (stage: (typeof STAGES)[number], seq: number) => runStage(deps, stage, { sourceId: 'st-a', seq, epoch: 1 });
    for (const stage of STAGES) await at(stage, 1);
    await at('inbound', 2);

    const res = await app.inject({ method: 'GET', url: '/v1/stats' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      activeRegion: 'east',
      epoch: 1,
      totals: { windowSeconds: 60, accepted: 3, delivered: 1 },
      sourcesTotal: 1,
    });
    const east = body.regions.find((r: { name: string }) => r.name === 'east');
    const west = body.regions.find((r: { name: string }) => r.name === 'west');
    expect(east).toMatchObject({ active: true, reachable: true });
    expect(east.queues.map((q: { name: string }) => q.name).sort()).toEqual([...ALL_TASK_QUEUES].sort());
    for (const q of east.queues) expect(q).toMatchObject({ pollers: expect.any(Number), backlogCount: expect.any(Number) });
    expect(east.queues.every((q: { pollers: number }) => q.pollers >= 1)).toBe(true);
    expect(west).toMatchObject({ active: false, reachable: true });
    expect(west.queues.every((q: { pollers: number }) => q.pollers === 0)).toBe(true);
    const stage = (name: string) => body.stages.find((s: { stage: string }) => s.stage === name);
    expect(stage('inbound')).toMatchObject({ inFlight: 1, oldestWaitingSeconds: expect.any(Number) });
    expect(stage('preprocess')).toMatchObject({ inFlight: 1, oldestWaitingSeconds: expect.any(Number) });
    expect(stage('core')).toEqual({ stage: 'core', inFlight: 0, oldestWaitingSeconds: null });
    expect(body.sources).toEqual([
      {
        sourceId: 'st-a',
        lastSeq: 3,
        watermarks: { inbound: 2, preprocess: 1, core: 1, postprocess: 1, outbound: 1, delivered: 1 },
        blocked: null,
      },
    ]);
    // seq 1 is delivered; 2 and 3 have no workflow (the starter's Temporal does not answer).
    expect(body.relayBacklog).toMatchObject({ count: 2 });
    expect((await app.inject({ method: 'GET', url: '/v1/stats?sources=0' })).json().sources).toEqual([]);
    const bad = await app.inject({ method: 'GET', url: '/v1/stats?sources=5000' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toBe('invalid_request');
  });
});

const metric = (text: string, name: string, labels = ''): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('GET /metrics', () => {
  it('counts requests, records by source (bounded), latencies of writes seen since start, fencing refusals', async () => {
    const scrape = async () => {
      const res = await app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      return res.body;
    };
    const before = await scrape();
    expect(metric(before, 'pipeline_records_accepted_total', 'source="st-a"')).toBe(3);
    expect(metric(before, 'pipeline_records_delivered_total', 'source="st-a"')).toBe(1);
    // st-a's first writes happened after the app started: observed once.
    expect(metric(before, 'pipeline_accept_to_delivered_seconds_count')).toBe(1);
    expect(metric(before, 'pipeline_stage_latency_seconds_count', 'stage="inbound"')).toBe(2);

    // Three more sources: the label set stays bounded (METRICS_MAX_SOURCES=2), the rest is "other".
    for (const s of ['st-b', 'st-c', 'st-d']) {
      await app.inject({
        method: 'POST',
        url: `/v1/sources/${s}/records`,
        payload: { records: [{ id: 'x', payload: { amount: 'NaN' } }] },
      });
    }
    const deps = { pool: db.pool, region: 'east', work: defaultWork };
    await runStage(deps, 'inbound', { sourceId: 'st-b', seq: 1, epoch: 1 });
    await runStage(deps, 'preprocess', { sourceId: 'st-b', seq: 1, epoch: 1 });
    // A rejected record is blocked; a fenced write (old epoch) is counted.
    await expect(runStage(deps, 'core', { sourceId: 'st-b', seq: 1, epoch: 1 })).rejects.toThrow(/amount/);
    await markBlocked(deps, 'core', { sourceId: 'st-b', seq: 1, epoch: 1 }, 'amount is not a number');
    await failover(db.pool, 'west');
    await expect(runStage(deps, 'inbound', { sourceId: 'st-c', seq: 1, epoch: 1 })).rejects.toMatchObject({ type: 'Fenced' });
    await app.inject({ method: 'GET', url: '/nowhere' });

    const after = await scrape();
    expect(metric(after, 'pipeline_records_accepted_total', 'source="st-b"')).toBe(1);
    expect(metric(after, 'pipeline_records_accepted_total', 'source="other"')).toBe(2);
    expect(metric(after, 'pipeline_records_accepted_total', 'source="st-c"')).toBeUndefined();
    expect(metric(after, 'pipeline_records_blocked', 'source="st-b"')).toBe(1);
    expect(metric(after, 'pipeline_fencing_refusals_total', 'region="east",stage="inbound"')).toBe(1);
    expect(metric(after, 'pipeline_region_active', 'region="west"')).toBe(1);
    expect(metric(after, 'pipeline_region_epoch')).toBe(2);
    expect(metric(after, 'pipeline_stage_latency_seconds_count', 'stage="inbound"')).toBe(3);
    expect(metric(after, 'pipeline_stage_in_flight', 'stage="core"')).toBe(1);
    // st-a 2 and 3, st-c 1, st-d 1 (st-b 1 is blocked: not the relay's to start).
    expect(metric(after, 'pipeline_relay_backlog')).toBe(4);
    expect(metric(after, 'pipeline_http_requests_total', 'method="POST",route="/v1/sources/:sourceId/records",status="202"')).toBe(4);
    expect(metric(after, 'pipeline_http_requests_total', 'method="GET",route="unmatched",status="404"')).toBe(1);
    expect(metric(after, 'pipeline_submit_duration_seconds_count', 'status="202"')).toBe(4);
    expect(after).toMatch(/^pipeline_api_process_cpu_seconds_total /m);
    await failover(db.pool, 'east');
  });
});
