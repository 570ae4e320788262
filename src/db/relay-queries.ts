// The relay and the gate's sweeper: which records to start, which are marked started, which to nudge.
import { WINDOW_STAGE } from '../contracts/gate';
import type { Pool } from './pool';

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

export interface PendingStart {
  source_id: string;
  seq: number;
  epoch: number | null;
}

/**
 * Open records without a workflow in the current epoch, for the relay: never started ones (after
 * the submit path's own chance, and within their source's start window; 0: no window), and those
 * started at an older epoch.
 */
export async function pendingStarts(pool: Pool, epoch: number, limit: number, startWindow: number): Promise<PendingStart[]> {
  const { rows } = await pool.query<PendingStart>(
    `SELECT source_id, seq, epoch FROM records
      WHERE status IN ('accepted', 'processing')
        AND (epoch IS DISTINCT FROM $1)
        -- leave just-accepted records to the submit path's own start
        AND (epoch IS NOT NULL OR accepted_at < now() - interval '3 seconds')
        -- and never-started ones to their source's start window
        AND (epoch IS NOT NULL OR $3 = 0 OR seq <= $3 + (SELECT w.watermark FROM watermarks w
               WHERE w.source_id = records.source_id AND w.stage = $4))
      ORDER BY source_id, seq LIMIT $2`,
    [epoch, limit, startWindow, WINDOW_STAGE],
  );
  return rows;
}

/** Marks records started in a region at its epoch (never moving a record back to an older epoch). */
export async function markStarted(pool: Pool, records: readonly PendingStart[], region: { name: string; epoch: number }): Promise<void> {
  const bySource = new Map<string, number[]>();
  for (const r of records) bySource.set(r.source_id, [...(bySource.get(r.source_id) ?? []), r.seq]);
  for (const [sourceId, seqs] of bySource) {
    // Named, like the other statements each start runs: planning it cost more than running it.
    await pool.query({
      name: 'mark-started',
      text: `UPDATE records SET region = $3, epoch = $4, started_at = now(),
              status = CASE WHEN status = 'accepted' THEN 'processing' ELSE status END
        WHERE source_id = $1 AND seq = ANY($2::bigint[]) AND (epoch IS NULL OR epoch < $4)
          AND status IN ('accepted', 'processing')`,
      values: [sourceId, seqs, region.name, region.epoch],
    });
  }
}
