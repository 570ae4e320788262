// The reconciler's look at stalled sources: a source whose first record in line has not moved is
// reported, and its workflow asked why; what is safe is repaired (a retry or a gate signal it never
// got, a block it has moved past). The queries are bounded: a few at a time, each within a timeout.
import type { Client } from '@temporalio/client';
import pLimit from 'p-limit';
import type { RegionRow } from '../db/regions';
import { readWatermarks } from '../db/stages';
import { clearStaleBlock, stalledRecords, type StalledRecord } from '../db/reconcile-queries';
import { recordWorkflowId, STAGES } from '../contracts/names';
import { gateOpen } from '../contracts/gate';
import { gateSignal, retrySignal, stateQuery, type RecordState } from '../contracts/record.messages';
import type { ReconcilePass, StalledSource } from '../contracts/reconcile';
import type { LeaseView } from './lease';
import type { ReconcilerOptions } from './reconciler';

export type StalledDeps = Pick<ReconcilerOptions, 'pool' | 'stallSeconds'> & { lease: LeaseView };

/** Stalled records whose workflow is queried per pass (each query is a Temporal call), and how many at once. */
export const MAX_INSPECTED = 50;
const INSPECT_CONCURRENCY = 10;
/** A query is answered by a workflow worker within milliseconds when there is one. */
export const QUERY_TIMEOUT_MS = 2_000;

/** Sources whose first record in line has not moved: ask its workflow why, repair what is safe. */
export async function inspectStalled(deps: StalledDeps, client: Client, region: RegionRow, report: ReconcilePass): Promise<void> {
  const stalled = await stalledRecords(deps.pool, deps.stallSeconds, 1000);
  const toInspect: [StalledSource, StalledRecord][] = [];
  for (const rec of stalled) {
    const entry: StalledSource = {
      sourceId: rec.source_id,
      seq: rec.seq,
      stage: rec.stage,
      status: rec.status,
      idleSeconds: rec.idle_seconds,
      reason: '',
    };
    report.stalled.push(entry);
    if (rec.status === 'blocked') entry.reason = `blocked: ${rec.blocked_reason ?? ''} (an operator retries or skips it)`;
    if (rec.epoch !== region.epoch) entry.reason ||= `not yet started in ${region.name} at epoch ${region.epoch} (the relay starts it)`;
    else if (toInspect.length < MAX_INSPECTED) toInspect.push([entry, rec]);
    else entry.reason ||= 'not inspected in this pass';
  }
  // A query waits for a worker: with none polling, each would take the whole timeout. A few at a time.
  const limit = pLimit(INSPECT_CONCURRENCY);
  await Promise.all(
    toInspect.map(([entry, rec]) =>
      limit(async () => {
        entry.reason = (await inspectOne(deps, client, region, rec, report)) || entry.reason;
      }),
    ),
  );
}

async function inspectOne(
  deps: StalledDeps,
  client: Client,
  region: RegionRow,
  rec: StalledRecord,
  report: ReconcilePass,
): Promise<string> {
  if (!deps.lease.held()) return 'not inspected: this process lost the control role';
  const handle = client.workflow.getHandle(recordWorkflowId(rec.source_id, rec.seq));
  let state: RecordState;
  try {
    state = await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(stateQuery));
  } catch (err) {
    return `its workflow did not answer (${(err as Error).message})`;
  }
  if (rec.status === 'processing' && state.phase === 'blocked') {
    // The operator's retry committed but the workflow never got (or lost) the signal.
    // Bounded like the query: a hung server must not hold the pass.
    await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.signal(retrySignal));
    report.repaired.lost_retry += 1;
    return `its workflow waited as blocked at ${state.stage}: retry sent again`;
  }
  if (rec.status === 'blocked') {
    const at = STAGES.indexOf(rec.stage);
    if (
      state.phase !== 'blocked' &&
      state.stage &&
      STAGES.indexOf(state.stage) > at &&
      (await clearStaleBlock(deps.pool, rec.source_id, rec.seq, region.name, region.epoch, deps.lease.token()))
    ) {
      report.repaired.stale_block += 1;
      return `marked blocked at ${rec.stage}, but its workflow is at ${state.stage}: block cleared`;
    }
    return '';
  }
  if (state.phase === 'waiting' && state.stage) {
    const watermarks = await readWatermarks(deps.pool, rec.source_id);
    if (gateOpen(watermarks, state.stage, rec.seq)) {
      await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.signal(gateSignal, { watermarks, nudge: true }));
      report.repaired.lost_signal += 1;
      return `its workflow waited at ${state.stage} for a signal that never came: woken`;
    }
    return `waiting at ${state.stage} for record ${(watermarks[state.stage] ?? 0) + 1}`;
  }
  return `its workflow is ${state.phase} at ${state.stage ?? 'the end'}`;
}
