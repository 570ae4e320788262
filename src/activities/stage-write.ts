// The transactional heart of a stage: fence, fault, gate, read input, work, write, advance.
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType, RecordRejectedError } from '../contracts/failures';
import { STAGES, type Stage } from '../contracts/names';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import type { Watermarks } from '../contracts/gate';
import { skippedRunEnd } from '../db/skipped-run';
import { notifyGate, readWatermarks, registerWaiter, stageTable, takeWaiter } from '../db/stages';
import { countFencingRefusal } from '../db/metrics-queries';
import type { JsonObject, StageWork } from '../stages/work';

export interface StageTask {
  sourceId: string;
  seq: number;
  /** The epoch the record's workflow was started in; a write from any other epoch is fenced. */
  epoch: number;
}

/**
 * done: this call wrote the stage; already: an earlier attempt did; waiting: the predecessor has not
 * finished the stage yet (nothing written); skipped: an operator skipped the record.
 */
export type StageOutcome = 'done' | 'already' | 'waiting' | 'skipped';

export interface StageResult {
  outcome: StageOutcome;
  /** The source's watermarks as this transaction saw them (after its own write). */
  watermarks: Watermarks;
}

/**
 * Fencing and fault check in one read. FOR SHARE makes a concurrent failover (which updates the
 * row) wait for this transaction, and this one see the new epoch if the failover committed first.
 * Returns whether the stage's dependency is down (injected fault): the caller fails only when it
 * would call it, so a record whose gate is closed waits for its predecessor, not for the fault.
 */
export async function checkFence(c: PoolClient, region: string, stage: Stage | null, epoch: number): Promise<{ faulted: boolean }> {
  const { rows } = await c.query<{ active: boolean; epoch: number; faulted: boolean }>(
    `SELECT r.active, r.epoch,
            EXISTS (SELECT 1 FROM faults f WHERE f.region = r.name AND f.stage = $2) AS faulted
       FROM regions r WHERE r.name = $1 FOR SHARE OF r`,
    [region, stage ?? ''],
  );
  const row = rows[0];
  if (!row || !row.active || row.epoch !== epoch) {
    throw ApplicationFailure.create({
      type: FailureType.Fenced,
      nonRetryable: true,
      message: `region ${region} at epoch ${epoch} is no longer the active writer${row ? ` (the pipeline is at epoch ${row.epoch}, ${region} ${row.active ? 'active' : 'standby'})` : ''}`,
    });
  }
  return { faulted: row.faulted };
}

function dependencyDown(stage: Stage, region: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.DependencyUnavailable,
    message: `${stage} dependency in ${region} is unavailable`,
  });
}

/**
 * Moves the stage watermark from seq-1 to seq, and past any run of skipped records right after it;
 * wakes fast-path waiters on commit. `wake`: the record now first in line registered for a signal.
 */
export async function advance(c: PoolClient, sourceId: string, stage: Stage, seq: number): Promise<{ watermark: number; wake: boolean }> {
  const wm = await skippedRunEnd(c, sourceId, seq);
  await c.query(
    `UPDATE watermarks SET watermark = $3, updated_at = now(), nudged_at = NULL
      WHERE source_id = $1 AND stage = $2 AND watermark < $3`,
    [sourceId, stage, wm],
  );
  await notifyGate(c, sourceId, stage, wm);
  return { watermark: wm, wake: await takeWaiter(c, sourceId, stage, wm) };
}

/**
 * A stage write's answer. wake: the record next in line waits for this write's signal;
 * registered: this (waiting) record does.
 */
export interface StageWrite extends StageResult {
  wake?: boolean;
  registered?: boolean;
}

export interface StageWriteDeps {
  pool: Pool;
  region: string;
  work: Record<Stage, StageWork>;
  /** Tests only (STAGE_TX_DELAY_MS): hold the write transaction open this long after the fence check. */
  txDelayMs?: number;
}

/** Counts a fenced write for the API's metrics (the refused transaction itself rolled back). */
async function countIfFenced<T>(deps: StageWriteDeps, stage: Stage, write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === FailureType.Fenced) {
      // Best effort: the count must never turn a refusal into another failure.
      await countFencingRefusal(deps.pool, deps.region, stage).catch(() => undefined);
    }
    throw err;
  }
}

/**
 * One attempt at the stage. If the gate is closed and more than `holdUpTo` earlier records have not
 * finished the stage, the record registers as a waiter for its predecessor's signal (`registered`);
 * otherwise the caller may wait in process for the predecessor's commit. 0: always register.
 */
export async function runStage(deps: StageWriteDeps, stage: Stage, task: StageTask, holdUpTo = 0): Promise<StageWrite> {
  return countIfFenced(deps, stage, writeStage(deps, stage, task, holdUpTo));
}

