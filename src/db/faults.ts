// The faults table: dependency failures an operator injected per region and stage (a stage write
// reads it inside its fenced transaction, in activities/stage-write.ts).
import type { Pool } from './pool';

export interface FaultRow {
  region: string;
  stage: string;
  reason: string | null;
  created_at: Date;
}

export async function listFaults(pool: Pool): Promise<FaultRow[]> {
  const { rows } = await pool.query<FaultRow>('SELECT region, stage, reason, created_at FROM faults ORDER BY region, stage');
  return rows;
}

/** Fails the stage's dependency in the region; failing it again only replaces the reason. */
export async function injectFault(pool: Pool, region: string, stage: string, reason: string): Promise<void> {
  await pool.query(
    'INSERT INTO faults (region, stage, reason) VALUES ($1, $2, $3) ON CONFLICT (region, stage) DO UPDATE SET reason = EXCLUDED.reason',
    [region, stage, reason],
  );
}

export async function clearFault(pool: Pool, region: string, stage: string): Promise<void> {
  await pool.query('DELETE FROM faults WHERE region = $1 AND stage = $2', [region, stage]);
}
