// One workflow per record: the five stages in order, each behind the per-source ordering gate.
// Deterministic code only: @temporalio/workflow APIs, no I/O, no clocks.
//
// The gate: before a stage, the record waits until every earlier record of its source finished it.
// It learns that from the `gate` signal its predecessor's stage activity sends after committing,
// and once per run from Postgres (its first stage attempt reads the watermarks), so a signal sent
// before this workflow existed is never missed. The stage write itself re-checks the watermark
// in its transaction, so even a wrong signal could not break the order.
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { StageActivities, StageResult } from '../activities/stage';
import type { DeferredCall } from '../activities/stage-write';
import { FailureType, NON_RETRYABLE_FAILURES } from '../contracts/failures';
import { nextStage, SA, STAGE_DELIVERED, STAGE_SKIPPED, STAGE_SUPERSEDED, STAGES, stageTaskQueue, type Stage } from '../contracts/names';
import { gateOpen, mergeWatermarks, waitingFor, type Watermarks } from '../contracts/gate';
import { currentDetails } from './details';
import {
  gateSignal,
  retrySignal,
  skipSignal,
  stateQuery,
  type RecordPhase,
  type RecordWorkflowInput,
  type RecordWorkflowResult,
} from '../contracts/record.messages';

/** Start afresh (continue-as-new) past this many history events, or when the server suggests it, so a long wait stays bounded. */
const HISTORY_LIMIT = 2_000;

/**
 * Continue as new when the server suggests it (its history count or size limit is near), not only
 * past the configured history limit. Called only when the server suggests it, so histories without
 * a suggestion carry no marker and replay as before.
 */
export const PATCH_CONTINUE_AS_NEW_SUGGESTED = 'continue-as-new-suggested';

/**
 * A retry signal that arrives before the workflow handled its stage's rejection (the API sees the
 * record blocked as soon as the activity marks it) must not be thrown away: the flag is cleared
 * before each attempt instead of after a rejection. Runs that started before keep the old order.
 */
export const PATCH_KEEP_EARLY_RETRY = 'keep-early-retry';

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
  const historyLimit = input.historyLimit ?? HISTORY_LIMIT;

  let known: Watermarks = input.watermarks ?? {};
  let phase: RecordPhase = 'running';
  let current: Stage | null = null;
  let blocked: { stage: Stage; reason: string } | null = null;
  let retryRequested = false;
  let skipRequested = false;
  let recheck = false;
  // Postgres has been read in this run: from now on a closed gate waits for a signal.
  let readOnce = false;
  // The last attempt at the current stage answered `waiting`: this record is registered for a signal.
  let registered = false;
  // The Stage search attribute names the stage a record is stuck at (blocked, or nudged by the
  // sweeper); it is kept true from then on. Otherwise it is set only at start and at the end.
  let flagged: Stage | null = null;

  const flagStage = (stage: Stage) => {
    if (flagged === stage) return;
    flagged = stage;
    upsertSearchAttributes([{ key: SA.stage, value: stage }]);
  };

  // The UI's Current Details: written on each change of phase (or of what a waiting record waits
  // for); it costs no history event, so replay is unaffected.
  let fencedReason = '';
  // The webhook destination's last new answer while the record waits to call it again.
  let destination: DeferredCall | undefined;
  const show = () =>
    setCurrentDetails(
      currentDetails({
        sourceId,
        seq,
        phase,
        stage: current,
        waitingFor: current ? waitingFor(known, current) : undefined,
        reason: blocked?.reason ?? fencedReason,
        destination,
      }),
    );

  setHandler(gateSignal, ({ watermarks, nudge }) => {
    known = mergeWatermarks(known, watermarks);
    if (phase === 'waiting') show();
    if (nudge) {
      recheck = true;
      if (current) flagStage(current);
    }
  });
  setHandler(retrySignal, () => void (retryRequested = true));
  setHandler(skipSignal, () => void (skipRequested = true));
  setHandler(stateQuery, () => ({
    sourceId,
    seq,
    phase,
    stage: current,
    waitingFor: phase === 'waiting' && current ? { seq: waitingFor(known, current), stage: current } : null,
    blocked,
    watermarks: known,
  }));

  const finish = (outcome: RecordWorkflowResult['outcome'], attr: string, stage?: Stage): RecordWorkflowResult => {
    phase = outcome;
    show();
    upsertSearchAttributes([{ key: SA.stage, value: attr }]);
    return { outcome, stage };
  };

  const startIndex = input.startStage ? STAGES.indexOf(input.startStage) : 0;
  for (const stage of STAGES.slice(startIndex)) {
    current = stage;
    registered = false;
    for (;;) {
      // A fast-gate run waits only once registered; an older one on any gate it knows closed.
      if (readOnce && !gateOpen(known, stage, seq) && (registered || input.gate !== 'fast')) {
        phase = 'waiting';
        show();
        await condition(() => gateOpen(known, stage, seq) || recheck);
        recheck = false;
        const info = workflowInfo();
        if (info.historyLength > historyLimit || (info.continueAsNewSuggested && patched(PATCH_CONTINUE_AS_NEW_SUGGESTED))) {
          await continueAsNew<typeof recordWorkflow>({ ...input, startStage: stage, watermarks: known });
        }
      }
      phase = 'running';
      show();
      // A retry is for the rejection of this attempt (nothing but ourselves reads the flag before).
      retryRequested = false;
      let result: StageResult;
      try {
        // The flag only asks the outbound stage to report a webhook's new answers (replay-safe: an
        // activity's input is not compared on replay, and old histories never answer `deferred`).
        result = await acts[stage]({ sourceId, seq, epoch: input.epoch, ...(stage === 'outbound' ? { deferNewAnswers: true } : {}) });
      } catch (err) {
        const type = failureType(err);
        if (type === FailureType.Fenced) {
          fencedReason = err instanceof ActivityFailure ? (err.cause?.message ?? '') : '';
          return finish('superseded', STAGE_SUPERSEDED, stage);
        }
        if (type !== FailureType.RecordRejected) throw err;
        // Blocked: wait for an operator. Later records of the source wait behind it at this stage.
        phase = 'blocked';
        blocked = { stage, reason: err instanceof ActivityFailure ? (err.cause?.message ?? '') : '' };
        flagStage(stage);
        show();
        // patched() here, on the rejection path only, keeps the happy path's history free of markers.
        if (!patched(PATCH_KEEP_EARLY_RETRY)) retryRequested = false;
        await condition(() => retryRequested || skipRequested);
        if (skipRequested) return finish('skipped', STAGE_SKIPPED, stage);
        blocked = null;
        continue;
      }
      readOnce = true;
      known = mergeWatermarks(known, result.watermarks);
      if (result.outcome === 'skipped') return finish('skipped', STAGE_SKIPPED, stage);
      if (result.outcome === 'deferred' && result.deferred) {
        // The destination failed with a new answer: shown, then called again after the backoff.
        destination = result.deferred;
        show();
        await sleep(result.deferred.delayMs);
        const info = workflowInfo();
        if (info.historyLength > historyLimit || info.continueAsNewSuggested) {
          await continueAsNew<typeof recordWorkflow>({ ...input, startStage: stage, watermarks: known });
        }
        continue;
      }
      destination = undefined;
      registered = result.outcome === 'waiting';
      if (registered) continue;
      break;
    }
    const next = nextStage(stage);
    if (flagged && next) flagStage(next);
  }
  current = null;
  return finish('delivered', STAGE_DELIVERED);
}
