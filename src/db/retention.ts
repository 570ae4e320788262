// Retention's queries (migration 0010): which sources have records past the horizon, one batch of
// one source removed, and the oldest record kept.
import type { Pool } from './pool';

/** Sources with a finished record past the horizon, among the oldest `scan` such records. */
export async function retentionCandidates(pool: Pool, horizon: Date, scan: number): Promise<string[]> {
  const { rows } = await pool.query<{ source_id: string }>(
    `SELECT DISTINCT source_id FROM (
       SELECT source_id FROM records WHERE status IN ('delivered', 'skipped') AND finished_at < $1 ORDER BY finished_at LIMIT $2
     ) t`,
    [horizon, scan],
  );
  return rows.map((r) => r.source_id);
}

export interface RemovedBatch {
  recordsRemoved: number;
  rowsRemoved: number;
  retainedFrom: number;
}

/** One batch of a source's oldest finished records past the horizon, removed with their rows (retention_remove). */
export async function removeBatch(pool: Pool, sourceId: string, horizon: Date, batch: number, token: number): Promise<RemovedBatch> {
  const { rows } = await pool.query<{ records_removed: number; rows_removed: number; retained_from: number }>(
    'SELECT records_removed, rows_removed, retained_from::int FROM retention_remove($1, $2, $3, $4)',
    [sourceId, horizon, batch, token],
  );
  return { recordsRemoved: rows[0].records_removed, rowsRemoved: rows[0].rows_removed, retainedFrom: rows[0].retained_from };
}

/** How old the oldest record kept is, in seconds (null: none). One probe of records_accepted_at. */
export async function oldestRecordSeconds(pool: Pool): Promise<number | null> {
  const { rows } = await pool.query<{ s: number | null }>('SELECT extract(epoch FROM now() - min(accepted_at))::float8 AS s FROM records');
  return rows[0].s;
}
