// No record left behind: a hung (not dead) Temporal server across an operator's failover, a retry
// while Temporal cannot be reached, and the reconciler's repairs of runs that are gone or that
// missed a signal. Two Temporal servers (one per region), real workers, the HTTP API; every
// invariant is read from the tables.
import { Client, Connection } from '@temporalio/client';
import { checkpointRecords } from '../../src/db/checkpoint';
import { recordWorkflowId } from '../../src/contracts/names';
import { createTestDb, type TestDb } from '../helpers/db';
import { deliveredCount, expectAllDelivered, randomBatch, uniqueSource } from '../helpers/records';
import { ADMIN_TOKEN, api, startSystem, submit, waitFor, stopAndRemove, type System } from '../helpers/system';

jest.setTimeout(600_000);

let db: TestDb;
let sys: System;

beforeAll(async () => {
  db = await createTestDb('e2e_liveness');
  sys = await startSystem({
    databaseUrl: db.url,
    env: {
      REGION_TOPOLOGY: 'servers',
      FAILOVER: 'manual',
      ACTIVITY_TIMEOUT_MS: '3000',
      STAGE_DELAY_MS: '100',
      HEALTH_INTERVAL_MS: '1000',
      POLLER_LIVENESS_MS: '20000',
      GATE_NUDGE_SECONDS: '3',
      RECONCILE_INTERVAL_MS: '2000',
      RECONCILE_STALL_SECONDS: '4',
      RECONCILE_GRACE_SECONDS: '2',
    },
  });
});
afterAll(async () => {
  if (sys) await stopAndRemove(sys);
  await db?.drop();
});

interface Regions {
  active: string;
  epoch: number;
  servers: { region: string; pid: number; address: string }[];
}
interface Reconcile {
  passes: number;
  repairedTotal: Record<string, number>;
  last: { stalled: { sourceId: string; seq: number; status: string; reason: string }[]; checked: number } | null;
}
const regions = async () => (await api<Regions>(`${sys.url}/v1/admin/regions`, 'GET')).body;
const reconcile = async () => (await api<Reconcile>(`${sys.url}/v1/admin/reconcile`, 'POST')).body;
const recordStatus = async (source: string, seq: number) =>
  (await api<{ status: string }>(`${sys.url}/v1/sources/${source}/records/${seq}`, 'GET')).body.status;

async function client(region: string): Promise<{ client: Client; close(): Promise<void> }> {
  const server = (await regions()).servers.find((s) => s.region === region)!;
  const connection = await Connection.connect({ address: server.address });
  return { client: new Client({ connection, namespace: `pipeline-${region}` }), close: () => connection.close() };
}

async function expectDeliveredInOrder(sources: string[], perSource: number, timeoutMs = 240_000) {
  await waitFor(
    `${sources.length * perSource} deliveries`,
    async () => (await deliveredCount(db.pool, sources)) === sources.length * perSource,
    timeoutMs,
    1000,
  );
  await expectAllDelivered(db.pool, sources, perSource);
}

/** Waits for a blocked record, then makes its input valid (what an operator fixes before a retry). */
async function blockedThenFixed(source: string, seq: number) {
  await waitFor(`${source}#${seq} blocked`, async () => (await recordStatus(source, seq)) === 'blocked', 60_000, 200);
  await db.pool.query(`UPDATE stage_preprocess SET output = jsonb_set(output, '{record,amount}', '7') WHERE source_id = $1 AND seq = $2`, [
    source,
    seq,
  ]);
}

