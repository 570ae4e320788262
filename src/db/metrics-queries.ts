// Queries behind the pipeline metrics that count events of worker processes from Postgres.
import { STAGES, type Stage } from '../contracts/names';
import { SOURCE_COUNT_SQL, type DbTime } from './stats';
import { stageTable } from './stages';
import type { Pool } from './pool';

export interface SourceCounts {
  accepted: number;
  delivered: number;
  skipped: number;
  blocked: number;
}

/**
 * The first `limit` sources in order of creation, each with accepted (last seq), delivered (outbound
 * watermark minus the skipped below it), skipped and blocked now.
 */
export async function sourceCounts(pool: Pool, limit: number): Promise<(SourceCounts & { source_id: string })[]> {
  const { rows } = await pool.query<SourceCounts & { source_id: string }>(
    `SELECT s.source_id, s.last_seq::int AS accepted,
            (COALESCE(w.watermark, 0) - (SELECT count(*) FROM dead_letters d WHERE d.source_id = s.source_id AND d.seq <= COALESCE(w.watermark, 0)))::int AS delivered,
            (SELECT count(*) FROM dead_letters d WHERE d.source_id = s.source_id)::int AS skipped,
            (SELECT count(*) FROM records r WHERE r.source_id = s.source_id AND r.status = 'blocked')::int AS blocked
       FROM (SELECT * FROM sources ORDER BY created_at, source_id LIMIT $1) s
       LEFT JOIN watermarks w ON w.source_id = s.source_id AND w.stage = 'outbound'
      ORDER BY s.created_at, s.source_id`,
    [limit],
  );
  return rows;
}

/** The same counts over every source, aggregated in Postgres (no row per source leaves it). */
export async function totalCounts(pool: Pool): Promise<SourceCounts & { sources: number }> {
  const { rows } = await pool.query<SourceCounts & { sources: number }>(
    `SELECT (${SOURCE_COUNT_SQL}) AS sources,
            (SELECT COALESCE(sum(last_seq), 0) FROM sources)::float8 AS accepted,
            ((SELECT COALESCE(sum(watermark), 0) FROM watermarks WHERE stage = 'outbound')
             - (SELECT count(*) FROM dead_letters d JOIN watermarks w ON w.source_id = d.source_id AND w.stage = 'outbound' AND d.seq <= w.watermark))::float8 AS delivered,
            (SELECT count(*) FROM dead_letters)::float8 AS skipped,
            (SELECT count(*) FROM records WHERE status = 'blocked')::float8 AS blocked`,
  );
  return rows[0];
}

export async function fencingRefusals(pool: Pool) {
  const { rows } = await pool.query<{ region: string; stage: string; refusals: number }>(
    'SELECT region, stage, refusals::int AS refusals FROM fencing_refusals',
  );
  return rows;
}

/** Counts a refused write (its own transaction rolled back). */
export async function countFencingRefusal(pool: Pool, region: string, stage: string): Promise<void> {
  await pool.query(
    `INSERT INTO fencing_refusals (region, stage, refusals) VALUES ($1, $2, 1)
     ON CONFLICT (region, stage) DO UPDATE SET refusals = fencing_refusals.refusals + 1, last_at = now()`,
    [region, stage],
  );
}

export interface StageRange {
  sourceId: string;
  /** Exclusive. */
  after: number;
  /** Inclusive. */
  upTo: number;
}

/**
 * Rows a stage wrote for these seq ranges: seconds since the previous stage's write (acceptance for
 * inbound), and since acceptance. The ranges lie at or below the stage's watermark, so they are
 * committed and complete (skipped records have no row).
 */
export async function stageWrites(pool: Pool, stage: Stage, ranges: StageRange[]): Promise<{ stage_s: number; total_s: number }[]> {
  if (!ranges.length) return [];
  const i = STAGES.indexOf(stage);
  const prev = i > 0 ? stageTable(STAGES[i - 1]) : undefined;
  const { rows } = await pool.query<{ stage_s: number; total_s: number }>(
    `SELECT extract(epoch FROM t.written_at - ${prev ? 'COALESCE(p.written_at, r.accepted_at)' : 'r.accepted_at'})::float8 AS stage_s,
            extract(epoch FROM t.written_at - r.accepted_at)::float8 AS total_s
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(source_id, lo, hi)
       JOIN ${stageTable(stage)} t ON t.source_id = u.source_id AND t.seq > u.lo AND t.seq <= u.hi
       JOIN records r ON r.source_id = t.source_id AND r.seq = t.seq
       ${prev ? `LEFT JOIN ${prev} p ON p.source_id = t.source_id AND p.seq = t.seq` : ''}`,
    [ranges.map((r) => r.sourceId), ranges.map((r) => r.after), ranges.map((r) => r.upTo)],
  );
  return rows;
}

/**
 * Per source: the highest seq at or below `upTo` that the stage wrote by `before` (0: none). A stage
 * writes a source's records in seq order, so every later row of the source was written after.
 */
export async function lastWrittenBefore(
  pool: Pool,
  stage: Stage,
  before: DbTime,
  sources: { sourceId: string; upTo: number }[],
): Promise<Map<string, number>> {
  if (!sources.length) return new Map();
  const { rows } = await pool.query<{ source_id: string; seq: number | null }>(
    `SELECT u.source_id,
            (SELECT t.seq FROM ${stageTable(stage)} t
              WHERE t.source_id = u.source_id AND t.seq <= u.up_to AND t.written_at <= $3::timestamptz
              ORDER BY t.seq DESC LIMIT 1) AS seq
       FROM unnest($1::text[], $2::bigint[]) AS u(source_id, up_to)`,
    [sources.map((s) => s.sourceId), sources.map((s) => s.upTo), before],
  );
  return new Map(rows.map((r) => [r.source_id, r.seq ?? 0]));
}
