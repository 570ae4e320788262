// One workflow per record: the five stages in order, each behind the per-source ordering gate.
// Deterministic code only: @temporalio/workflow APIs, no I/O, no clocks.
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { StageActivities, StageResult } from '../activities/stage';
import { FailureType, NON_RETRYABLE_FAILURES } from '../failures';
import {
  nextStage,
  recordWorkflowId,
  SA,
  STAGE_DELIVERED,
  STAGE_SKIPPED,
  STAGE_SUPERSEDED,
  STAGES,
  stageTaskQueue,
  type Stage,
} from '../names';
import { gateOpen, mergeWatermarks, waitingFor, type Watermarks } from './gate';
import {
  gateSignal,
  retrySignal,
  skipSignal,
  stateQuery,
  type RecordPhase,
  type RecordWorkflowInput,
  type RecordWorkflowResult,
} from './record.messages';

const MAX_RECHECK_SECONDS = 600;
/** Start afresh (continue-as-new) past this many history events, so a long wait stays bounded. */
const HISTORY_LIMIT = 2_000;

function stageProxies(input: RecordWorkflowInput): Record<Stage, StageActivities[Stage]> {
  const out = {} as Record<Stage, StageActivities[Stage]>;
  for (const stage of STAGES) {
    const acts = proxyActivities<StageActivities>({
      taskQueue: stageTaskQueue(stage),
      // Short: a killed worker's task is retried on another poller within seconds.
      startToCloseTimeout: input.activityTimeoutMs ?? 10_000,
      retry: {
        initialInterval: 200,
        backoffCoefficient: 2,
        maximumInterval: input.retryMaxIntervalMs ?? 5_000,
        // No maximumAttempts: dependency failures retry without limit; the record waits, order holds.
        nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
      },
      summary: `${stage} ${input.sourceId}#${input.seq}`,
    });
    out[stage] = acts[stage];
  }
  return out;
}

function failureType(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? undefined;
  return undefined;
}

export async function recordWorkflow(input: RecordWorkflowInput): Promise<RecordWorkflowResult> {
  const { sourceId, seq } = input;
  const acts = stageProxies(input);
  const recheckBase = input.recheckSeconds ?? 30;

  let known: Watermarks = input.watermarks ?? {};
  let phase: RecordPhase = 'running';
  let current: Stage | null = null;
  let blocked: { stage: Stage; reason: string } | null = null;
  let retryRequested = false;
  let skipRequested = false;
  // Set when the Stage search attribute was moved off the start value, so it is kept true.
  let stageFlagged = false;
  const pendingSignals: Promise<void>[] = [];

  setHandler(gateSignal, (wm) => {
    known = mergeWatermarks(known, wm);
  });
  setHandler(retrySignal, () => {
    retryRequested = true;
  });
  setHandler(skipSignal, () => {
    skipRequested = true;
  });
  setHandler(stateQuery, () => ({
    sourceId,
    seq,
    phase,
    stage: current,
    waitingFor: phase === 'waiting' && current ? { seq: waitingFor(known, current), stage: current } : null,
    blocked,
    watermarks: known,
  }));

  const setStageAttribute = (value: string) => {
    upsertSearchAttributes([{ key: SA.stage, value }]);
  };

  /** Wake the record that may now run the stage: the one right after the new watermark. */
  const signalSuccessor = (result: StageResult, stage: Stage) => {
    const target = (result.watermarks[stage] ?? seq) + 1;
    if (target <= seq) return;
    const handle = getExternalWorkflowHandle(recordWorkflowId(sourceId, target));
    // Not started yet is normal: it reads the watermarks from Postgres when it starts.
    pendingSignals.push(handle.signal(gateSignal, result.watermarks).catch(() => undefined));
  };

  const finish = async (outcome: RecordWorkflowResult['outcome'], attr: string, stage?: Stage) => {
    phase = outcome;
    setStageAttribute(attr);
    await Promise.all(pendingSignals);
    return { outcome, stage };
  };

  const startIndex = input.startStage ? STAGES.indexOf(input.startStage) : 0;
  for (const stage of STAGES.slice(startIndex)) {
    current = stage;
    let recheck = recheckBase;
    for (;;) {
      if (!gateOpen(known, stage, seq)) {
        phase = 'waiting';
        const opened = await condition(() => gateOpen(known, stage, seq), recheck * 1000);
        if (!opened) {
          // Slow fallback: the signal may have been lost; Postgres is the truth.
          if (!stageFlagged) {
            stageFlagged = true;
            setStageAttribute(stage);
          }
          recheck = Math.min(recheck * 2, MAX_RECHECK_SECONDS);
          if (workflowInfo().historyLength > HISTORY_LIMIT) {
            await Promise.all(pendingSignals);
            await continueAsNew<typeof recordWorkflow>({ ...input, startStage: stage, watermarks: known });
          }
        }
      }
      phase = 'running';
      let result: StageResult;
      try {
        result = await acts[stage]({ sourceId, seq, epoch: input.epoch });
      } catch (err) {
        const type = failureType(err);
        if (type === FailureType.Fenced) return finish('superseded', STAGE_SUPERSEDED, stage);
        if (type !== FailureType.RecordRejected) throw err;
        // Blocked: wait for an operator. Later records of the source wait behind it at this stage.
        phase = 'blocked';
        blocked = { stage, reason: err instanceof ActivityFailure ? (err.cause?.message ?? '') : '' };
        stageFlagged = true;
        setStageAttribute(stage);
        retryRequested = false;
        await condition(() => retryRequested || skipRequested);
        if (skipRequested) return finish('skipped', STAGE_SKIPPED, stage);
        blocked = null;
        continue;
      }
      known = mergeWatermarks(known, result.watermarks);
      if (result.outcome === 'skipped') return finish('skipped', STAGE_SKIPPED, stage);
      if (result.outcome === 'waiting') continue;
      // 'already': this stage committed before (e.g. the worker died before reporting), so the
      // successor may have missed its signal: send it again.
      signalSuccessor(result, stage);
      break;
    }
    if (stageFlagged) {
      const next = nextStage(stage);
      if (next) setStageAttribute(next);
    }
  }
  current = null;
  return finish('delivered', STAGE_DELIVERED);
}
