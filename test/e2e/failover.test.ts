// Active-passive regions with the two-server topology: one Temporal dev server per region, so that
// killing east's server is a real region outage. Invariants are read from the tables.
import { Client, Connection } from '@temporalio/client';
import { createTestDb, type TestDb } from '../helpers/db';
import { deliveredCount, expectAllDelivered, randomBatch, uniqueSource } from '../helpers/records';
import { alive, api, startSystem, submit, waitFor, stopAndRemove, type System } from '../helpers/system';

jest.setTimeout(600_000);

let db: TestDb;
let sys: System;

beforeAll(async () => {
  db = await createTestDb('e2e_failover');
  sys = await startSystem({
    databaseUrl: db.url,
    env: {
      REGION_TOPOLOGY: 'servers',
      ACTIVITY_TIMEOUT_MS: '3000',
      STAGE_DELAY_MS: '100',
      HEALTH_INTERVAL_MS: '1000',
      FAILOVER_THRESHOLD: '3',
      // The automatic failover below comes seconds after the tests' manual switches.
      FAILOVER_COOLDOWN_MS: '5000',
      POLLER_LIVENESS_MS: '20000',
      GATE_NUDGE_SECONDS: '5',
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
  servers: { region: string; pid: number | null; address: string; state: string }[];
}
const regions = async () => (await api<Regions>(`${sys.url}/v1/admin/regions`, 'GET')).body;

/** Submits a batch to every source every `everyMs` until stopped; returns how many were accepted. */
function startLoad(sources: string[], everyMs = 300, perBatch = 3) {
  let stopped = false;
  let accepted = 0;
  const loops = sources.map(async (s, i) => {
    for (let b = 0; !stopped; b++) {
      const res = await submit(sys.url, s, randomBatch(`l${i}-${b}`, perBatch)).catch(() => undefined);
      if (res?.status === 202) accepted += perBatch;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return accepted;
    },
  };
}

/** Deliveries of `sources` made in `region` since `since`. */
async function deliveredSince(sources: string[], region: string, since: Date): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM deliveries WHERE source_id = ANY($1) AND region = $2 AND delivered_at > $3',
    [sources, region, since],
  );
  return rows[0].n;
}

async function expectAllDeliveredInOrder(sources: string[], accepted: number) {
  await waitFor(`${accepted} deliveries`, async () => (await deliveredCount(db.pool, sources)) === accepted, 300_000, 1000);
  await expectAllDelivered(db.pool, sources);
}

describe('failover between regions', () => {
  it('runs one Temporal server per region', async () => {
    const r = await regions();
    expect(r.active).toBe('east');
    expect(r.servers.map((s) => s.region).sort()).toEqual(['east', 'west']);
    expect(new Set(r.servers.map((s) => s.address)).size).toBe(2);
    await waitFor('ready', async () => (await api<{ status: string }>(`${sys.url}/readyz`, 'GET')).body.status === 'ready');
  });

  it('fails back and over again by hand under load, twice, without loss, duplicates or reordering', async () => {
    const sources = ['m1', 'm2', 'm3'].map(uniqueSource);
    const load = startLoad(sources);
    let since = new Date();
    for (const to of ['west', 'east', 'west']) {
      // Switch only once the active region has delivered since the last switch (a fixed wait is
      // not enough on a busy machine), so that both regions really carry load.
      const from = (await regions()).active;
      await waitFor(`a delivery in ${from}`, async () => (await deliveredSince(sources, from, since)) > 0, 120_000, 250);
      since = new Date();
      const res = await api<{ to: string }>(`${sys.url}/v1/admin/failover`, 'POST', { to });
      expect(res).toMatchObject({ status: 200, body: { to } });
    }
    // The last region carries load too before the submissions stop.
    await waitFor('a delivery in the last region', async () => (await deliveredSince(sources, 'west', since)) > 0, 120_000, 250);
    const accepted = await load.stop();
    expect(accepted).toBeGreaterThan(30);
    await expectAllDeliveredInOrder(sources, accepted);
    const byRegion = await db.pool.query<{ region: string }>('SELECT DISTINCT region FROM deliveries WHERE source_id = ANY($1)', [sources]);
    expect(byRegion.rows.map((r) => r.region).sort()).toEqual(['east', 'west']);
  });

  it('finishes recovery after the process running it is killed midway', async () => {
    const sources = ['rc1', 'rc2', 'rc3'].map(uniqueSource);
    for (const s of sources) {
      for (let b = 0; b < 2; b++) expect((await submit(sys.url, s, randomBatch(`b${b}`, 60))).status).toBe(202);
    }
    // As if every record had been started in the old region (the start window holds most of them
    // back in Postgres): a failover then has hundreds to re-drive.
    await db.pool.query(
      `UPDATE records SET epoch = (SELECT epoch FROM regions WHERE active), region = (SELECT name FROM regions WHERE active),
              status = 'processing', started_at = now()
        WHERE source_id = ANY($1) AND epoch IS NULL AND status = 'accepted'`,
      [sources],
    );
    const { active: from, servers } = await regions();
    const to = from === 'east' ? 'west' : 'east';
    const connection = await Connection.connect({ address: servers.find((x) => x.region === to)!.address });
    const target = new Client({ connection, namespace: `pipeline-${to}` });
    const query = `SourceId IN (${sources.map((x) => `"${x}"`).join(', ')})`;
    try {
      const fo = await api<{ epoch: number }>(`${sys.url}/v1/admin/failover`, 'POST', { to });
      expect(fo.status).toBe(200);
      // The API process holds the control role and runs recovery: it claims the open records at the
      // new epoch, then starts their runs. Kill it once some runs are started and others not yet.
      const open = async () =>
        (
          await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM records WHERE source_id = ANY($1) AND status IN ('accepted', 'processing')`,
            [sources],
          )
        ).rows[0].n;
      const midway = await waitFor(
        'recovery midway',
        async () => {
          const [runs, left] = await Promise.all([target.workflow.count(query).then((c) => c.count), open()]);
          return runs > 0 && runs < left ? { runs, open: left } : undefined;
        },
        30_000,
        5,
      );
      process.kill(await sys.apiPid(), 'SIGKILL');
      const after = (await target.workflow.count(query)).count;
      process.stdout.write(
        `recovery killed midway: ${midway.runs} of ${midway.open} open records started in ${to}; ${after} just after the kill\n`,
      );
      expect(after).toBeLessThan(midway.open);
    } finally {
      await connection.close();
    }
    await waitFor('the API back', async () => (await api(`${sys.url}/v1/admin/regions`, 'GET')).status === 200, 60_000);
    await expectAllDeliveredInOrder(sources, 360);
    const regionsUsed = await db.pool.query<{ region: string }>('SELECT DISTINCT region FROM deliveries WHERE source_id = ANY($1)', [
      sources,
    ]);
    expect(regionsUsed.rows.map((r) => r.region)).toContain(to);
    if (to === 'west') expect((await api(`${sys.url}/v1/admin/failover`, 'POST', { to: 'east' })).status).toBe(200);
  });

  it('fails over automatically when every east worker and the east server are killed', async () => {
    expect((await regions()).active).toBe('east');
    const sources = ['a1', 'a2', 'a3'].map(uniqueSource);
    const load = startLoad(sources);
    await waitFor('deliveries in east', async () => (await deliveredCount(db.pool, sources)) > 5, 60_000, 200);
    const killedAt = Date.now();
    const roles = ['workflows', 'inbound', 'preprocess', 'core', 'postprocess', 'outbound'];
    await Promise.all([
      ...roles.map((r) => api(`${sys.url}/v1/admin/workers/east/${r}/stop`, 'POST', { signal: 'SIGKILL' })),
      api(`${sys.url}/v1/admin/regions/east/server/stop`, 'POST', { signal: 'SIGKILL' }),
    ]);
    await waitFor('failover to west', async () => (await regions()).active === 'west', 120_000, 250);
    const failedOverMs = Date.now() - killedAt;
    const killed = new Date(killedAt);
    await waitFor('a delivery in west', async () => (await deliveredSince(sources, 'west', killed)) > 0, 120_000, 100);
    const firstWestMs = Date.now() - killedAt;
    // The load goes on in west for a while before it stops.
    await waitFor('west carrying the load', async () => (await deliveredSince(sources, 'west', killed)) >= 10, 120_000, 250);
    const accepted = await load.stop();
    await expectAllDeliveredInOrder(sources, accepted);
    process.stdout.write(
      `auto failover: kill -> failover ${failedOverMs} ms, kill -> first delivery in west ${firstWestMs} ms (${accepted} records)\n`,
    );
    expect(failedOverMs).toBeLessThan(60_000);
  });

  it('stops every process it started, both Temporal servers included, when its terminal is gone', async () => {
    // The outage above stopped east's server and workers as an operator would: started again here.
    await api(`${sys.url}/v1/admin/regions/east/server/start`, 'POST');
    for (const role of ['workflows', 'inbound', 'preprocess', 'core', 'postprocess', 'outbound']) {
      await api(`${sys.url}/v1/admin/workers/east/${role}/start`, 'POST');
    }
    await waitFor(
      'every process up',
      async () =>
        (await regions()).servers.every((x) => x.pid !== null && x.state === 'running') &&
        (await sys.workers()).every((w) => w.pid !== null && w.state === 'running'),
      60_000,
    );
    const pids = [...(await sys.workers()).map((w) => w.pid!), ...(await regions()).servers.map((x) => x.pid!), await sys.apiPid()];
    expect(pids).toHaveLength(15);
    // The terminal closes (ssh dropped, the parent died): the supervisor's next line cannot be
    // written, and it must still stop what it started.
    sys.proc.stdout?.destroy();
    sys.proc.stderr?.destroy();
    await sys.stop();
    expect(pids.filter(alive)).toEqual([]);
  });
});