describe('liveness', () => {
  it('keeps the new region running when a failover overlaps a health round stuck on a hung server', async () => {
    await waitFor('ready', async () => (await api<{ status: string }>(`${sys.url}/readyz`, 'GET')).body.status === 'ready', 60_000);
    const before = await reconcile();
    const sources = ['h1', 'h2', 'h3'].map(uniqueSource);
    for (const s of sources) expect((await submit(sys.url, s, randomBatch('h', 40))).status).toBe(202);
    await waitFor('some deliveries', async () => (await deliveredCount(db.pool, sources)) > 3, 60_000, 100);
    const { active, servers } = await regions();
    const to = active === 'east' ? 'west' : 'east';
    const hung = servers.find((s) => s.region === active)!;
    // The health round probing the hung server waits for its timeout; the failover commits meanwhile.
    process.kill(hung.pid, 'SIGSTOP');
    try {
      // The fault's timing, not a wait for a condition: a health round (every second) is now
      // probing the hung server, and stays stuck in its probe timeout while the failover commits.
      await new Promise((r) => setTimeout(r, 1500));
      const fo = await api<{ to: string }>(`${sys.url}/v1/admin/failover`, 'POST', { to });
      expect(fo).toMatchObject({ status: 200, body: { to } });
      // The new region delivers while the old server still hangs.
      const since = new Date();
      await waitFor(
        `deliveries in ${to} with ${active}'s server hung`,
        async () =>
          (
            await db.pool.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM deliveries WHERE source_id = ANY($1) AND region = $2 AND delivered_at > $3',
              [sources, to, since],
            )
          ).rows[0].n >= 3,
        60_000,
        200,
      );
    } finally {
      process.kill(hung.pid, 'SIGCONT');
    }
    await expectDeliveredInOrder(sources, 40);
    // Delivered by the path itself, not rescued: no run of the new region was terminated, and the
    // reconciler did not have to start any again.
    const target = await client(to);
    try {
      const terminated = await target.client.workflow.count(`ExecutionStatus = "Terminated"`);
      expect(terminated.count).toBe(0);
    } finally {
      await target.close();
    }
    const after = await reconcile();
    expect(after.repairedTotal.ended_run).toBe(before.repairedTotal.ended_run);
    expect(after.repairedTotal.missing_run).toBe(before.repairedTotal.missing_run);
  });

  it('answers 503 to a retry that cannot reach Temporal, changes nothing, and a later retry delivers', async () => {
    const src = uniqueSource('retry-down');
    const records = randomBatch('r', 3);
    records[0].payload.amount = 'x';
    expect((await submit(sys.url, src, records)).status).toBe(202);
    await blockedThenFixed(src, 1);
    const { active } = await regions();
    expect((await api(`${sys.url}/v1/admin/regions/${active}/server/stop`, 'POST', { signal: 'SIGKILL' })).status).toBeLessThan(300);
    try {
      const res = await api<{ error: string; message: string }>(`${sys.url}/v1/sources/${src}/records/1/retry`, 'POST');
      expect(res).toMatchObject({ status: 503, body: { error: 'temporal_unavailable' } });
      expect(await recordStatus(src, 1)).toBe('blocked');
    } finally {
      expect((await api(`${sys.url}/v1/admin/regions/${active}/server/start`, 'POST')).status).toBeLessThan(300);
    }
    await waitFor(
      'the retry accepted',
      async () => (await api(`${sys.url}/v1/sources/${src}/records/1/retry`, 'POST')).status === 200,
      120_000,
      1000,
    );
    await expectDeliveredInOrder([src], 3);
  });

  it('re-sends a retry whose signal never reached the blocked workflow', async () => {
    const src = uniqueSource('lost-retry');
    const records = randomBatch('l', 3);
    records[0].payload.amount = 'x';
    expect((await submit(sys.url, src, records)).status).toBe(202);
    await blockedThenFixed(src, 1);
    // What an API crash between the retry's commit and its signal left behind before the fix.
    await db.pool.query(
      `UPDATE records SET status = 'processing', blocked_stage = NULL, blocked_reason = NULL WHERE source_id = $1 AND seq = 1`,
      [src],
    );
    await expectDeliveredInOrder([src], 3, 120_000);
    expect((await reconcile()).repairedTotal.lost_retry).toBeGreaterThan(0);
  });

  it('starts a new run for a record whose run was terminated or never existed, in order', async () => {
    const src = uniqueSource('gone');
    const records = randomBatch('g', 4);
    records[1].payload.amount = 'x';
    expect((await submit(sys.url, src, records)).status).toBe(202);
    await waitFor('#2 blocked', async () => (await recordStatus(src, 2)) === 'blocked', 60_000, 200);
    const { active, epoch } = await regions();
    const c = await client(active);
    const before = (await reconcile()).repairedTotal;
    try {
      // A run ended by mistake (a wrong "superseded"), while the record is open in Postgres.
      await c.client.workflow.getHandle(recordWorkflowId(src, 2)).terminate('test: ended by mistake');
      // And a record the active epoch claims, whose run the server never had (e.g. lost state).
      const orphan = uniqueSource('orphan');
      const res = await checkpointRecords(
        db.pool,
        orphan,
        randomBatch('o', 1).map((r) => ({ ...r, hash: r.id })),
      );
      expect(res.ok).toBe(true);
      await db.pool.query(
        `UPDATE records SET status = 'processing', region = $2, epoch = $3, started_at = now() - interval '1 minute' WHERE source_id = $1`,
        [orphan, active, epoch],
      );
      const pass = await waitFor(
        'both repaired',
        async () => {
          const now = (await reconcile()).repairedTotal;
          return now.ended_run > before.ended_run && now.missing_run > before.missing_run ? now : undefined;
        },
        60_000,
        1000,
      );
      expect(pass.ended_run - before.ended_run).toBe(1);
      await expectDeliveredInOrder([orphan], 1, 60_000);
      // The new run of #2 is blocked again (same input): the source is reported stalled, with the reason.
      await waitFor('#2 blocked again', async () => (await recordStatus(src, 2)) === 'blocked', 60_000, 200);
      const stalled = await waitFor(
        'reported stalled',
        async () => (await reconcile()).last?.stalled.find((s) => s.sourceId === src),
        30_000,
        1000,
      );
      expect(stalled).toMatchObject({ seq: 2, status: 'blocked', reason: expect.stringContaining('blocked') });
      const stats = await api<{ reconciler: { stalledSources: number; repairedTotal: Record<string, number> } }>(
        `${sys.url}/v1/stats`,
        'GET',
      );
      expect(stats.body.reconciler.stalledSources).toBeGreaterThan(0);
      const metrics = await (await fetch(`${sys.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
      expect(metrics).toMatch(/pipeline_reconciler_repairs_total\{kind="ended_run"\} [1-9]/);
      expect(metrics).toMatch(/pipeline_reconciler_stalled_sources [1-9]/);
      // The operator fixes the input and retries: all four delivered in order.
      await db.pool.query(
        `UPDATE stage_preprocess SET output = jsonb_set(output, '{record,amount}', '7') WHERE source_id = $1 AND seq = 2`,
        [src],
      );
      expect((await api(`${sys.url}/v1/sources/${src}/records/2/retry`, 'POST')).status).toBe(200);
      await expectDeliveredInOrder([src], 4, 120_000);
    } finally {
      await c.close();
    }
  });
});
