// Failed authentications counted per client address, in a fixed window per address. Only failures
// count: a valid token is checked and let through whatever its address did before (a publisher
// behind the same NAT as a guesser keeps working), and costs nothing here.

const MAX_ADDRESSES = 10_000;

export class FailureLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly maxFailures: number,
    readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a failure of `address`; returns the seconds to wait once it is over the limit, else 0. */
  fail(address: string): number {
    const now = this.now();
    let w = this.windows.get(address);
    if (!w || w.resetAt <= now) {
      this.evict(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(address, w);
    }
    w.count += 1;
    return w.count > this.maxFailures ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
  }

  // Bounded memory under a flood of addresses: expired windows go first, then everything.
  private evict(now: number): void {
    if (this.windows.size < MAX_ADDRESSES) return;
    for (const [a, w] of this.windows) if (w.resetAt <= now) this.windows.delete(a);
    if (this.windows.size >= MAX_ADDRESSES) this.windows.clear();
  }
}
