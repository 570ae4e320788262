// The gate's fallback: finds records that have been first in line at a stage for a while (their
// predecessor finished it, yet they did not move) and nudges them to re-check Postgres. Covers a
// lost signal without a timer in every workflow; also marks stuck records for the UI (Stage).
import type { Pool } from '../db/pool';
import { activeRegion } from '../db/regions';
import { readWatermarks } from '../db/stages';
import { claimStuckRecords } from '../db/relay-queries';
import type { GateNotifier } from '../temporal/notifier';

export async function sweepOnce(
  pool: Pool,
  notifierFor: (region: string) => Promise<GateNotifier>,
  afterSeconds: number,
  token: number | null,
  repeatSeconds = 300,
): Promise<number> {
  if (token === null) return 0;
  const region = await activeRegion(pool);
  const targets = await claimStuckRecords(pool, region.epoch, afterSeconds, repeatSeconds, token);
  if (!targets.length) return 0;
  const notify = await notifierFor(region.name);
  for (const t of targets) {
    await notify(t.source_id, t.seq, { watermarks: await readWatermarks(pool, t.source_id), nudge: true });
  }
  return targets.length;
}
