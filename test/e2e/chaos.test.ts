// A short chaos run (fixed seed) with two API replicas: every kind of fault lands at least once while
// several sources submit through both, among them a hung (SIGSTOPped) Temporal server, an operator's
// failover while the active one hangs, and the control role's holder killed and paused; afterwards
// the tables show every accepted record delivered once, in order, nothing left open, and Temporal
// shows each record's workflow run once at the epoch that delivered it. Longer runs:
// npm run chaos -- --duration 600 --seed <n>.
import { runChaos } from '../../scripts/chaos/run';
import { formatReport } from '../../scripts/chaos/report';
import { FAULT_KINDS } from '../../scripts/chaos/schedule';
import { createTestDb, type TestDb } from '../helpers/db';

// A drain budget bounds the wait; both engines drain well within it (npm run test:server runs this
// file on the real server too).
jest.setTimeout(600_000);

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb('e2e_chaos');
});
afterAll(async () => {
  await db?.drop();
});

describe('chaos', () => {
  it('loses, duplicates, reorders and strands nothing while workers, servers, connections and the API are killed or hung', async () => {
    const report = await runChaos({
      databaseUrl: db.url,
      pool: db.pool,
      seed: 42,
      // 13 faults for the 12 kinds (seed 42).
      durationS: 72,
      sources: 3,
      meanGapMs: 5_000,
      drainTimeoutS: 300,
    });
    process.stdout.write(`${formatReport(report)}\n`);
    expect(FAULT_KINDS.filter((k) => report.faults[k].injected === 0)).toEqual([]);
    expect(report.acknowledged).toBeGreaterThan(100);
    expect(report.lost).toEqual([]);
    expect(report.duplicates).toBe(0);
    expect(report.invariants).toEqual([]);
    expect(report.orderViolations).toEqual([]);
    expect(report.gaps).toBe(0);
    expect(report.secondRuns).toEqual([]);
    expect(report.stalledDetail.first).toEqual([]);
    expect(report.stalled).toBe(0);
    expect(report.delivered).toBe(report.accepted);
  });

  // In the mixed run a later failover or server kill re-drives whatever an earlier fault stranded,
  // so a stall shows there only as latency. Here the faults that strand records come alone, with
  // the sweeper off: an operator's failover while the active server hangs (the health round that
  // read the regions before its probe of the hung server once terminated the new region's fresh runs
  // as zombies, leaving their records open), and
  // stage and workflow workers SIGKILLed between a commit and its gate signal. What they leave
  // behind the reconciler alone must repair.
  it('strands nothing when only the reconciler repairs: a failover while the active server hangs, and killed workers', async () => {
    const own = await createTestDb('e2e_chaos_rec');
    try {
      const report = await runChaos({
        databaseUrl: own.url,
        pool: own.pool,
        seed: 42,
        durationS: 40,
        sources: 3,
        meanGapMs: 9_000,
        kinds: ['failover-while-hung', 'kill-stage-worker', 'kill-workflow-worker'],
        env: { SWEEPER: 'off' },
        drainTimeoutS: 120,
      });
      process.stdout.write(`${formatReport(report)}\n`);
      expect(report.faults['failover-while-hung'].injected).toBeGreaterThanOrEqual(1);
      expect(report.stalledDetail.first).toEqual([]);
      expect(report.stalled).toBe(0);
      expect(report.lost).toEqual([]);
      expect(report.invariants).toEqual([]);
      expect(report.orderViolations).toEqual([]);
      expect(report.secondRuns).toEqual([]);
      expect(report.delivered).toBe(report.accepted);
    } finally {
      await own.drop();
    }
  });
});
