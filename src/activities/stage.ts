// The five stage activities, built from their dependencies so tests can swap the work or the pool.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, log } from '@temporalio/activity';
import { activityTimeoutMs } from './activity-timeout';
import { FailureType } from '../contracts/failures';
import { STAGES, type Stage } from '../contracts/names';
import type { GateListener } from '../db/gate-listener';
import type { Pool } from '../db/pool';
import { defaultWork, type StageWork } from '../stages/work';
import type { GateNotifier } from '../temporal/notifier';
import { inSpan, recordAttributes, tagActiveSpan } from '../telemetry/spans';
import type { WebhookSettings } from './webhook-delivery';
import { isRejection, markBlocked, runStage, type StageResult, type StageTask, type StageWrite, type StageWriteDeps } from './stage-write';

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
  /** Calls to webhook destinations (outbound); without it every source delivers to the table only. */
  webhooks?: WebhookSettings;
  /** Wakes the record now first in line at the stage (the gate signal). */
  notify?: GateNotifier;
  /** The fast path: wait in the activity for the predecessor's commit (see gate-listener.ts). */
  gate?: GateListener;
  /** How long an attempt waits in process before it registers for a signal instead (0: never waits). */
  gateWaitMs?: number;
  /** Waits in process only behind at most this many unfinished earlier records (bounds held slots). */
  gateWaitAhead?: number;
  /**
   * At most this many attempts of this process wait in process at once; further ones register for
   * the signal at once, so waiting attempts never hold all of the worker's slots.
   */
  gateWaitSlots?: number;
}

export function createStageActivities(deps: StageActivityDeps) {
  const writeDeps: StageWriteDeps = {
    pool: deps.pool,
    region: deps.region,
    work: { ...defaultWork, ...deps.work },
    txDelayMs: deps.txDelayMs,
    webhooks: deps.webhooks,
  };
  const activity =
    (stage: Stage) =>
    async (task: StageTask): Promise<StageResult> => {
      // On the activity's RunActivity span (tracing on): which record, stage, region and epoch.
      tagActiveSpan(recordAttributes({ sourceId: task.sourceId, seq: task.seq, stage, region: deps.region, epoch: task.epoch }));
      if (deps.delayMs) await sleep(deps.delayMs);
      let result: StageWrite;
      try {
        result = await attempt(stage, task);
      } catch (err) {
        if (!isRejection(err)) throw err;
        if (await markBlocked(writeDeps, stage, task, err.message)) {
          log.warn('record rejected', { sourceId: task.sourceId, seq: task.seq, stage, reason: err.message });
          throw ApplicationFailure.create({ type: FailureType.RecordRejected, nonRetryable: true, message: err.message });
        }
        // Another attempt finished the stage meanwhile: this rejection is moot, report that write.
        result = await write(stage, task);
      }
      log.debug('stage written', { sourceId: task.sourceId, seq: task.seq, stage, epoch: task.epoch, outcome: result.outcome });
      // Signal the successor right after the commit, and only if it registered as a waiter (the
      // rest wait in their activity, woken by NOTIFY). 'already' signals regardless: an earlier
      // attempt may have committed and died before signalling, or failed to signal (the notifier
      // throws, so that this activity is retried until the signal is sent).
      if (deps.notify && (result.wake || result.outcome === 'already')) {
        const next = (result.watermarks[stage] ?? task.seq) + 1;
        if (next > task.seq) await deps.notify(task.sourceId, next, { watermarks: result.watermarks });
      }
      return { outcome: result.outcome, watermarks: result.watermarks, ...(result.deferred ? { deferred: result.deferred } : {}) };
    };

  /**
   * Runs the stage; while the gate is closed and the record is close behind (gateWaitAhead), waits
   * in process for the predecessor's commit, up to gateWaitMs (and half the activity's timeout).
   * A record further behind, one still waiting at the bound, or one that finds gateWaitSlots
   * attempts waiting already, registers for the signal instead: a waiting activity holds a worker
   * slot, and a long queue of them would starve the records they wait for.
   */
  let waiting = 0;
  const attempt = async (stage: Stage, task: StageTask): Promise<StageWrite> => {
    const gate = deps.gate;
    const budget = Math.min(deps.gateWaitMs ?? 0, activityTimeoutMs() / 2);
    if (!gate || budget <= 0 || waiting >= (deps.gateWaitSlots ?? Infinity)) return write(stage, task);
    waiting += 1;
    try {
      return await waitAndWrite(gate, stage, task, Date.now() + budget);
    } finally {
      waiting -= 1;
    }
  };

  const waitAndWrite = async (gate: GateListener, stage: Stage, task: StageTask, deadline: number): Promise<StageWrite> => {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return write(stage, task);
      // Wait registered before the read: a commit right after it still wakes us.
      const wait = gate.waitFor(task.sourceId, stage, task.seq - 1, left);
      const result = await write(stage, task, deps.gateWaitAhead ?? 1).catch((err: unknown) => {
        wait.cancel();
        throw err;
      });
      if (result.outcome !== 'waiting' || result.registered) {
        wait.cancel();
        return result;
      }
      await inSpan('gate wait', { ...spanAttrs(stage, task), 'pipeline.gate.budget_ms': left }, () => wait.done);
    }
  };

  /** One stage transaction (the outbound one also writes the delivery), as a span when tracing. */
  const write = (stage: Stage, task: StageTask, holdUpTo?: number): Promise<StageWrite> =>
    inSpan(stage === 'outbound' ? 'delivery' : 'stage write', spanAttrs(stage, task), async () => {
      const result = await runStage(writeDeps, stage, task, holdUpTo);
      tagActiveSpan({ 'pipeline.outcome': result.outcome });
      return result;
    });
  const spanAttrs = (stage: Stage, task: StageTask) =>
    recordAttributes({ sourceId: task.sourceId, seq: task.seq, stage, region: deps.region, epoch: task.epoch });
  const acts = {} as Record<Stage, (task: StageTask) => Promise<StageResult>>;
  for (const stage of STAGES) acts[stage] = activity(stage);
  return acts;
}

export type StageActivities = ReturnType<typeof createStageActivities>;
