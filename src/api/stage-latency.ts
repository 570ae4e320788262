// The latency histograms of the API's /metrics: on each scrape, every stage write between the
// watermark seen last and the current one is observed. A watermark only moves over committed,
// gap-free rows, so each record is observed once per process, from the moment the process started.
// (Not at all, rarely: a write stamped before a read and committed after it, to a source let go.)
// Only the sources whose watermarks moved since the last scrape are read, and a source is kept in
// memory only until its writes are all observed: a scrape costs the work done since the last one.
import { Histogram, type Registry } from 'prom-client';
import type { Pool } from '../db/pool';
import { STAGES, type Stage } from '../contracts/names';
import { dbNow, movedWatermarks, type DbTime } from '../db/stats';
import { lastWrittenBefore, stageWrites, type StageRange } from '../db/metrics-queries';

/** At most this many rows per stage and source are observed per scrape; the rest next time. */
const TAIL_STEP = 1000;
/** A watermark's move is stamped at its transaction's start: moves this much older than the last read may commit after it. */
const COMMIT_MARGIN_MS = 30_000;
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export class StageLatencies {
  private readonly endToEnd: Histogram;
  private readonly stageLatency: Histogram<'stage'>;
  /** Per source not yet caught up: per stage, the seq up to which writes have been observed. */
  private readonly tail = new Map<string, Record<Stage, number>>();
  /** The database's time of the last read: what was written by then counts as seen. */
  private since: DbTime | undefined;

  constructor(registry: Registry) {
    this.endToEnd = new Histogram({
      name: 'pipeline_accept_to_delivered_seconds',
      help: 'from acceptance to delivery, records delivered since this process started',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.stageLatency = new Histogram({
      name: 'pipeline_stage_latency_seconds',
      help: "from the previous stage's write (acceptance for inbound) to this stage's write: gate wait, queueing and work",
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
  }

  /** Counts from now on: writes before this are history. */
  async start(pool: Pool): Promise<void> {
    this.since ??= await dbNow(pool);
  }

  /** Observes every stage write since the last call (the first call, without start(), only remembers when). */
  async observe(pool: Pool): Promise<void> {
    if (!this.since) return this.start(pool);
    const { at, sources } = await movedWatermarks(pool, this.since, COMMIT_MARGIN_MS, [...this.tail.keys()]);
    // A source not followed yet: its writes up to the last read were history, or seen before it was let go.
    const fresh = sources.filter((s) => !this.tail.has(s.sourceId));
    for (const s of fresh) this.tail.set(s.sourceId, { ...s.watermarks });
    for (const stage of STAGES) {
      const seeds = await lastWrittenBefore(
        pool,
        stage,
        this.since,
        fresh.map((s) => ({ sourceId: s.sourceId, upTo: s.watermarks[stage] })),
      );
      for (const s of fresh) this.tail.get(s.sourceId)![stage] = seeds.get(s.sourceId) ?? 0;
    }
    this.since = at;
    for (const stage of STAGES) {
      const ranges: StageRange[] = [];
      for (const s of sources) {
        const after = this.tail.get(s.sourceId)![stage];
        const now = s.watermarks[stage];
        if (now > after) ranges.push({ sourceId: s.sourceId, after, upTo: Math.min(now, after + TAIL_STEP) });
      }
      const rows = await stageWrites(pool, stage, ranges);
      for (const r of ranges) this.tail.get(r.sourceId)![stage] = r.upTo;
      for (const row of rows) {
        this.stageLatency.observe({ stage }, Math.max(0, row.stage_s));
        if (stage === 'outbound') this.endToEnd.observe(Math.max(0, row.total_s));
      }
    }
    // Caught up at every stage: let go (its next move brings it back).
    for (const s of sources) {
      const seen = this.tail.get(s.sourceId)!;
      if (STAGES.every((stage) => seen[stage] >= s.watermarks[stage])) this.tail.delete(s.sourceId);
    }
  }

  /** Sources followed now (for the tests of what stays bounded). */
  get followed(): number {
    return this.tail.size;
  }
}
