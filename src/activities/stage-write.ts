// The heart of a stage: fence, fault, gate, read input, work, write, advance (one SQL function for the write).
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType, RecordRejectedError } from '../contracts/failures';
import { STAGES, type Stage } from '../contracts/names';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import type { Watermarks } from '../contracts/gate';
import { stageTable } from '../db/stages';
import { countFencingRefusal } from '../db/metrics-queries';
import type { JsonObject, StageWork } from '../stages/work';
import { storedDestination } from '../destinations/destination';
import { deliverByWebhook, type WebhookSettings } from './webhook-delivery';

export interface StageTask {
  sourceId: string;
  seq: number;
  /** The epoch the record's workflow was started in; a write from any other epoch is fenced. */
  epoch: number;
  /**
   * The workflow shows a webhook's failures (its Current Details): a failed call whose answer differs
   * from the last one comes back as `deferred` instead of failing. Absent in older workflows' tasks.
   */
  deferNewAnswers?: boolean;
}

/**
 * done: this call wrote the stage; already: an earlier attempt did; waiting: the predecessor has not
 * finished the stage yet (nothing written); skipped: an operator skipped the record; deferred: the
 * webhook call failed with a new answer (nothing written), to be made again after `deferred.delayMs`.
 */
export type StageOutcome = 'done' | 'already' | 'waiting' | 'skipped' | 'deferred';

export interface StageResult {
  outcome: StageOutcome;
  /** The source's watermarks as this transaction saw them (after its own write). */
  watermarks: Watermarks;
  /** outcome `deferred`: the endpoint's answer and when to call again. */
  deferred?: DeferredCall;
}

export interface DeferredCall {
  /** "<host> answered 503: ..." */
  error: string;
  attempts: number;
  delayMs: number;
}

/**
 * Fencing and fault check in one read. FOR SHARE makes a concurrent failover (which updates the
 * row) wait for this transaction, and this one see the new epoch if the failover committed first.
 * Returns whether the stage's dependency is down (injected fault): the caller fails only when it
 * would call it, so a record whose gate is closed waits for its predecessor, not for the fault.
 */
export async function checkFence(c: Pool | PoolClient, region: string, stage: Stage | null, epoch: number): Promise<{ faulted: boolean }> {
  const { rows } = await c.query<{ active: boolean; epoch: number; faulted: boolean }>(
    `SELECT r.active, r.epoch,
            EXISTS (SELECT 1 FROM faults f WHERE f.region = r.name AND f.stage = $2) AS faulted
       FROM regions r WHERE r.name = $1 FOR SHARE OF r`,
    [region, stage ?? ''],
  );
  const row = rows[0];
  if (!row || !row.active || row.epoch !== epoch) throw fenced(region, epoch, row);
  return { faulted: row.faulted };
}

function dependencyDown(stage: Stage, region: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.DependencyUnavailable,
    message: `${stage} dependency in ${region} is unavailable`,
  });
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
  /** Calls to sources' webhook destinations (outbound); without it, every source delivers to the table only. */
  webhooks?: WebhookSettings;
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

/** What `stage_write` (migration 0007) answers; `open`: the gate is open but no output was given. */
interface StageWriteRow {
  outcome: StageOutcome | 'fenced' | 'missing' | 'open';
  watermarks: Watermarks;
  wake: boolean;
  registered: boolean;
  fence_active: boolean | null;
  fence_epoch: number | null;
}

/** What a stage attempt reads first, without locks: the record, its gate, its input, the fault. */
interface StageRead {
  record_id: string;
  status: string;
  accepted_at: Date;
  watermark: number;
  input: JsonObject | null;
  faulted: boolean;
  /** outbound only: the source's destination, as stored. */
  destination?: unknown;
}

const READ_SQL = Object.fromEntries(
  STAGES.map((stage, i) => [
    stage,
    `SELECT r.record_id, r.status, r.accepted_at, w.watermark,
            ${i === 0 ? 'r.payload' : `(SELECT p.output FROM ${stageTable(STAGES[i - 1])} p WHERE p.source_id = r.source_id AND p.seq = r.seq)`} AS input,
            EXISTS (SELECT 1 FROM faults f WHERE f.region = $3 AND f.stage = $4) AS faulted
            ${stage === 'outbound' ? ', (SELECT s.destination FROM sources s WHERE s.source_id = r.source_id) AS destination' : ''}
       FROM records r JOIN watermarks w ON w.source_id = r.source_id AND w.stage = $4
      WHERE r.source_id = $1 AND r.seq = $2`,
  ]),
) as Record<Stage, string>;

