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
  const { rows } = await db.query<{ stage: Stage; watermark: number }>('SELECT stage, watermark FROM watermarks WHERE source_id = $1', [
    sourceId,
  ]);
  const out: Watermarks = {};
  for (const r of rows) out[r.stage] = r.watermark;
  return out;
}

/** The channel a stage write's commit wakes fast-path gate waiters on, in every worker process. */
export const GATE_CHANNEL = 'pipeline_gate';

/** A stage's new watermark, as sent on GATE_CHANNEL (short keys: NOTIFY payloads are small). */
export interface GateNotice {
  s: string;
  t: Stage;
  w: number;
}

/** Delivered when the transaction commits, never if it rolls back. */
export async function notifyGate(c: PoolClient, sourceId: string, stage: Stage, watermark: number): Promise<void> {
  const notice: GateNotice = { s: sourceId, t: stage, w: watermark };
  await c.query('SELECT pg_notify($1, $2)', [GATE_CHANNEL, JSON.stringify(notice)]);
}

/**
 * Registers `seq` as waiting at `stage` for a signal (the slow path). Called under the watermark
 * row's lock, like takeWaiter: the registration and the predecessor's advance never miss each other.
 */
export async function registerWaiter(c: PoolClient, sourceId: string, stage: Stage, seq: number): Promise<void> {
  await c.query('INSERT INTO gate_waiters (source_id, stage, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [sourceId, stage, seq]);
}

/**
 * After the watermark moved to `watermark`: drops the registrations it settled, and says whether
 * the record now first in line (watermark + 1) registered, so that it needs the gate signal.
 */
export async function takeWaiter(c: PoolClient, sourceId: string, stage: Stage, watermark: number): Promise<boolean> {
  const { rows } = await c.query<{ seq: number }>(
    'DELETE FROM gate_waiters WHERE source_id = $1 AND stage = $2 AND seq <= $3 RETURNING seq',
    [sourceId, stage, watermark + 1],
  );
  return rows.some((r) => r.seq === watermark + 1);
}
