// The reconciler's reads and its one write: open records page by page, sources stalled behind
// their first record in line, the claim of a restart and the finished records whose run still runs.
import { STAGES, type RecordStatus, type Stage } from '../contracts/names';
import type { Pool } from './pool';

export type OpenStatus = Exclude<RecordStatus, 'delivered' | 'skipped'>;

export interface OpenRecord {
  source_id: string;
  seq: number;
  status: OpenStatus;
  blocked_stage: Stage | null;
  /** When its run was last claimed, as Postgres' text (exact): the reconciler's claim expects it unchanged. */
  started_at: string;
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
    `SELECT source_id, seq, status, blocked_stage, started_at::text FROM records
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

/** A record whose run the reconciler starts again, as it read it. */
export type RestartClaim = Pick<OpenRecord, 'source_id' | 'seq' | 'started_at'>;

/**
 * Claims records of `region`'s epoch whose run is gone, for a new run: only a record still open,
 * still at that epoch and still started when the reconciler read it (no other path claimed it
 * since), while the region is active at that epoch and `token` is the control lease.
 */
export async function claimRestarts(
  pool: Pool,
  records: readonly RestartClaim[],
  region: { name: string; epoch: number },
  token: number,
): Promise<{ source_id: string; seq: number }[]> {
  if (!records.length) return [];
  const { rows } = await pool.query<{ source_id: string; seq: number }>(
    `UPDATE records r SET started_at = clock_timestamp()
       FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u (source_id, seq, started_at)
      WHERE r.source_id = u.source_id AND r.seq = u.seq AND r.started_at = u.started_at::timestamptz AND r.epoch = $5
        AND r.status IN ('accepted', 'processing', 'blocked')
        AND EXISTS (SELECT 1 FROM regions g WHERE g.name = $4 AND g.active AND g.epoch = $5)
        AND control_lease_valid($6)
    RETURNING r.source_id, r.seq::int`,
    [records.map((r) => r.source_id), records.map((r) => r.seq), records.map((r) => r.started_at), region.name, region.epoch, token],
  );
  return rows;
}

/** Of these records, the ones finished (delivered or skipped) at least `graceSeconds` ago, with how. */
export async function finishedBefore(
  pool: Pool,
  records: readonly { source_id: string; seq: number }[],
  graceSeconds: number,
): Promise<{ source_id: string; seq: number; status: 'delivered' | 'skipped' }[]> {
  if (!records.length) return [];
  const { rows } = await pool.query<{ source_id: string; seq: number; status: 'delivered' | 'skipped' }>(
    `SELECT r.source_id, r.seq::int, r.status FROM records r JOIN unnest($1::text[], $2::bigint[]) AS u (source_id, seq)
         ON r.source_id = u.source_id AND r.seq = u.seq
      WHERE r.status IN ('delivered', 'skipped') AND r.finished_at < now() - make_interval(secs => $3)`,
    [records.map((r) => r.source_id), records.map((r) => r.seq), graceSeconds],
  );
  return rows;
}

/** Clears a block that the record's workflow has already moved past (a late rejection's mark), while `token` is the control lease. */
export async function clearStaleBlock(
  pool: Pool,
  sourceId: string,
  seq: number,
  region: string,
  epoch: number,
  token: number | null,
): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE records SET status = 'processing', blocked_stage = NULL, blocked_reason = NULL
      WHERE source_id = $1 AND seq = $2 AND status = 'blocked' AND epoch = $4
        AND EXISTS (SELECT 1 FROM regions WHERE name = $3 AND active AND epoch = $4)
        AND control_lease_valid($5)`,
    [sourceId, seq, region, epoch, token],
  );
  return (rowCount ?? 0) > 0;
}
