import fc from 'fast-check';
import { FAULT_KINDS, planChaos } from '../../scripts/chaos/schedule';
import { StallWatch } from '../../scripts/chaos/stall';

describe('the chaos schedule', () => {
  it('is the same for the same seed and differs for another', () => {
    const opts = { durationMs: 120_000, meanGapMs: 5_000 };
    expect(planChaos({ seed: 42, ...opts })).toEqual(planChaos({ seed: 42, ...opts }));
    expect(planChaos({ seed: 43, ...opts })).not.toEqual(planChaos({ seed: 42, ...opts }));
  });

  it('has the gray failures: a hung Temporal server, and a failover while the active one hangs', () => {
    expect(FAULT_KINDS).toEqual(expect.arrayContaining(['hang-temporal-server', 'failover-while-hung']));
  });

  it("covers every kind in the chaos test's run (72 s, seed 42, a fault every 5 s on average)", () => {
    const plan = planChaos({ seed: 42, durationMs: 72_000, meanGapMs: 5_000 });
    expect(FAULT_KINDS.filter((k) => !plan.some((f) => f.kind === k))).toEqual([]);
  });

  it('plans only the kinds asked for, in rounds (a focused run)', () => {
    const plan = planChaos({ seed: 7, durationMs: 60_000, meanGapMs: 5_000, kinds: ['failover-while-hung', 'hang-temporal-server'] });
    expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(['failover-while-hung', 'hang-temporal-server']));
    expect(() => planChaos({ seed: 7, durationMs: 60_000, meanGapMs: 5_000, kinds: [] })).toThrow();
  });

  it('stays inside the run, in time order, and injects every kind once there are enough faults (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1_000, max: 300_000 }),
        fc.integer({ min: 200, max: 20_000 }),
        (seed, durationMs, meanGapMs) => {
          const plan = planChaos({ seed, durationMs, meanGapMs });
          for (const [i, f] of plan.entries()) {
            expect(f.atMs).toBeGreaterThan(0);
            expect(f.atMs).toBeLessThan(durationMs);
            if (i > 0) expect(f.atMs).toBeGreaterThan(plan[i - 1].atMs);
            expect(f.holdMs).toBeGreaterThanOrEqual(1_000);
            // A server outage (dead or hung) lasts long enough for the health rounds to notice it.
            if (f.kind.includes('temporal-server') || f.kind === 'failover-while-hung') expect(f.holdMs).toBeGreaterThanOrEqual(3_000);
            // The operator fails over away from the hung server, so it must be the active one.
            if (f.kind === 'failover-while-hung') expect(f.region).toBe('active');
          }
          const rounds = Math.floor(plan.length / FAULT_KINDS.length);
          for (const kind of FAULT_KINDS) expect(plan.filter((f) => f.kind === kind).length).toBeGreaterThanOrEqual(rounds);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("the chaos run's stall watch", () => {
  it('measures the longest time a source had open records and finished none, even if it recovered later', () => {
    const w = new StallWatch(0);
    const at = (s: number, a: [number, number], b: [number, number]) =>
      w.sample(
        [
          { source: 'a', done: a[0], open: a[1] },
          { source: 'b', done: b[0], open: b[1] },
        ],
        s * 1000,
      );
    at(0, [0, 2], [0, 0]);
    at(1, [2, 0], [0, 0]); // a moves, b has nothing to do
    at(5, [2, 0], [0, 3]); // b has work from here
    at(20, [2, 0], [0, 9]); // ... and finishes none of it
    at(21, [2, 1], [1, 8]); // a later failover rescues it
    at(40, [2, 0], [9, 0]);
    expect(w.longest()).toEqual({ s: 15, source: 'b', fromS: 5 });
  });

  it('is zero while every source keeps moving', () => {
    const w = new StallWatch(0);
    for (let s = 0; s < 30; s++) w.sample([{ source: 'a', done: s, open: 3 }], s * 1000);
    expect(w.longest()).toEqual({ s: 0, source: null, fromS: 0 });
  });
});
