// The stage tables and the watermarks: the queries the stage write, the API and the other db
// modules share.
import type { Watermarks } from '../contracts/gate';
import type { Stage } from '../contracts/names';
import type { Pool, PoolClient } from './pool';

const TABLE: Record<Stage, string> = {
  inbound: 'stage_inbound',
  preprocess: 'stage_preprocess',
  core: 'stage_core',
  postprocess: 'stage_postprocess',
  outbound: 'stage_outbound',
};

export function stageTable(stage: Stage): string {
  return TABLE[stage];
}

export async function readWatermarks(db: Pool | PoolClient, sourceId: string): Promise<Watermarks> {
  const { rows } = await db.query<{ stage: Stage; watermark: number }>(
    'SELECT stage, watermark FROM watermarks WHERE source_id = $1',
    [sourceId],
  );
  const out: Watermarks = {};
  for (const r of rows) out[r.stage] = r.watermark;
  return out;
}
