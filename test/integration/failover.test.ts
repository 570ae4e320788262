// The failover transaction against real Postgres: epochs, fencing of writes in flight, zombies.
import { runStage } from '../../src/activities/stage-write';
import { checkpointRecords } from '../../src/db/checkpoint';
import { failover, FailoverRefused } from '../../src/db/failover';
import { createPool } from '../../src/db/pool';
import { defaultWork } from '../../src/stages/work';
import { createTestDb, type TestDb } from '../helpers/db';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb('failover');
});
afterAll(() => db.drop());

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
    await expect(runStage({ ...deps, region: 'east' }, 'inbound', { sourceId: 'z', seq: 1, epoch: epoch - 1 })).rejects.toMatchObject({ type: 'Fenced' });
    await expect(runStage({ ...deps, region: 'west' }, 'inbound', { sourceId: 'z', seq: 1, epoch: epoch - 1 })).rejects.toMatchObject({ type: 'Fenced' });
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
    // ...and it stops here (SIGSTOP) holding its lock.
    const started = Date.now();
    const result = await failover(db.pool, other);
    expect(result.fencedSessions).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    await expect(zombie.query('COMMIT')).rejects.toThrow();
    zombie.release(true);
    await zombiePool.end();
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM faults WHERE reason = 'zombie write'`)).rows[0].n).toBe(0);
  });
});
