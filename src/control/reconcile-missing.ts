// The reconciler's first repair: an open record of the current epoch whose run is missing or has
// ended gets a new run (never a second live one: the workflow id allows one running run, and a run
// started meanwhile is kept). One visibility listing of the running runs, the open records read in
// keyset pages, a describe call only for the few not listed, the starts bounded per pass.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RegionRow } from '../db/regions';
import { openRecordsPage, type OpenRecord } from '../db/reconcile-queries';
import { RECORD_WORKFLOW_TYPE, recordWorkflowId } from '../contracts/names';
import type { ReconcilePass, RepairKind } from '../contracts/reconcile';
import type { ReconcilerOptions } from './reconciler';

export type RestartDeps = Pick<ReconcilerOptions, 'pool' | 'starter' | 'logger' | 'graceSeconds' | 'maxRepairs' | 'pageSize'>;

const CALL_TIMEOUT_MS = 5_000;

/** Each call books the time since the previous one to a phase of the pass. */
function phaseTimer(report: ReconcilePass) {
  let since = performance.now();
  return (phase: keyof ReconcilePass['phasesMs']) => {
    const now = performance.now();
    report.phasesMs[phase] = Math.round(now - since);
    since = now;
  };
}

/**
 * Every open record of the epoch without a running workflow gets a new run, in seq order per source.
 * Returns the running workflow ids it listed (endFinishedRuns works from them).
 */
export async function restartMissing(deps: RestartDeps, client: Client, region: RegionRow, report: ReconcilePass): Promise<Set<string>> {
  const lap = phaseTimer(report);
  const running = new Set<string>();
  const query = `WorkflowType = "${RECORD_WORKFLOW_TYPE}" AND ExecutionStatus = "Running"`;
  for await (const wf of client.workflow.list({ query, pageSize: 1000 })) running.add(wf.workflowId);
  report.running = running.size;
  lap('list');

  const suspects: OpenRecord[] = [];
  let after: { sourceId: string; seq: number } | null = null;
  for (;;) {
    const page = await openRecordsPage(deps.pool, region.epoch, after, deps.pageSize ?? 5000, deps.graceSeconds);
    if (!page.length) break;
    report.checked += page.length;
    for (const rec of page) {
      if (running.has(recordWorkflowId(rec.source_id, rec.seq))) continue;
      if (suspects.length < deps.maxRepairs) suspects.push(rec);
      else report.deferred += 1;
    }
    const last = page[page.length - 1];
    after = { sourceId: last.source_id, seq: last.seq };
  }
  lap('page');
  if (!suspects.length) return running;

  // Visibility lags; describe is exact. Only a run that is really missing or ended is replaced.
  const gone: { rec: OpenRecord; kind: RepairKind }[] = [];
  for (const rec of suspects) {
    const handle = client.workflow.getHandle(recordWorkflowId(rec.source_id, rec.seq));
    try {
      const desc = await client.connection.withDeadline(Date.now() + CALL_TIMEOUT_MS, () => handle.describe());
      if (desc.status.name !== 'RUNNING') gone.push({ rec, kind: 'ended_run' });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) gone.push({ rec, kind: 'missing_run' });
      else throw err;
    }
  }
  lap('describe');
  if (!gone.length) return running;
  // The claims check the epoch and the lease: a failover since the pass began, or a lost lease,
  // leaves these records to the new epoch's recovery or to the new holder.
  const started = await deps.starter.restart(
    gone.map((g) => g.rec),
    region,
  );
  const startedKeys = new Set(started.map((r) => `${r.source_id}\u0000${r.seq}`));
  for (const g of gone) {
    if (!startedKeys.has(`${g.rec.source_id}\u0000${g.rec.seq}`)) continue;
    report.repaired[g.kind] += 1;
    deps.logger.warn(
      { sourceId: g.rec.source_id, seq: g.rec.seq, status: g.rec.status, kind: g.kind, region: region.name, epoch: region.epoch },
      'reconciler started a new run',
    );
  }
  lap('restart');
  return running;
}
