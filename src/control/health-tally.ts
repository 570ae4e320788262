// Counts the active region's failed health rounds toward an automatic failover. Right after this
// process starts, a region's workers may still be starting (loading their workflow bundle on a busy
// host takes seconds): a region not yet seen healthy is given a grace for its missing pollers, so
// that a slow start is not taken for an outage. An unreachable server counts at once, and so do
// missing pollers of a region seen healthy before.

export interface HealthRound {
  region: string;
  healthy: boolean;
  /** The namespace answered: only pollers were missing. */
  reachable: boolean;
}

export type Verdict = 'healthy' | 'failed' | 'starting';

export class HealthTally {
  private failures = 0;
  private readonly seenHealthy = new Set<string>();

  constructor(
    private readonly threshold: number,
    private readonly graceMs: number,
    private readonly startedAt: number,
  ) {}

  /** One round at `now` (ms, the clock of `startedAt`): its verdict, the failures in a row, and whether to fail over. */
  record(round: HealthRound, now: number): { verdict: Verdict; failures: number; failover: boolean } {
    if (round.healthy) {
      this.seenHealthy.add(round.region);
      this.failures = 0;
      return { verdict: 'healthy', failures: 0, failover: false };
    }
    if (round.reachable && !this.seenHealthy.has(round.region) && now - this.startedAt < this.graceMs) {
      return { verdict: 'starting', failures: this.failures, failover: false };
    }
    this.failures += 1;
    return { verdict: 'failed', failures: this.failures, failover: this.failures >= this.threshold };
  }

  /** After a switch: the count starts again for the new active region. */
  reset(): void {
    this.failures = 0;
  }
}
