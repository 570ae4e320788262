// Operator actions on blocked records: skip (dead-letter) and retry.
import { STAGES, type Stage } from '../contracts/names';
import type { Watermarks } from '../contracts/gate';
import { skippedRunEnd } from './skipped-run';
import { notifyGate } from './stages';
import { withTransaction, type Pool } from './pool';

export type OperatorResult =
  { ok: true; watermarks: Watermarks; stage: Stage } | { ok: false; reason: 'not_found' | 'not_blocked'; status?: string };

/**
 * Skips a blocked record: dead-letters it with its reason and moves every stage watermark that was
 * waiting on it past it, so later records go on. Watermark rows are locked before the record row,
 * the same order as a stage write, so the two never deadlock.
 */
export async function skipRecord(pool: Pool, sourceId: string, seq: number, reason: string): Promise<OperatorResult> {
  return withTransaction(pool, async (c) => {
    const wm = await c.query<{ stage: Stage; watermark: number }>(
      'SELECT stage, watermark FROM watermarks WHERE source_id = $1 ORDER BY stage FOR UPDATE',
      [sourceId],
    );
    const rec = await c.query<{ status: string; blocked_stage: Stage; blocked_reason: string }>(
      'SELECT status, blocked_stage, blocked_reason FROM records WHERE source_id = $1 AND seq = $2 FOR UPDATE',
      [sourceId, seq],
    );
    if (!rec.rows[0]) return { ok: false, reason: 'not_found' };
    const { status, blocked_stage: stage, blocked_reason } = rec.rows[0];
    if (status !== 'blocked') return { ok: false, reason: 'not_blocked', status };
    await c.query(`UPDATE records SET status = 'skipped', finished_at = now() WHERE source_id = $1 AND seq = $2`, [sourceId, seq]);
    await c.query(`INSERT INTO dead_letters (source_id, seq, stage, reason) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
      sourceId,
      seq,
      stage,
      [blocked_reason, reason].filter(Boolean).join(' / skipped: '),
    ]);
    // A webhook's failed calls of the record: nothing is tried any more.
    await c.query('DELETE FROM webhook_attempts WHERE source_id = $1 AND seq = $2', [sourceId, seq]);
    const next = await skippedRunEnd(c, sourceId, seq);
    const watermarks: Watermarks = {};
    for (const row of wm.rows) {
      watermarks[row.stage] = row.watermark;
      // Only stages where this record is next in line move now; the others move when its
      // predecessor finishes them (the stage write skips over skipped records).
      if (row.watermark === seq - 1 && STAGES.indexOf(row.stage) >= STAGES.indexOf(stage)) {
        await c.query('UPDATE watermarks SET watermark = $3, updated_at = now(), nudged_at = NULL WHERE source_id = $1 AND stage = $2', [
          sourceId,
          row.stage,
          next,
        ]);
        watermarks[row.stage] = next;
        await notifyGate(c, sourceId, row.stage, next);
      }
    }
    return { ok: true, watermarks, stage };
  });
}

/** What the retry's signal found, decided before the retry commits. */
export type RetryDelivery = 'signalled' | 'no_workflow';

/**
 * Unblocks a record so its stage runs again. `deliver` signals its workflow while the record row is
 * still locked and the change uncommitted: if the signal cannot be sent (Temporal down or hung) it
 * throws and nothing changes, so the operator sees the failure and no retry is half done. When the
 * record has no live workflow its epoch is cleared, and the relay starts a new run at the blocked stage.
 */
export async function retryRecord(
  pool: Pool,
  sourceId: string,
  seq: number,
  deliver: () => Promise<RetryDelivery> = async () => 'signalled',
): Promise<OperatorResult> {
  return withTransaction(pool, async (c) => {
    const rec = await c.query<{ status: string; blocked_stage: Stage }>(
      'SELECT status, blocked_stage FROM records WHERE source_id = $1 AND seq = $2 FOR UPDATE',
      [sourceId, seq],
    );
    if (!rec.rows[0]) return { ok: false, reason: 'not_found' };
    if (rec.rows[0].status !== 'blocked') return { ok: false, reason: 'not_blocked', status: rec.rows[0].status };
    await c.query(
      `UPDATE records SET status = 'processing', blocked_stage = NULL, blocked_reason = NULL WHERE source_id = $1 AND seq = $2`,
      [sourceId, seq],
    );
    const wm = await c.query<{ stage: Stage; watermark: number }>('SELECT stage, watermark FROM watermarks WHERE source_id = $1', [
      sourceId,
    ]);
    if ((await deliver()) === 'no_workflow') {
      await c.query('UPDATE records SET epoch = NULL WHERE source_id = $1 AND seq = $2', [sourceId, seq]);
    }
    return { ok: true, stage: rec.rows[0].blocked_stage, watermarks: Object.fromEntries(wm.rows.map((r) => [r.stage, r.watermark])) };
  });
}
