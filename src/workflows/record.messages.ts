// Messages of recordWorkflow: signals and queries. Workflow-safe.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Stage } from '../names';
import type { Watermarks } from './gate';

/** From a predecessor (or the API after a skip): what it knows of the source's stage watermarks. */
export const gateSignal = defineSignal<[Watermarks]>('gate');
/** An operator fixed the cause of a block: run the stage again. */
export const retrySignal = defineSignal('retry');
/** An operator skipped the blocked record (the API already dead-lettered it): end. */
export const skipSignal = defineSignal('skip');

export type RecordPhase = 'waiting' | 'running' | 'blocked' | 'delivered' | 'skipped' | 'superseded';

export interface RecordState {
  sourceId: string;
  seq: number;
  phase: RecordPhase;
  stage: Stage | null;
  /** While waiting: the seq whose completion of `stage` this record waits for. */
  waitingFor: { seq: number; stage: Stage } | null;
  blocked: { stage: Stage; reason: string } | null;
  watermarks: Watermarks;
}
export const stateQuery = defineQuery<RecordState>('state');

export interface RecordWorkflowInput {
  sourceId: string;
  seq: number;
  region: string;
  epoch: number;
  /** First stage to run (recovery resumes a record where Postgres says it stopped). */
  startStage?: Stage;
  /** Watermarks already known (carried over continue-as-new). */
  watermarks?: Watermarks;
  /** Fallback re-check of the gate against Postgres, in case a signal was lost. */
  recheckSeconds?: number;
  activityTimeoutMs?: number;
  retryMaxIntervalMs?: number;
}

export type RecordOutcome = 'delivered' | 'skipped' | 'superseded';
export interface RecordWorkflowResult {
  outcome: RecordOutcome;
  stage?: Stage;
}
