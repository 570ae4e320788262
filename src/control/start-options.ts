// How a record's workflow is started: its id and input, the conflict and reuse policies that keep
// one run per record and epoch, its search attributes, and what the Temporal UI shows of it. The
// starter builds every start with it; the history capture and the gate's end-to-end test too.
import type { RegionRow } from '../db/regions';
import type { PendingStart } from '../db/relay-queries';
import { firstUnfinishedStage, type Watermarks } from '../contracts/gate';
import type { RecordWorkflowInput } from '../contracts/record.messages';
import { recordWorkflowId, SA, WORKFLOW_TASK_QUEUE } from '../contracts/names';

/** A record to start: its key, and the epoch it was last started at (null: never). */
export type PendingRecord = PendingStart;

/** What the UI shows of a record besides its key: the client's id and the payload's digest. */
export interface RecordIdentity {
  recordId: string;
  payloadHash: string;
  /** The trace context the record was accepted in (null: tracing was off). */
  traceparent?: string | null;
}

/** Whether a start may find a closed run of the id and still start (its record is open, so that run did not finish it). */
export type ReusePolicy = 'REJECT_DUPLICATE' | 'ALLOW_DUPLICATE';

/** The workflow settings every start passes on (from the configuration). */
export type WorkflowDefaults = Pick<RecordWorkflowInput, 'activityTimeoutMs' | 'retryMaxIntervalMs' | 'historyLimit'>;

/** How a record's workflow is started: id, input, conflict policy, search attributes. */
export function recordStartOptions(
  rec: PendingRecord,
  region: Pick<RegionRow, 'name' | 'epoch'>,
  wm: Watermarks,
  defaults: WorkflowDefaults,
  identity?: RecordIdentity,
  reuse: ReusePolicy = 'REJECT_DUPLICATE',
) {
  const startStage = firstUnfinishedStage(wm, rec.seq) ?? 'outbound';
  const input: RecordWorkflowInput = {
    sourceId: rec.source_id,
    seq: rec.seq,
    region: region.name,
    epoch: region.epoch,
    startStage,
    // What the gate knows now; the workflow still reads Postgres once (a predecessor may finish
    // between this read and the start, and its signal would find no workflow).
    watermarks: wm,
    gate: 'fast',
    ...defaults,
  };
  return {
    taskQueue: WORKFLOW_TASK_QUEUE,
    workflowId: recordWorkflowId(rec.source_id, rec.seq),
    args: [input] as [RecordWorkflowInput],
    // Never started: a running one can only be ours. Started at an older epoch: one still
    // running here is a zombie of that epoch, replace it.
    workflowIdConflictPolicy: rec.epoch === null ? ('USE_EXISTING' as const) : ('TERMINATE_EXISTING' as const),
    // Never started: a closed run of the id can only have finished the record (a late or second
    // start must not run it again), unless an operator ended it; the starter tells them apart by the
    // record and starts over it only when the record is open (reuse ALLOW_DUPLICATE). Started at an
    // older epoch: closed runs are that epoch's (superseded); the claim makes this the only start at
    // this epoch, and Temporal refuses REJECT_DUPLICATE beside TERMINATE_EXISTING anyway.
    workflowIdReusePolicy: rec.epoch === null ? reuse : ('ALLOW_DUPLICATE' as const),
    typedSearchAttributes: [
      { key: SA.sourceId, value: rec.source_id },
      { key: SA.recordSeq, value: rec.seq },
      { key: SA.region, value: region.name },
      { key: SA.stage, value: startStage },
    ],
    // Shown in the Temporal UI's workflow list and header: which record, and which payload.
    staticSummary: `${rec.source_id} #${rec.seq}${identity ? ` · payload ${identity.payloadHash.slice(0, 12)}` : ''}`,
    staticDetails: [
      `**record** \`${rec.source_id}\` #${rec.seq}${identity ? `, client id \`${identity.recordId}\`` : ''}`,
      identity ? `**payload sha256** \`${identity.payloadHash}\`` : undefined,
      `**started** in ${region.name} at epoch ${region.epoch}, from stage ${startStage}`,
    ]
      .filter(Boolean)
      .join('\n\n'),
  };
}
