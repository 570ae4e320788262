// The failover transaction against real Postgres: epochs, fencing of writes in flight, zombies.
import { runStage } from '../../src/activities/stage-write';
import { checkpointRecords } from '../../src/db/checkpoint';
import { failover, FailoverRefused } from '../../src/db/failover';
import { createPool, withTransaction, type Pool } from '../../src/db/pool';
import { defaultWork } from '../../src/stages/work';
import { createTestDb, type TestDb } from '../helpers/db';
import { buildTestApp } from '../helpers/app';

const ADMIN = 'failover-test-admin-token-abcdefgh';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb('failover');
});
afterAll(() => db.drop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Old-region workers under continuous load: overlapping transactions that each hold the region
 * row FOR SHARE for a while, so the row is never free; ended sessions reconnect and go on.
 */
function shareLoad(pool: Pool, region: string, holders = 3, holdMs = 60) {
  let stop = false;
  let locks = 0;
  const holder = async (offset: number) => {
    await sleep(offset);
    while (!stop) {
      await withTransaction(pool, async (c) => {
        await c.query('SELECT 1 FROM regions WHERE name = $1 FOR SHARE', [region]);
        locks++;
        await sleep(holdMs);
      }).catch(() => sleep(5));
    }
  };
  const running = Array.from({ length: holders }, (_, i) => holder((i * holdMs) / holders));
  return {
    locks: () => locks,
    async stop() {
      stop = true;
      await Promise.all(running);
    },
  };
}

const regions = async () => (await db.pool.query('SELECT name, active, epoch FROM regions ORDER BY name')).rows;

describe('failover', () => {
  it('switches the active region at a new epoch, and refuses the region already active', async () => {
    expect(await regions()).toEqual([
      { name: 'east', active: true, epoch: 1 },
      { name: 'west', active: false, epoch: 1 },
    ]);
    await expect(failover(db.pool, 'east')).rejects.toBeInstanceOf(FailoverRefused);
    await expect(failover(db.pool, 'south')).rejects.toMatchObject({ code: 'unknown_region' });
    expect(await failover(db.pool, 'west')).toMatchObject({ from: 'east', to: 'west', epoch: 2, fencedSessions: 0 });
    expect(await failover(db.pool, 'east')).toMatchObject({ from: 'west', to: 'east', epoch: 3 });
  });

  it('refuses every write of the old epoch once it has switched', async () => {
    await checkpointRecords(db.pool, 'z', [{ id: 'a', payload: { amount: 1 }, hash: 'a' }]);
    const { epoch } = await failover(db.pool, 'west');
    const deps = { pool: db.pool, work: defaultWork };
    await expect(runStage({ ...deps, region: 'east' }, 'inbound', { sourceId: 'z', seq: 1, epoch: epoch - 1 })).rejects.toMatchObject({
      type: 'Fenced',
    });
    await expect(runStage({ ...deps, region: 'west' }, 'inbound', { sourceId: 'z', seq: 1, epoch: epoch - 1 })).rejects.toMatchObject({
      type: 'Fenced',
    });
    expect((await runStage({ ...deps, region: 'west' }, 'inbound', { sourceId: 'z', seq: 1, epoch })).outcome).toBe('done');
  });

  it('ends the session of a paused old-region writer that holds the switch up, rolling its write back', async () => {
    const active = (await regions()).find((r) => r.active)!;
    const other = active.name === 'east' ? 'west' : 'east';
    const zombiePool = createPool({ connectionString: db.url, applicationName: `pipeline-worker:${active.name}:core` });
    const zombie = await zombiePool.connect();
    zombie.on('error', () => undefined);
    await zombie.query('BEGIN');
    await zombie.query('SELECT 1 FROM regions WHERE name = $1 FOR SHARE', [active.name]);
    await zombie.query(`INSERT INTO faults (region, stage, reason) VALUES ($1, 'core', 'zombie write')`, [active.name]);
    // ...and it stops here (SIGSTOP) holding its lock. A first wait of 200 ms (3 s by default) for
    // writes in flight, then its session is ended.
    const started = Date.now();
    const result = await failover(db.pool, other, { firstWaitMs: 200 });
    expect(result.fencedSessions).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect(zombie.query('COMMIT')).rejects.toThrow();
    zombie.release(true);
    await zombiePool.end();
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM faults WHERE reason = 'zombie write'`)).rows[0].n).toBe(0);
  });

  it("gets the lock under continuous FOR SHARE load from the old region's workers", async () => {
    const active = (await regions()).find((r) => r.active)!;
    const other = active.name === 'east' ? 'west' : 'east';
    const workers = createPool({ connectionString: db.url, applicationName: `pipeline-worker:${active.name}:core`, max: 8 });
    const load = shareLoad(workers, active.name, 6, 300);
    try {
      await sleep(300);
      const started = Date.now();
      const result = await failover(db.pool, other);
      expect(result).toMatchObject({ from: active.name, to: other });
      // Row locks let new share lockers jump the queue: the switch must not wait for a lull.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(load.locks()).toBeGreaterThan(3);
    } finally {
      await load.stop();
      await workers.end();
    }
  });

  it('answers 503 failover_busy, not 500, when a session it may not end holds the switch past its deadline', async () => {
    const active = (await regions()).find((r) => r.active)!;
    const other = active.name === 'east' ? 'west' : 'east';
    // A writer of the region being made active is never ended by the fence: it holds on.
    const holderPool = createPool({ connectionString: db.url, applicationName: `pipeline-worker:${other}:core`, max: 1 });
    const holder = await holderPool.connect();
    // A deadline of 1 s (10 s by default): the answer comes once it has passed.
    const t = await buildTestApp(db, { ADMIN_TOKEN: ADMIN, FAILOVER_DEADLINE_MS: '1000' });
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM regions WHERE name = $1 FOR SHARE', [other]);
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/admin/failover',
        payload: { to: other },
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect({ status: res.statusCode, body: res.json() }).toEqual({
        status: 503,
        body: { error: 'failover_busy', message: expect.any(String) },
      });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      await holder.query('COMMIT');
      const ok = await t.app.inject({
        method: 'POST',
        url: '/v1/admin/failover',
        payload: { to: other },
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(ok.statusCode).toBe(200);
    } finally {
      holder.release();
      await holderPool.end();
      await t.close();
    }
  });
});
