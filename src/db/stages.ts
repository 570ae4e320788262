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
  const { rows } = await db.query<{ stage: Stage; watermark: number }>({
    name: 'read-watermarks',
    text: 'SELECT stage, watermark FROM watermarks WHERE source_id = $1',
    values: [sourceId],
  });
  const out: Watermarks = {};
  for (const r of rows) out[r.stage] = r.watermark;
  return out;
}

/**
 * The channel a stage write's commit wakes fast-path gate waiters on. One per stage: a process
 * hears only the stages it waits on (a stage worker its own, the API inbound), not every write.
 */
export function gateChannel(stage: Stage): string {
  return `pipeline_gate_${stage}`;
}

/** A stage's new watermark, as sent on its gateChannel (short keys: NOTIFY payloads are small). */
export interface GateNotice {
  s: string;
  t: Stage;
  w: number;
}

/** Delivered when the transaction commits, never if it rolls back. */
export async function notifyGate(c: PoolClient, sourceId: string, stage: Stage, watermark: number): Promise<void> {
  const notice: GateNotice = { s: sourceId, t: stage, w: watermark };
  await c.query('SELECT pg_notify($1, $2)', [gateChannel(stage), JSON.stringify(notice)]);
}
