// The relay and the gate's sweeper: which records to start, which are marked started, which to nudge.
import { WINDOW_STAGE } from '../contracts/gate';
import { STAGES } from '../contracts/names';
import type { Pool } from './pool';

export interface NudgeTarget {
  source_id: string;
  seq: number;
}

/** Claims the records to nudge (at most once per `repeatSeconds` each; token: while it is the control lease) and returns them. */
export async function claimStuckRecords(
  pool: Pool,
  epoch: number,
  afterSeconds: number,
  repeatSeconds: number,
  token: number | null,
): Promise<NudgeTarget[]> {
  const { rows } = await pool.query<NudgeTarget>(
    `UPDATE watermarks w SET nudged_at = now()
       FROM records r
      WHERE r.source_id = w.source_id AND r.seq = w.watermark + 1
        AND r.status = 'processing' AND r.epoch = $1
        AND r.started_at < now() - make_interval(secs => $2)
        AND w.updated_at < now() - make_interval(secs => $2)
        AND (w.nudged_at IS NULL OR w.nudged_at < now() - make_interval(secs => $3))
        AND control_lease_valid($4)
    RETURNING w.source_id, r.seq`,
    [epoch, afterSeconds, repeatSeconds, token],
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
 * `behind (source_id, done, window_from, last_seq)`: the sources with an unfinished record, with
 * their outbound watermark (every record up to it is finished) and the start window's stage's.
 * A read of the records without a workflow visits these sources and, in each, only the seqs past
 * `done`: a cost that follows the sources and their open records, whatever the planner's
 * statistics say. (A loose index scan of the open records was cheaper with fresh statistics and
 * took 4 s a pass with the statistics of an empty table, right after a bulk submit.)
 */
export const SOURCES_BEHIND = `behind AS MATERIALIZED (
       SELECT s.source_id, lo.watermark AS done, win.watermark AS window_from, s.last_seq
         FROM sources s
         JOIN watermarks lo ON lo.source_id = s.source_id AND lo.stage = '${STAGES[STAGES.length - 1]}'
         JOIN watermarks win ON win.source_id = s.source_id AND win.stage = '${WINDOW_STAGE}'
        WHERE s.last_seq > lo.watermark
     )`;

/**
 * Open records without a workflow in the current epoch, for the relay: never started ones (after
 * the submit path's own chance, and within their source's start window; 0: no window), and those
 * started at an older epoch. Parameters: epoch, limit, window.
 *
 * Read every RELAY_INTERVAL_MS, so it visits each source behind (SOURCES_BEHIND) up to its window's
 * end, and the records of other epochs, never the backlog waiting past the windows: filtering every
 * open record instead cost half a second per pass at 100 sources x 1,000.
 */
export const PENDING_STARTS_SQL = `WITH ${SOURCES_BEHIND}
     SELECT source_id, seq, epoch FROM (
       SELECT u.source_id, u.seq, u.epoch
         FROM behind s
         -- the source's window end, as windowEnd (contracts/gate.ts) computes it; no window: no end
         CROSS JOIN LATERAL (
              SELECT CASE WHEN $3 = 0 THEN s.last_seq ELSE least(s.window_from, coalesce(
                (SELECT min(b.seq) - 1 FROM records b WHERE b.source_id = s.source_id AND b.status = 'blocked'), s.window_from)) + $3 END AS bound) wb
         -- a subquery with a LIMIT is not merged into the join: the seq range stays an index condition
         CROSS JOIN LATERAL (
              SELECT r.source_id, r.seq, r.epoch FROM records r
               WHERE r.source_id = s.source_id AND r.seq > s.done AND r.seq <= wb.bound
                 AND r.status IN ('accepted', 'processing') AND r.epoch IS NULL
                 -- leave just-accepted records to the submit path's own start
                 AND r.accepted_at < now() - interval '3 seconds'
               ORDER BY r.seq LIMIT $2) u
       UNION ALL
       -- started at an older (or, after a switch back, a newer) epoch, in records_open_epoch's order
       (SELECT source_id, seq, epoch FROM records
         WHERE status IN ('accepted', 'processing') AND epoch < $1 ORDER BY epoch, source_id, seq LIMIT $2)
       UNION ALL
       (SELECT source_id, seq, epoch FROM records
         WHERE status IN ('accepted', 'processing') AND epoch > $1 ORDER BY epoch, source_id, seq LIMIT $2)
     ) pending
     ORDER BY source_id, seq LIMIT $2`;

export async function pendingStarts(pool: Pool, epoch: number, limit: number, startWindow: number): Promise<PendingStart[]> {
  const { rows } = await pool.query<PendingStart>(PENDING_STARTS_SQL, [epoch, limit, startWindow]);
  return rows;
}

/** A record this process claimed to start: its key, and what it was before the claim (to give it back). */
export interface ClaimedStart extends PendingStart {
  prevRegion: string | null;
  prevStatus: 'accepted' | 'processing';
  /** Timestamps as Postgres' text (microseconds kept): a claim is recognised by its exact start time. */
  prevStartedAt: string | null;
  claimedAt: string;
}

/**
 * Claims records to start in `region` at its epoch: the claim is the start's precondition, so no two
 * processes (and no two paths of one) start the same record at the same epoch. A record is claimed
 * only while it is open, was never started or started at an older epoch, the region is active at
 * that epoch, and (token given) the control lease is still this token. Returns what was claimed,
 * with each record's epoch before the claim (null: never started), which decides the start's
 * conflict policy.
 */
export async function claimStarts(
  pool: Pool,
  records: readonly { source_id: string; seq: number }[],
  region: { name: string; epoch: number },
  token: number | null,
): Promise<ClaimedStart[]> {
  if (!records.length) return [];
  // Named, like the other statements each start runs: planning it cost more than running it.
  const { rows } = await pool.query<ClaimedStart>({
    name: 'claim-starts',
    text: `WITH want AS (
             SELECT r.source_id, r.seq, r.epoch, r.region, r.status, r.started_at
               FROM records r JOIN unnest($1::text[], $2::bigint[]) AS u (source_id, seq) ON r.source_id = u.source_id AND r.seq = u.seq
              WHERE (r.epoch IS NULL OR r.epoch < $4) AND r.status IN ('accepted', 'processing')
                AND EXISTS (SELECT 1 FROM regions g WHERE g.name = $3 AND g.active AND g.epoch = $4)
                AND control_lease_valid($5)
              ORDER BY r.source_id, r.seq
                FOR UPDATE OF r SKIP LOCKED
           )
           UPDATE records r SET region = $3, epoch = $4, started_at = clock_timestamp(),
                  status = CASE WHEN r.status = 'accepted' THEN 'processing' ELSE r.status END
             FROM want w
            WHERE r.source_id = w.source_id AND r.seq = w.seq
        RETURNING r.source_id, r.seq::int, w.epoch::int, w.region AS "prevRegion", w.status AS "prevStatus",
                  w.started_at::text AS "prevStartedAt", r.started_at::text AS "claimedAt"`,
    values: [records.map((r) => r.source_id), records.map((r) => r.seq), region.name, region.epoch, token],
  });
  return rows;
}

/**
 * Gives back claims whose start failed (Temporal down, the lease lost before the start): each record
 * returns to what it was, so the relay starts it again. Only a claim still as this process made it
 * is given back (no one claimed it since).
 */
export async function releaseClaims(pool: Pool, claims: readonly ClaimedStart[], epoch: number): Promise<void> {
  if (!claims.length) return;
  await pool.query(
    `UPDATE records r SET epoch = u.epoch, region = u.region, status = u.status, started_at = u.started_at::timestamptz
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
            AS u (source_id, seq, epoch, region, status, started_at, claimed_at)
      WHERE r.source_id = u.source_id AND r.seq = u.seq AND r.epoch = $8 AND r.started_at = u.claimed_at::timestamptz
        AND r.status IN ('accepted', 'processing')`,
    [
      claims.map((c) => c.source_id),
      claims.map((c) => c.seq),
      claims.map((c) => c.epoch),
      claims.map((c) => c.prevRegion),
      claims.map((c) => c.prevStatus),
      claims.map((c) => c.prevStartedAt),
      claims.map((c) => c.claimedAt),
      epoch,
    ],
  );
}

/** Which of these records are finished (delivered or skipped): a start refused for a closed run of one of them is not needed. */
export async function finishedAmong(pool: Pool, records: readonly { source_id: string; seq: number }[]): Promise<Set<string>> {
  if (!records.length) return new Set();
  const { rows } = await pool.query<{ source_id: string; seq: number }>(
    `SELECT r.source_id, r.seq::int FROM records r JOIN unnest($1::text[], $2::bigint[]) AS u (source_id, seq)
         ON r.source_id = u.source_id AND r.seq = u.seq
      WHERE r.status IN ('delivered', 'skipped')`,
    [records.map((r) => r.source_id), records.map((r) => r.seq)],
  );
  return new Set(rows.map((r) => `${r.source_id}\u0000${r.seq}`));
}
