// The reconciler's reads and its one write: open records page by page, sources stalled behind
// their first record in line, and the restart stamp (fenced by the active epoch).
import { STAGES, type RecordStatus, type Stage } from '../contracts/names';
import type { Pool } from './pool';

export type OpenStatus = Exclude<RecordStatus, 'delivered' | 'skipped'>;

export interface OpenRecord {
  source_id: string;
  seq: number;
  status: OpenStatus;
  blocked_stage: Stage | null;
}

/** Keyset page of the open records started at `epoch` (and at least `graceSeconds` ago), after `after`. */
export async function openRecordsPage(
  pool: Pool,
  epoch: number,
  after: { sourceId: string; seq: number } | null,
  limit: number,
  graceSeconds: number,
): Promise<OpenRecord[]> {
  const { rows } = await pool.query<OpenRecord>(
    `SELECT source_id, seq, status, blocked_stage FROM records
      WHERE status IN ('accepted', 'processing', 'blocked') AND epoch = $1
        AND started_at < now() - make_interval(secs => $2)
        AND (source_id, seq) > ($3, $4)
      ORDER BY source_id, seq LIMIT $5`,
    [epoch, graceSeconds, after?.sourceId ?? '', after?.seq ?? 0, limit],
  );
  return rows;
}

export interface StalledRecord {
  source_id: string;
  seq: number;
  /** The first stage the record has not finished while it is first in line there. */
  stage: Stage;
  status: OpenStatus;
  blocked_reason: string | null;
  epoch: number | null;
  idle_seconds: number;
}

/**
 * Per source, the record first in line at its lowest stage when neither that stage's watermark nor
 * the record moved for `afterSeconds`: a source that makes no progress, whatever the reason.
 */
export async function stalledRecords(pool: Pool, afterSeconds: number, limit: number): Promise<StalledRecord[]> {
  const { rows } = await pool.query<StalledRecord>(
    `SELECT DISTINCT ON (w.source_id) w.source_id, r.seq, w.stage, r.status, r.blocked_reason, r.epoch,
            floor(extract(epoch FROM now() - greatest(w.updated_at, coalesce(r.started_at, r.accepted_at))))::int AS idle_seconds
       FROM watermarks w JOIN records r ON r.source_id = w.source_id AND r.seq = w.watermark + 1
      WHERE r.status IN ('accepted', 'processing', 'blocked')
        AND w.updated_at < now() - make_interval(secs => $1)
        AND coalesce(r.started_at, r.accepted_at) < now() - make_interval(secs => $1)
      ORDER BY w.source_id, array_position($2::text[], w.stage)
      LIMIT $3`,
    [afterSeconds, STAGES, limit],
  );
  return rows;
}

/** Marks records whose run the reconciler started again (only while `region` is active at `epoch`). */
export async function markRestarted(pool: Pool, sourceId: string, seqs: number[], region: string, epoch: number): Promise<void> {
  await pool.query(
    `UPDATE records SET started_at = now()
      WHERE source_id = $1 AND seq = ANY($2::bigint[]) AND epoch = $4
        AND status IN ('accepted', 'processing', 'blocked')
        AND EXISTS (SELECT 1 FROM regions WHERE name = $3 AND active AND epoch = $4)`,
    [sourceId, seqs, region, epoch],
  );
}

/** Clears a block that the record's workflow has already moved past (a late rejection's mark). */
export async function clearStaleBlock(pool: Pool, sourceId: string, seq: number, region: string, epoch: number): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE records SET status = 'processing', blocked_stage = NULL, blocked_reason = NULL
      WHERE source_id = $1 AND seq = $2 AND status = 'blocked' AND epoch = $4
        AND EXISTS (SELECT 1 FROM regions WHERE name = $3 AND active AND epoch = $4)`,
    [sourceId, seq, region, epoch],
  );
  return (rowCount ?? 0) > 0;
}
