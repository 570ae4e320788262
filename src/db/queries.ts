// Read queries behind the API's GET routes.
import { STAGES, type RecordStatus, type Stage } from '../contracts/names';
import { WINDOW_STAGE } from '../contracts/gate';
import { stageTable } from './stages';
import type { Pool } from './pool';
import type { AttemptRow } from './webhooks';

/** A stage's row of a record, as json_build_object gives it (so `at` is timestamp text, not a Date). */
export interface StagePass {
  at: string;
  region: string;
  epoch: number;
}

/** A record with its delivery and, per stage, its stage row (null until it passed that stage). */
export type RecordRow = {
  record_id: string;
  status: RecordStatus;
  region: string | null;
  epoch: number | null;
  accepted_at: Date;
  blocked_stage: Stage | null;
  blocked_reason: string | null;
  delivered_at: Date | null;
  traceparent: string | null;
  /** A webhook destination's failed calls while the record still tries (null: none). */
  webhook: AttemptRow | null;
} & Record<Stage, StagePass | null>;

export async function getRecord(pool: Pool, sourceId: string, seq: number): Promise<RecordRow | undefined> {
  const { rows } = await pool.query<RecordRow>(
    `SELECT r.record_id, r.status, r.region, r.epoch, r.accepted_at, r.blocked_stage, r.blocked_reason,
            r.traceparent, d.delivered_at,
            (SELECT row_to_json(a) FROM (SELECT w.attempts, w.last_status, w.last_error, w.last_at, w.next_attempt_at
               FROM webhook_attempts w WHERE w.source_id = r.source_id AND w.seq = r.seq) a) AS webhook,
            ${STAGES.map(
              (s) => `(SELECT json_build_object('at', t.written_at, 'region', t.region, 'epoch', t.epoch)
               FROM ${stageTable(s)} t WHERE t.source_id = r.source_id AND t.seq = r.seq) AS ${s}`,
            ).join(',\n')}
       FROM records r LEFT JOIN deliveries d ON d.source_id = r.source_id AND d.seq = r.seq
      WHERE r.source_id = $1 AND r.seq = $2`,
    [sourceId, seq],
  );
  return rows[0];
}

export async function getSource(pool: Pool, sourceId: string) {
  const { rows } = await pool.query<{ last_seq: number; created_at: Date }>(
    'SELECT last_seq, created_at FROM sources WHERE source_id = $1',
    [sourceId],
  );
  if (!rows[0]) return undefined;
  const wm = await pool.query<{ stage: Stage; watermark: number }>('SELECT stage, watermark FROM watermarks WHERE source_id = $1', [
    sourceId,
  ]);
  const counts = await pool.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM records WHERE source_id = $1 GROUP BY status',
    [sourceId],
  );
  const blocked = await firstBlocked(pool, [sourceId]);
  return { source: rows[0], watermarks: wm.rows, counts: counts.rows, blocked: blocked.get(sourceId) };
}

/** Whether the source exists (one primary-key probe: an empty page must not count a source's records). */
export async function sourceExists(pool: Pool, sourceId: string): Promise<boolean> {
  const { rowCount } = await pool.query('SELECT 1 FROM sources WHERE source_id = $1', [sourceId]);
  return (rowCount ?? 0) > 0;
}

export async function listDeliveries(pool: Pool, sourceId: string, after: number, limit: number) {
  const { rows } = await pool.query<{
    id: number;
    seq: number;
    region: string;
    epoch: number;
    delivered_at: Date;
    output: unknown;
    record_id: string;
  }>(
    `SELECT d.id, d.seq, d.region, d.epoch, d.delivered_at, d.output, r.record_id
       FROM deliveries d JOIN records r ON r.source_id = d.source_id AND r.seq = d.seq
      WHERE d.source_id = $1 AND d.seq > $2 ORDER BY d.seq LIMIT $3`,
    [sourceId, after, limit],
  );
  return rows;
}

/**
 * Client ids and payload digests of some records of a source, by seq (for workflow summaries), and
 * the trace context each was accepted in (its workflow starts in that trace).
 */
export async function readIdentities(pool: Pool, sourceId: string, seqs: number[]) {
  const { rows } = await pool.query<{ seq: number; record_id: string; payload_hash: string; traceparent: string | null }>({
    name: 'read-identities',
    text: 'SELECT seq, record_id, payload_hash, traceparent FROM records WHERE source_id = $1 AND seq = ANY($2::bigint[])',
    values: [sourceId, seqs],
  });
  return new Map(rows.map((r) => [r.seq, { recordId: r.record_id, payloadHash: r.payload_hash, traceparent: r.traceparent }]));
}

export interface BlockedRow {
  source_id: string;
  seq: number;
  record_id: string;
  blocked_stage: string;
  blocked_reason: string | null;
}

/** The first blocked record of each of these sources (the one that holds the others up). */
export async function firstBlocked(pool: Pool, sourceIds: string[]): Promise<Map<string, BlockedRow>> {
  const { rows } = await pool.query<BlockedRow>(
    `SELECT DISTINCT ON (source_id) source_id, seq, record_id, blocked_stage, blocked_reason
       FROM records WHERE status = 'blocked' AND source_id = ANY($1::text[]) ORDER BY source_id, seq`,
    [sourceIds],
  );
  return new Map(rows.map((r) => [r.source_id, r]));
}

/**
 * Never-started records of a source inside its start window (windowEnd in contracts/gate.ts), in
 * seq order, and whether never-started ones wait beyond the window.
 */
export async function unstartedInWindow(pool: Pool, sourceId: string, window: number): Promise<{ seqs: number[]; beyond: boolean }> {
  // Named (prepared once per connection): a pass per inbound commit; parsing and planning it took
  // Postgres more than half of its CPU (docs/benchmarks.md, 2026-11-28 05:20).
  const { rows } = await pool.query<{ seq: number; beyond: boolean }>({
    name: 'unstarted-in-window',
    // The window's end as windowEnd (contracts/gate.ts) computes it: `window` past inbound's
    // watermark, or past the record before the source's first blocked one, whichever is lower.
    text: `WITH w AS (
       SELECT least(wm.watermark, coalesce(b.first - 1, wm.watermark)) + $2 AS bound
         FROM (SELECT watermark FROM watermarks WHERE source_id = $1 AND stage = $3) wm,
              (SELECT min(seq) AS first FROM records WHERE source_id = $1 AND status = 'blocked') b
     )
     SELECT r.seq, false AS beyond FROM records r, w
      WHERE r.source_id = $1 AND r.status = 'accepted' AND r.epoch IS NULL AND r.seq <= w.bound
     UNION ALL
     (SELECT r.seq, true FROM records r, w
       WHERE r.source_id = $1 AND r.status = 'accepted' AND r.epoch IS NULL AND r.seq > w.bound
       ORDER BY r.seq LIMIT 1)
     ORDER BY seq`,
    values: [sourceId, window, WINDOW_STAGE],
  });
  // The row beyond the window, if any, is the last.
  return { seqs: rows.filter((r) => !r.beyond).map((r) => r.seq), beyond: rows.some((r) => r.beyond) };
}
