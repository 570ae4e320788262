import fc from 'fast-check';
import { FAULT_KINDS, planChaos } from '../../scripts/chaos/schedule';

describe('the chaos schedule', () => {
  it('is the same for the same seed and differs for another', () => {
    const opts = { durationMs: 120_000, meanGapMs: 5_000 };
    expect(planChaos({ seed: 42, ...opts })).toEqual(planChaos({ seed: 42, ...opts }));
    expect(planChaos({ seed: 43, ...opts })).not.toEqual(planChaos({ seed: 42, ...opts }));
  });

  it('stays inside the run, in time order, and injects every kind once there are enough faults (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1_000, max: 300_000 }), fc.integer({ min: 200, max: 20_000 }), (seed, durationMs, meanGapMs) => {
        const plan = planChaos({ seed, durationMs, meanGapMs });
        for (const [i, f] of plan.entries()) {
          expect(f.atMs).toBeGreaterThan(0);
          expect(f.atMs).toBeLessThan(durationMs);
          if (i > 0) expect(f.atMs).toBeGreaterThan(plan[i - 1].atMs);
          expect(f.holdMs).toBeGreaterThanOrEqual(1_000);
        }
        const rounds = Math.floor(plan.length / FAULT_KINDS.length);
        for (const kind of FAULT_KINDS) expect(plan.filter((f) => f.kind === kind).length).toBeGreaterThanOrEqual(rounds);
      }),
      { numRuns: 200 },
    );
  });
});
