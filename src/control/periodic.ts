// The control role's loops (the relay, the health rounds, the reconciler, retention, the lease):
// one tick at a time, the next one an interval after the last ended, until stop() (which waits for
// a tick in progress). A tick handles its own errors.
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: () => Promise<unknown>,
  ) {}

  /** The first tick at once (`now`), else after one interval. */
  start(opts: { now?: boolean } = {}): void {
    const run = async () => {
      if (this.stopped) return;
      await this.tick();
      if (!this.stopped) this.timer = setTimeout(() => void (this.running = run()), this.intervalMs);
    };
    if (opts.now) this.running = run();
    else this.timer = setTimeout(() => void (this.running = run()), this.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
