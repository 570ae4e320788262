import { HealthTally } from '../../src/control/health-tally';

const up = { region: 'east', healthy: true, reachable: true };
const noPollers = { region: 'east', healthy: false, reachable: true };
const unreachable = { region: 'east', healthy: false, reachable: false };

describe('the health tally', () => {
  it("gives a region's missing pollers a grace after start until it is first seen healthy (defect: a slow start failed over)", () => {
    const tally = new HealthTally(3, 30_000, 0);
    for (const t of [2_000, 4_000, 6_000])
      expect(tally.record(noPollers, t)).toEqual({ verdict: 'starting', failures: 0, failover: false });
    expect(tally.record(up, 8_000).verdict).toBe('healthy');
  });

  it('counts missing pollers at once for a region seen healthy before, and fails over at the threshold', () => {
    const tally = new HealthTally(3, 30_000, 0);
    tally.record(up, 1_000);
    expect(tally.record(noPollers, 2_000)).toEqual({ verdict: 'failed', failures: 1, failover: false });
    expect(tally.record(noPollers, 3_000)).toEqual({ verdict: 'failed', failures: 2, failover: false });
    expect(tally.record(noPollers, 4_000)).toEqual({ verdict: 'failed', failures: 3, failover: true });
  });

  it('counts an unreachable server at once, grace or not', () => {
    const tally = new HealthTally(2, 30_000, 0);
    expect(tally.record(unreachable, 1_000)).toEqual({ verdict: 'failed', failures: 1, failover: false });
    expect(tally.record(unreachable, 2_000)).toEqual({ verdict: 'failed', failures: 2, failover: true });
  });

  it('counts missing pollers once the grace has passed, even for a region never seen healthy', () => {
    const tally = new HealthTally(1, 30_000, 0);
    expect(tally.record(noPollers, 29_999).verdict).toBe('starting');
    expect(tally.record(noPollers, 30_000)).toEqual({ verdict: 'failed', failures: 1, failover: true });
  });

  it('starts counting again after a healthy round or a switch', () => {
    const tally = new HealthTally(3, 0, 0);
    tally.record(noPollers, 1);
    tally.record(noPollers, 2);
    expect(tally.record(up, 3).failures).toBe(0);
    tally.record(noPollers, 4);
    tally.reset();
    expect(tally.record(noPollers, 5).failures).toBe(1);
  });
});
