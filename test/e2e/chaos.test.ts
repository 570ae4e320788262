// A short chaos run (fixed seed): every kind of fault lands at least once while several sources
// submit; afterwards the tables show every accepted record delivered once, in order. Longer runs:
// npm run chaos -- --duration 600 --seed <n>.
import { runChaos } from '../../scripts/chaos/run';
import { formatReport } from '../../scripts/chaos/report';
import { FAULT_KINDS } from '../../scripts/chaos/schedule';
import { createTestDb, type TestDb } from '../helpers/db';

jest.setTimeout(600_000);

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb('e2e_chaos');
});
afterAll(async () => {
  await db?.drop();
});

describe('chaos', () => {
  it('loses, duplicates and reorders nothing while workers, servers, connections and the API are killed', async () => {
    const report = await runChaos({ databaseUrl: db.url, pool: db.pool, seed: 42, durationS: 64, sources: 3, meanGapMs: 5_000, drainTimeoutS: 300 });
    process.stdout.write(`${formatReport(report)}\n`);
    expect(FAULT_KINDS.filter((k) => report.faults[k].injected === 0)).toEqual([]);
    expect(report.acknowledged).toBeGreaterThan(100);
    expect(report.lost).toEqual([]);
    expect(report.duplicates).toBe(0);
    expect(report.invariants).toEqual([]);
    expect(report.orderViolations).toEqual([]);
    expect(report.gaps).toBe(0);
    expect(report.delivered).toBe(report.accepted);
  });
});
