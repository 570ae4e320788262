// The five stage activities, built from their dependencies so tests can swap the work or the pool.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, log } from '@temporalio/activity';
import { FailureType } from '../contracts/failures';
import { STAGES, type Stage } from '../contracts/names';
import type { Pool } from '../db/pool';
import { defaultWork, type StageWork } from '../stages/work';
import type { GateNotifier } from '../temporal/notifier';
import { isRejection, markBlocked, runStage, type StageResult, type StageTask, type StageWriteDeps } from './stage-write';

export type { StageResult, StageTask } from './stage-write';

export interface StageActivityDeps {
  pool: Pool;
  /** The region this worker serves; its writes are fenced against that region's epoch. */
  region: string;
  work?: Partial<Record<Stage, StageWork>>;
  /** Simulated work time before each stage write (demos and tests). */
  delayMs?: number;
  /** Tests only: a pause inside each stage write transaction, after its fence check. */
  txDelayMs?: number;
  /** Wakes the record now first in line at the stage (the gate signal). */
  notify?: GateNotifier;
}

export function createStageActivities(deps: StageActivityDeps) {
  const writeDeps: StageWriteDeps = { pool: deps.pool, region: deps.region, work: { ...defaultWork, ...deps.work }, txDelayMs: deps.txDelayMs };
  const activity = (stage: Stage) => async (task: StageTask): Promise<StageResult> => {
    if (deps.delayMs) await sleep(deps.delayMs);
    let result: StageResult;
    try {
      result = await runStage(writeDeps, stage, task);
    } catch (err) {
      if (!isRejection(err)) throw err;
      if (await markBlocked(writeDeps, stage, task, err.message)) {
        log.warn('record rejected', { sourceId: task.sourceId, seq: task.seq, stage, reason: err.message });
        throw ApplicationFailure.create({ type: FailureType.RecordRejected, nonRetryable: true, message: err.message });
      }
      // Another attempt finished the stage meanwhile: this rejection is moot, report that write.
      result = await runStage(writeDeps, stage, task);
    }
    log.debug('stage written', { sourceId: task.sourceId, seq: task.seq, stage, epoch: task.epoch, outcome: result.outcome });
    // Signal the successor right after the commit (not from the workflow: that would add a
    // workflow task to every handoff). 'already' signals again: an earlier attempt may have
    // committed and died before signalling.
    if (deps.notify && (result.outcome === 'done' || result.outcome === 'already')) {
      const next = (result.watermarks[stage] ?? task.seq) + 1;
      if (next > task.seq) await deps.notify(task.sourceId, next, { watermarks: result.watermarks });
    }
    return result;
  };
  const acts = {} as Record<Stage, (task: StageTask) => Promise<StageResult>>;
  for (const stage of STAGES) acts[stage] = activity(stage);
  return acts;
}

export type StageActivities = ReturnType<typeof createStageActivities>;
