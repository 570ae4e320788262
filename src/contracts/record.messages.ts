// Messages of recordWorkflow: its signals and queries, its input and result. Workflow-safe: the API,
// the activities and the workflow share these definitions.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Stage } from './names';
import type { Watermarks } from './gate';

export interface GateMessage {
  /** What the sender knows of the source's stage watermarks (read from Postgres after its write). */
  watermarks: Watermarks;
  /** From the API's sweeper: this record has been first in line for a while; check Postgres again. */
  nudge?: boolean;
}
/** From the predecessor's stage activity, or the API (after a skip, or as the sweeper's nudge). */
export const gateSignal = defineSignal<[GateMessage]>('gate');
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
  activityTimeoutMs?: number;
  /** Continue-as-new past this many history events (default 2000; tests set it low). */
  historyLimit?: number;
  retryMaxIntervalMs?: number;
  /**
   * 'fast': the stage activities wait for a predecessor in process and register the record when
   * they give up, so the workflow waits for a signal only after a `waiting` answer. Set by every
   * start since the fast path; absent in runs started before, which keep waiting on any gate their
   * watermarks show closed. (A flag in the input, not patched(): a patch marker upserts the
   * TemporalChangeVersion search attribute, an action on nearly every record.)
   */
  gate?: 'fast';
}

export type RecordOutcome = 'delivered' | 'skipped' | 'superseded';
export interface RecordWorkflowResult {
  outcome: RecordOutcome;
  stage?: Stage;
}
