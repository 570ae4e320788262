// The reconciler's cleanup of finished records whose run still runs: a skip whose signal was lost
// (the skip is sent again), a delivered record's run left over (it is ended). Each run is asked its
// state first; one in an activity is finishing and is left alone.
import type { Client } from '@temporalio/client';
import { finishedBefore } from '../db/reconcile-queries';
import { parseRecordWorkflowId, recordWorkflowId } from '../contracts/names';
import { skipSignal, stateQuery } from '../contracts/record.messages';
import type { ReconcilePass } from '../contracts/reconcile';
import type { LeaseView } from './lease';
import type { ReconcilerOptions } from './reconciler';
// Bounded like the stalled records' inspection: as many runs per pass, each call as long.
import { MAX_INSPECTED, QUERY_TIMEOUT_MS } from './reconcile-stalled';

export type FinishedRunDeps = Pick<ReconcilerOptions, 'pool' | 'logger' | 'graceSeconds'> & { lease: LeaseView };

/**
 * Runs still running for records that finished a while ago. A skip commits before its signal,
 * which may be lost: the run waits as blocked for ever, so the skip is sent again. A delivered
 * record's run that is not in an activity waits for nothing that will come: it is ended. Visibility
 * lags; the state query is exact, and a run in an activity (finishing) is left alone.
 */
export async function endFinishedRuns(deps: FinishedRunDeps, client: Client, running: Set<string>, report: ReconcilePass): Promise<void> {
  const keys: { source_id: string; seq: number }[] = [];
  for (const id of running) {
    const key = parseRecordWorkflowId(id);
    if (key) keys.push(key);
  }
  const finished = (await finishedBefore(deps.pool, keys, deps.graceSeconds)).slice(0, MAX_INSPECTED);
  for (const rec of finished) {
    if (!deps.lease.held()) return;
    const handle = client.workflow.getHandle(recordWorkflowId(rec.source_id, rec.seq));
    try {
      const state = await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(stateQuery));
      if (state.phase === 'running' || !deps.lease.held()) continue;
      if (rec.status === 'skipped') {
        await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.signal(skipSignal));
        report.repaired.lost_skip += 1;
      } else {
        await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
          handle.terminate(`record ${rec.source_id} #${rec.seq} was already delivered; this run had nothing left to do`),
        );
        report.repaired.leaked_run += 1;
      }
      deps.logger.warn(
        { sourceId: rec.source_id, seq: rec.seq, status: rec.status, phase: state.phase },
        "reconciler ended a finished record's run",
      );
    } catch (err) {
      deps.logger.info({ sourceId: rec.source_id, seq: rec.seq, err: (err as Error).message }, "finished record's run not inspected");
    }
  }
}
