// The whole system as `npm start` runs it: supervisor, Temporal dev server, API, 12 worker
// processes. Records go in over HTTP; the invariants are read from the tables.
import { Client, Connection } from '@temporalio/client';
import { recordWorkflowId } from '../../src/contracts/names';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { alive, api, sharedSystem, submit, SUPERVISOR, waitFor, type SharedSystem } from '../helpers/system';
import { deliveredCount, expectAllDelivered, randomBatch, uniqueSource } from '../helpers/records';

jest.setTimeout(300_000);

let sys: SharedSystem;
let db: SharedSystem['db'];

// The shared system (ACTIVITY_TIMEOUT_MS 3000, STAGE_DELAY_MS 10: SHARED_ENV), which the last test
// stops: the run orders this file last of those that share it (test/sequencer.js).
beforeAll(async () => {
  sys = await sharedSystem();
  db = sys.db;
});
afterAll(async () => {
  await sys?.release();
});

/** Postgres sessions ever opened to this system's Temporal server databases (the real server's). */
async function temporalServerSessions(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT coalesce(sum(sessions), 0)::int AS n FROM pg_stat_database WHERE starts_with(datname, current_database() || '_temporal_')`,
  );
  return rows[0].n;
}

async function submitAll(sources: string[], batches: number, perBatch: number): Promise<void> {
  const requests = sources.flatMap((s) => Array.from({ length: batches }, (_, b) => submit(sys.url, s, randomBatch(`b${b}`, perBatch))));
  const answers = await Promise.all(requests);
  for (const a of answers) expect(a.status).toBe(202);
}

describe('the pipeline end to end', () => {
  it('runs every worker as its own process, and is healthy', async () => {
    const workers = await sys.workers();
    expect(workers).toHaveLength(12);
    expect(new Set(workers.map((w) => w.pid)).size).toBe(12);
    expect(workers.map((w) => w.title)).toContain('pipeline-worker:west:core');
    expect(workers.every((w) => w.state === 'running')).toBe(true);
    await waitFor('ready', async () => (await api<{ status: string }>(`${sys.url}/readyz`, 'GET')).body.status === 'ready', 120_000);
  });

  it('delivers 3 sources x 30 records submitted concurrently exactly once each, in order', async () => {
    const sources = ['alpha', 'beta', 'gamma'].map(uniqueSource);
    const sessionsBefore = await temporalServerSessions();
    await submitAll(sources, 3, 10);
    await waitFor('90 deliveries', async () => (await deliveredCount(db.pool, sources)) === 90, 180_000);
    await expectAllDelivered(db.pool, sources, 30);
    // The real server (TEMPORAL_SERVER=postgres) keeps its pools' connections: with fewer idle
    // connections than open ones it reconnected to Postgres several times per record, which
    // cost a third of the throughput. (On the dev server there are no such databases: 0.)
    expect((await temporalServerSessions()) - sessionsBefore).toBeLessThan(30);
    // The gate's LISTEN connections: each of the active region's stage workers has one (opened at
    // its first activity); the standby region's workers, which ran none, hold none.
    const listeners = await db.pool.query<{ app: string }>(
      `SELECT application_name AS app FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'pipeline-worker:%:gate' ORDER BY 1`,
    );
    expect(listeners.rows.map((r) => r.app)).toEqual(
      ['core', 'inbound', 'outbound', 'postprocess', 'preprocess'].map((stage) => `pipeline-worker:east:${stage}:gate`),
    );

    const rec = await api<Record<string, unknown>>(`${sys.url}/v1/sources/${sources[0]}/records/30`, 'GET');
    expect(rec.body).toMatchObject({ status: 'delivered', stage: null, region: 'east', workflowId: recordWorkflowId(sources[0], 30) });
    expect(Object.keys(rec.body.stages as object)).toEqual(['inbound', 'preprocess', 'core', 'postprocess', 'outbound']);
    const src = await api<Record<string, unknown>>(`${sys.url}/v1/sources/${sources[1]}`, 'GET');
    expect(src.body).toMatchObject({ lastSeq: 30, watermarks: { inbound: 30, core: 30, outbound: 30, delivered: 30 }, blocked: null });

    // The workflow is visible to operators with its search attributes.
    const connection = await Connection.connect({ address: sys.temporalAddress });
    try {
      const client = new Client({ connection, namespace: 'pipeline-east' });
      const desc = await client.workflow.getHandle(recordWorkflowId(sources[2], 7)).describe();
      expect(desc.status.name).toBe('COMPLETED');
      expect(desc.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
        expect.arrayContaining([
          ['SourceId', sources[2]],
          ['RecordSeq', 7],
          ['Region', 'east'],
          ['Stage', 'delivered'],
        ]),
      );
    } finally {
      await connection.close();
    }
  });

  it('delivers every record once when a stage worker is killed with SIGKILL mid-run', async () => {
    const sources = ['kilo', 'lima', 'mike'].map(uniqueSource);
    await submitAll(sources, 2, 20);
    await waitFor('first deliveries', async () => (await deliveredCount(db.pool, sources)) >= 3, 120_000, 100);
    const before = (await sys.workers()).find((w) => w.region === 'east' && w.stage === 'core')!;
    process.kill(before.pid!, 'SIGKILL');
    await waitFor('120 deliveries', async () => (await deliveredCount(db.pool, sources)) === 120, 240_000);
    await expectAllDelivered(db.pool, sources, 40);
    const after = (await sys.workers()).find((w) => w.region === 'east' && w.stage === 'core')!;
    expect(after.restarts).toBeGreaterThanOrEqual(1);
    expect(after.pid).not.toBe(before.pid);
    expect(after.state).toBe('running');
  });

  it('refuses a second start while one runs, without disturbing it', async () => {
    const second = spawn(process.execPath, [SUPERVISOR], { env: { ...sys.env, PORT: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    second.stdout.on('data', (d) => (out += d));
    const code = await new Promise((r) => second.once('exit', r));
    expect(code).not.toBe(0);
    expect(out).toMatch(/already running \(supervisor pid \d+\)/);
    expect((await api(`${sys.url}/v1/admin/workers`, 'GET')).status).toBe(200);
  });

  it('stops every process it started on SIGTERM', async () => {
    const pids = (await sys.workers()).map((w) => w.pid!);
    await sys.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(path.join(sys.dataDir, 'supervisor.pid'))).toBe(false);
  });
});
