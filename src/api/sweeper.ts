// The gate's fallback: finds records that have been first in line at a stage for a while (their
// predecessor finished it, yet they did not move) and nudges them to re-check Postgres. Covers a
// lost signal without a timer in every workflow; also marks stuck records for the UI (Stage).
import type { Pool } from '../db/pool';
import { activeRegion } from '../db/regions';
import { readWatermarks } from '../db/stages';
import type { GateNotifier } from '../temporal/notifier';

export interface NudgeTarget {
  source_id: string;
  seq: number;
}

/** Claims the records to nudge (at most once per `repeatSeconds` each) and returns them. */
export async function claimStuckRecords(pool: Pool, epoch: number, afterSeconds: number, repeatSeconds: number): Promise<NudgeTarget[]> {
  const { rows } = await pool.query<NudgeTarget>(
    `UPDATE watermarks w SET nudged_at = now()
       FROM records r
      WHERE r.source_id = w.source_id AND r.seq = w.watermark + 1
        AND r.status = 'processing' AND r.epoch = $1
        AND r.started_at < now() - make_interval(secs => $2)
        AND w.updated_at < now() - make_interval(secs => $2)
        AND (w.nudged_at IS NULL OR w.nudged_at < now() - make_interval(secs => $3))
    RETURNING w.source_id, r.seq`,
    [epoch, afterSeconds, repeatSeconds],
  );
  const unique = new Map(rows.map((r) => [`${r.source_id}\u0000${r.seq}`, r]));
  return [...unique.values()];
}

export async function sweepOnce(
  pool: Pool,
  notifierFor: (region: string) => Promise<GateNotifier>,
  afterSeconds: number,
  repeatSeconds = 300,
): Promise<number> {
  const region = await activeRegion(pool);
  const targets = await claimStuckRecords(pool, region.epoch, afterSeconds, repeatSeconds);
  if (!targets.length) return 0;
  const notify = await notifierFor(region.name);
  for (const t of targets) {
    await notify(t.source_id, t.seq, { watermarks: await readWatermarks(pool, t.source_id), nudge: true });
  }
  return targets.length;
}
