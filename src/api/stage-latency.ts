// The latency histograms of the API's /metrics: on each scrape, every stage write between the
// watermark seen last and the current one is observed. A watermark only moves over committed,
// gap-free rows, so each record is observed once per process, from the moment the process started.
import { Histogram, type Registry } from 'prom-client';
import type { Pool } from '../db/pool';
import { STAGES } from '../contracts/names';
import type { SourceWatermarks } from '../db/stats';
import { stageWrites, type StageRange } from '../db/metrics-queries';

/** At most this many rows per stage and source are observed per scrape; the rest next time. */
const TAIL_STEP = 1000;
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export class StageLatencies {
  private readonly endToEnd: Histogram;
  private readonly stageLatency: Histogram<'stage'>;
  /** Per stage and source: the watermark up to which writes have been observed. */
  private tail: Map<string, number> | undefined;

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

  /** Observes every stage write between the last seen watermark and now (the first call only remembers). */
  async observe(pool: Pool, sources: SourceWatermarks[]): Promise<void> {
    const first = !this.tail;
    const tail = (this.tail ??= new Map());
    for (const stage of STAGES) {
      const ranges: StageRange[] = [];
      for (const s of sources) {
        const key = `${stage}\u0000${s.sourceId}`;
        const now = s.watermarks[stage];
        const seen = tail.get(key);
        if (first || seen === undefined) {
          // A source created after the start is observed from its beginning.
          tail.set(key, first ? now : 0);
          if (first) continue;
        }
        const after = tail.get(key)!;
        if (now > after) ranges.push({ sourceId: s.sourceId, after, upTo: Math.min(now, after + TAIL_STEP) });
      }
      const rows = await stageWrites(pool, stage, ranges);
      for (const r of ranges) tail.set(`${stage}\u0000${r.sourceId}`, r.upTo);
      for (const row of rows) {
        this.stageLatency.observe({ stage }, Math.max(0, row.stage_s));
        if (stage === 'outbound') this.endToEnd.observe(Math.max(0, row.total_s));
      }
    }
  }
}