/**
 * Both statements are named (prepared once per connection): parsing and planning them on every call
 * cost Postgres two thirds of the read's CPU and a sixth of the write's (docs/benchmarks.md,
 * 2026-11-28).
 *
 * Two round trips on the happy path: a read without locks (the input of a stage never changes once
 * written), the work, then `stage_write`, which re-checks fence, gate and record under their locks
 * and writes in one statement. With txDelayMs (tests) the same runs in a transaction held open
 * after a fence check, the zombie that failover must fence.
 */
async function writeStage(deps: StageWriteDeps, stage: Stage, task: StageTask, holdUpTo: number): Promise<StageWrite> {
  if (!deps.txDelayMs) return attemptStage(deps.pool, deps, stage, task, holdUpTo);
  return withTransaction(deps.pool, async (c) => {
    await checkFence(c, deps.region, stage, task.epoch);
    await new Promise((resolve) => setTimeout(resolve, deps.txDelayMs));
    return attemptStage(c, deps, stage, task, holdUpTo);
  });
}

async function attemptStage(
  db: Pool | PoolClient,
  deps: StageWriteDeps,
  stage: Stage,
  task: StageTask,
  holdUpTo: number,
): Promise<StageWrite> {
  const { sourceId, seq, epoch } = task;
  const call = async (output: JsonObject | null, on: Pool | PoolClient = db): Promise<StageWriteRow> => {
    const { rows } = await on.query<StageWriteRow>({
      name: 'stage-write',
      text: 'SELECT * FROM stage_write($1, $2, $3, $4, $5, $6, $7)',
      values: [deps.region, stage, sourceId, seq, epoch, output, holdUpTo],
    });
    const row = rows[0];
    if (row.outcome === 'fenced') {
      throw fenced(deps.region, epoch, row.fence_epoch === null ? undefined : { active: !!row.fence_active, epoch: row.fence_epoch });
    }
    if (row.outcome === 'missing') throw missing(sourceId, seq);
    return row;
  };
  const { rows } = await db.query<StageRead>({
    name: `stage-read-${stage}`,
    text: READ_SQL[stage],
    values: [sourceId, seq, deps.region, stage],
  });
  const read = rows[0];
  if (!read) throw missing(sourceId, seq);
  // Skipped, already done or behind a closed gate as read: the write decides under its locks.
  if (read.status === 'skipped' || read.watermark !== seq - 1) {
    const row = await call(null);
    if (row.outcome !== 'open') return answer(row);
  }
  if (read.faulted) {
    // The fence first, as before: a fenced region's record is superseded, not failing on a fault.
    await checkFence(db, deps.region, stage, epoch);
    throw dependencyDown(stage, deps.region);
  }
  if (read.input === null) throw new Error(`${STAGES[STAGES.indexOf(stage) - 1]} output of ${sourceId}#${seq} is missing`);
  const output = await deps.work[stage](read.input, {
    sourceId,
    seq,
    recordId: read.record_id,
    acceptedAt: read.accepted_at.toISOString(),
  });
  const destination = stage === 'outbound' && deps.webhooks ? storedDestination(read.destination) : undefined;
  if (destination?.type === 'webhook') {
    const call$ = { region: deps.region, sourceId, seq, epoch, recordId: read.record_id, output, deferNewAnswers: !!task.deferNewAnswers };
    const row = await deliverByWebhook(
      db,
      deps.webhooks!,
      destination,
      call$,
      (c, out) => call(out, c),
      (c) => checkFence(c, deps.region, stage, epoch),
    );
    if ('deferred' in row) return { outcome: 'deferred', watermarks: {}, deferred: row.deferred };
    return answer(row);
  }
  return answer(await call(output));
}

function answer(row: StageWriteRow): StageWrite {
  const outcome = row.outcome as StageOutcome;
  if (outcome === 'waiting') return { outcome, watermarks: row.watermarks, registered: row.registered };
  if (outcome === 'done') return { outcome, watermarks: row.watermarks, wake: row.wake };
  return { outcome, watermarks: row.watermarks };
}

function fenced(region: string, epoch: number, row: { active: boolean; epoch: number } | undefined): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.Fenced,
    nonRetryable: true,
    message: `region ${region} at epoch ${epoch} is no longer the active writer${row ? ` (the pipeline is at epoch ${row.epoch}, ${region} ${row.active ? 'active' : 'standby'})` : ''}`,
  });
}

function missing(sourceId: string, seq: number): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.RecordMissing,
    nonRetryable: true,
    message: `no checkpoint for ${sourceId}#${seq}`,
  });
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
