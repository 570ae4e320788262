// Liveness during a chaos run, not only at its end: the longest time a source had open records and
// finished none of them. A record stranded by a fault may be rescued by a later fault (another
// failover re-drives everything), which the end-of-run figures alone would never show.

export interface SourceSample {
  source: string;
  /** Records delivered or skipped so far. */
  done: number;
  /** Records accepted and not yet delivered or skipped. */
  open: number;
}

export interface Stall {
  /** Seconds without progress; 0 when every source kept moving. */
  s: number;
  source: string | null;
  /** When it began, in seconds from the start of the watch. */
  fromS: number;
}

export class StallWatch {
  private readonly last = new Map<string, { done: number; since: number }>();
  private worst: Stall = { s: 0, source: null, fromS: 0 };

  constructor(private readonly startedAt: number) {}

  /** One reading of every source at `now` (ms). */
  sample(rows: SourceSample[], now: number): void {
    for (const r of rows) {
      // Nothing to do is no stall: the clock starts when work is seen again.
      if (r.open === 0) {
        this.last.delete(r.source);
        continue;
      }
      const prev = this.last.get(r.source);
      if (!prev || r.done > prev.done) {
        this.last.set(r.source, { done: r.done, since: now });
        continue;
      }
      const s = (now - prev.since) / 1000;
      if (s > this.worst.s)
        this.worst = { s: Math.round(s * 10) / 10, source: r.source, fromS: Math.round((prev.since - this.startedAt) / 100) / 10 };
    }
  }

  longest(): Stall {
    return { ...this.worst };
  }
}
