// A zombie writer: east's core worker process is paused (SIGSTOP) while it holds its stage write
// transaction open, just past its fence check (STAGE_TX_DELAY_MS holds every stage write there for
// a moment, so the test can catch one). The failover must end that session (fenced sessions), and
// nothing east had in flight may commit after the switch. A late commit is found by commit order:
// rows that were not in the tables when the failover returned and are not west's at the new epoch.
// Not by written_at: it is the transaction's start time, before the switch for a zombie's row.
import { CHECKED_TABLES, verifyInvariants, violations } from '../../src/db/verify';
import { createTestDb, type TestDb } from '../helpers/db';
import { deliveredCount, randomBatch, uniqueSource } from '../helpers/records';
import { api, startSystem, submit, waitFor, stopAndRemove, type System } from '../helpers/system';

jest.setTimeout(300_000);

let db: TestDb;
let sys: System;

beforeAll(async () => {
  db = await createTestDb('e2e_zombie');
  sys = await startSystem({
    databaseUrl: db.url,
    // Manual failover: the paused worker must not trigger one of its own.
    env: { FAILOVER: 'manual', STAGE_TX_DELAY_MS: '1000', ACTIVITY_TIMEOUT_MS: '5000', RELAY_INTERVAL_MS: '500', GATE_NUDGE_SECONDS: '3' },
  });
});
afterAll(async () => {
  if (sys) await stopAndRemove(sys);
  await db?.drop();
});

interface OpenWrite {
  pid: number;
  xact_start: Date;
}

/** A transaction of east's core worker that holds the regions lock its fence check took, idle (in the delay). */
async function openCoreWrite(): Promise<OpenWrite | undefined> {
  const { rows } = await db.pool.query<OpenWrite>(
    `SELECT a.pid, a.xact_start FROM pg_stat_activity a
      WHERE a.application_name = 'pipeline-worker:east:core' AND a.state = 'idle in transaction'
        AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.relation = 'regions'::regclass AND l.granted)`,
  );
  return rows[0];
}

describe('a zombie worker paused inside its write transaction', () => {
  it('is fenced by the failover: its session is ended and nothing of the old epoch commits after the switch', async () => {
    const src = uniqueSource('zombie');
    expect((await submit(sys.url, src, randomBatch('z', 6))).status).toBe(202);
    const pid = (await sys.workers()).find((w) => w.region === 'east' && w.stage === 'core')?.pid;
    if (!pid) throw new Error('no east core worker running');

    // Stop the worker while one of its write transactions is open; if that transaction got past its
    // delay between the look and the stop, let it go and try the next one.
    let caught: OpenWrite | undefined;
    for (let attempt = 0; !caught && attempt < 10; attempt++) {
      const seen = await waitFor('an open core write in east', openCoreWrite, 60_000, 20);
      process.kill(pid, 'SIGSTOP');
      const still = await openCoreWrite();
      if (still?.pid === seen.pid && still.xact_start.getTime() === seen.xact_start.getTime()) caught = seen;
      else process.kill(pid, 'SIGCONT');
    }
    expect(caught).toBeDefined();

    let epoch: number;
    const atSwitch = new Map<string, Set<number>>();
    try {
      const fo = await api<{ to: string; epoch: number; fencedSessions: number }>(`${sys.url}/v1/admin/failover`, 'POST', { to: 'west' });
      expect(fo).toMatchObject({ status: 200, body: { to: 'west' } });
      // The paused writer held the switch up until its session was ended.
      expect(fo.body.fencedSessions).toBeGreaterThan(0);
      epoch = fo.body.epoch;
      // What was committed when the switch committed (the zombie is still stopped).
      for (const table of CHECKED_TABLES) {
        const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM ${table} WHERE source_id = $1`, [src]);
        atSwitch.set(table, new Set(rows.map((r) => r.id)));
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const session = await db.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [caught!.pid]);
    expect(session.rows).toEqual([]);

    await waitFor('6 deliveries', async () => (await deliveredCount(db.pool, [src])) === 6, 180_000, 500);
    expect(violations(await verifyInvariants(db.pool, { sources: [src], expectDrained: true }))).toEqual([]);
    // Every row that appeared after the switch was written by west at the new epoch.
    const late: unknown[] = [];
    for (const table of CHECKED_TABLES) {
      const { rows } = await db.pool.query<{ id: number; seq: number; region: string; epoch: number }>(
        `SELECT id, seq, region, epoch FROM ${table} WHERE source_id = $1 ORDER BY id`,
        [src],
      );
      for (const r of rows) if (!atSwitch.get(table)!.has(r.id) && (r.region !== 'west' || r.epoch !== epoch!)) late.push({ table, ...r });
    }
    expect(late).toEqual([]);
    const west = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM stage_core WHERE source_id = $1 AND region = 'west'`, [
      src,
    ]);
    expect(west.rows[0].n).toBeGreaterThan(0);
  });
});