async function writeStage(deps: StageWriteDeps, stage: Stage, task: StageTask, holdUpTo: number): Promise<StageWrite> {
  const { sourceId, seq, epoch } = task;
  return withTransaction(deps.pool, async (c) => {
    const { faulted } = await checkFence(c, deps.region, stage, epoch);
    // Tests only: a writer that passed its fence and stalls here (paused) is the zombie that
    // failover must fence; the lock FOR SHARE taken by the check is still held.
    if (deps.txDelayMs) await new Promise((resolve) => setTimeout(resolve, deps.txDelayMs));
    const gate = await c.query<{ watermark: number }>('SELECT watermark FROM watermarks WHERE source_id = $1 AND stage = $2 FOR UPDATE', [
      sourceId,
      stage,
    ]);
    const rec = await c.query<{ record_id: string; payload: JsonObject; status: string; accepted_at: Date }>(
      'SELECT record_id, payload, status, accepted_at FROM records WHERE source_id = $1 AND seq = $2 FOR UPDATE',
      [sourceId, seq],
    );
    if (!gate.rows[0] || !rec.rows[0]) {
      throw ApplicationFailure.create({
        type: FailureType.RecordMissing,
        nonRetryable: true,
        message: `no checkpoint for ${sourceId}#${seq}`,
      });
    }
    const wm = gate.rows[0].watermark;
    const record = rec.rows[0];
    if (record.status === 'skipped') return { outcome: 'skipped', watermarks: await readWatermarks(c, sourceId) };
    if (wm >= seq) return { outcome: 'already', watermarks: await readWatermarks(c, sourceId) };
    if (wm < seq - 1) {
      const registered = seq - 1 - wm > holdUpTo;
      if (registered) await registerWaiter(c, sourceId, stage, seq);
      return { outcome: 'waiting', watermarks: await readWatermarks(c, sourceId), registered };
    }

    if (faulted) throw dependencyDown(stage, deps.region);
    const input = await stageInput(c, stage, sourceId, seq, record.payload);
    const output = await deps.work[stage](input, {
      sourceId,
      seq,
      recordId: record.record_id,
      acceptedAt: record.accepted_at.toISOString(),
    });
    await c.query(
      `INSERT INTO ${stageTable(stage)} (source_id, seq, region, epoch, output) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (source_id, seq) DO NOTHING`,
      [sourceId, seq, deps.region, epoch, output],
    );
    if (stage === 'outbound') {
      await c.query(
        `INSERT INTO deliveries (source_id, seq, region, epoch, output) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (source_id, seq) DO NOTHING`,
        [sourceId, seq, deps.region, epoch, output],
      );
      await c.query(`UPDATE records SET status = 'delivered', finished_at = now() WHERE source_id = $1 AND seq = $2`, [sourceId, seq]);
    } else if (record.status !== 'processing') {
      await c.query(
        `UPDATE records SET status = 'processing', blocked_stage = NULL, blocked_reason = NULL
          WHERE source_id = $1 AND seq = $2`,
        [sourceId, seq],
      );
    }
    const { wake } = await advance(c, sourceId, stage, seq);
    return { outcome: 'done', watermarks: await readWatermarks(c, sourceId), wake };
  });
}

async function stageInput(c: PoolClient, stage: Stage, sourceId: string, seq: number, payload: JsonObject) {
  const index = STAGES.indexOf(stage);
  if (index === 0) return payload;
  const prev = STAGES[index - 1];
  const { rows } = await c.query<{ output: JsonObject }>(`SELECT output FROM ${stageTable(prev)} WHERE source_id = $1 AND seq = $2`, [
    sourceId,
    seq,
  ]);
  if (!rows[0]) throw new Error(`${prev} output of ${sourceId}#${seq} is missing`);
  return rows[0].output;
}

/**
 * Records a rejection: the record is blocked at the stage with its reason (fenced like a write).
 * Only while the record has not finished that stage: a late call from an attempt that timed out
 * must not block a record a newer attempt has already moved on. Locks the watermark row, then the
 * record row, the order of a stage write. Returns false when the stage was already finished.
 */
export async function markBlocked(deps: StageWriteDeps, stage: Stage, task: StageTask, reason: string): Promise<boolean> {
  const write = withTransaction(deps.pool, async (c) => {
    await checkFence(c, deps.region, null, task.epoch);
    const gate = await c.query<{ watermark: number }>('SELECT watermark FROM watermarks WHERE source_id = $1 AND stage = $2 FOR UPDATE', [
      task.sourceId,
      stage,
    ]);
    if ((gate.rows[0]?.watermark ?? 0) >= task.seq) return false;
    await c.query(
      `UPDATE records SET status = 'blocked', blocked_stage = $3, blocked_reason = $4
        WHERE source_id = $1 AND seq = $2 AND status IN ('accepted', 'processing', 'blocked')`,
      [task.sourceId, task.seq, stage, reason.slice(0, 1000)],
    );
    return true;
  });
  return countIfFenced(deps, stage, write);
}

export function isRejection(err: unknown): err is RecordRejectedError {
  return err instanceof RecordRejectedError;
}
