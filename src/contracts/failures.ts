// Typed failure codes carried by ApplicationFailure.type. Workflow-safe (no Node builtins).

export const FailureType = {
  /** A stage's dependency is down. Retryable, without limit, with backoff: the record waits. */
  DependencyUnavailable: 'DependencyUnavailable',
  /** The stage rejects the record itself. Not retryable: the record is blocked until an operator acts. */
  RecordRejected: 'RecordRejected',
  /** The writer's region is no longer active at its epoch. Not retryable: the workflow is superseded. */
  Fenced: 'Fenced',
  /** The record's checkpoint is missing. Not retryable: nothing can be done with it. */
  RecordMissing: 'RecordMissing',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const NON_RETRYABLE_FAILURES: FailureType[] = [FailureType.RecordRejected, FailureType.Fenced, FailureType.RecordMissing];

/** Thrown by a stage's work function when the record itself cannot be processed. */
export class RecordRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordRejectedError';
  }
}
