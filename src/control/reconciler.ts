// The reconciler, the safety net under the relay and the sweeper: compares the open records in
// Postgres with their workflows in the active region and repairs what does not match, so that a bug
// in any one path costs minutes, not a stalled source.
//  - a record of the current epoch whose run is missing or ended: a new run (never a second live
//    one: the workflow id allows one running run, and a run started meanwhile is kept);
//  - a record first in line without progress: its workflow's state decides (a retry it never got,
//    a gate signal it never got, a block it has moved past), and the source is reported as stalled.
// Cheap at scale: one visibility listing of the running runs per pass, open records read in keyset
// pages, describe and query calls only for the few that look wrong, repairs bounded per pass.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from '../logger';
import type { Pool } from '../db/pool';
import { activeRegion, type RegionRow } from '../db/regions';
import { readWatermarks } from '../db/stages';
import {
  clearStaleBlock,
  markRestarted,
  openRecordsPage,
  stalledRecords,
  type OpenRecord,
  type StalledRecord,
} from '../db/reconcile-queries';
import { RECORD_WORKFLOW_TYPE, recordWorkflowId, STAGES } from '../contracts/names';
import type { TemporalClients } from '../temporal/clients';
import { gateOpen } from '../contracts/gate';
import { gateSignal, retrySignal, stateQuery, type RecordState } from '../contracts/record.messages';
import type { WorkflowStarter } from './starter';
import { REPAIR_KINDS, type RepairKind, type ReconcilePass, type StalledSource } from '../contracts/reconcile';

export interface ReconcilerOptions {
  pool: Pool;
  temporal: TemporalClients;
  starter: WorkflowStarter;
  logger: Logger;
  intervalMs: number;
  /** A source is stalled when its first record in line has not moved for this long. */
  stallSeconds: number;
  /** Records started less than this long ago are left alone (their run may not be listed yet). */
  graceSeconds: number;
  /** At most this many runs started again per pass; the rest next pass. */
  maxRepairs: number;
  pageSize?: number;
}

const CALL_TIMEOUT_MS = 5_000;
/** Stalled records whose workflow is queried per pass (each query is a Temporal call), and how many at once. */
const MAX_INSPECTED = 50;
const INSPECT_CONCURRENCY = 10;
/** A query is answered by a workflow worker within milliseconds when there is one. */
const QUERY_TIMEOUT_MS = 2_000;

/** Each call books the time since the previous one to a phase of the pass. */
function phaseTimer(report: ReconcilePass) {
  let since = performance.now();
  return (phase: keyof ReconcilePass['phasesMs']) => {
    const now = performance.now();
    report.phasesMs[phase] = Math.round(now - since);
    since = now;
  };
}

const zero = (): Record<RepairKind, number> => Object.fromEntries(REPAIR_KINDS.map((k) => [k, 0])) as Record<RepairKind, number>;

export class Reconciler {
  last: ReconcilePass | undefined;
  /** Repairs by kind since this process started. */
  readonly totals = zero();
  passes = 0;
  private current: Promise<ReconcilePass> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: ReconcilerOptions) {}

  /** Runs a pass now; a caller arriving while one runs gets that pass. */
  runOnce(): Promise<ReconcilePass> {
    this.current ??= this.pass().finally(() => (this.current = undefined));
    return this.current;
  }

  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      await this.runOnce().catch((err) => this.opts.logger.warn({ err: (err as Error).message }, 'reconcile pass failed'));
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.opts.intervalMs);
    };
    this.timer = setTimeout(() => void tick(), this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current?.catch(() => undefined);
  }

  private async pass(): Promise<ReconcilePass> {
    const t0 = performance.now();
    const region = await activeRegion(this.opts.pool);
    const report: ReconcilePass = {
      startedAt: new Date().toISOString(),
      durationMs: 0,
      region: region.name,
      epoch: region.epoch,
      checked: 0,
      running: 0,
      repaired: zero(),
      deferred: 0,
      stalled: [],
      phasesMs: { list: 0, page: 0, describe: 0, restart: 0, stalled: 0 },
    };
    try {
      const client = await this.opts.temporal.client(region.name);
      await this.restartMissing(client, region, report);
      const t = performance.now();
      await this.inspectStalled(client, region, report);
      report.phasesMs.stalled = Math.round(performance.now() - t);
    } catch (err) {
      report.error = (err as Error).message;
    }
    report.durationMs = Math.round(performance.now() - t0);
    for (const kind of REPAIR_KINDS) this.totals[kind] += report.repaired[kind];
    this.passes += 1;
    this.last = report;
    const repaired = REPAIR_KINDS.reduce((n, k) => n + report.repaired[k], 0);
    const log = {
      region: region.name,
      epoch: region.epoch,
      checked: report.checked,
      running: report.running,
      durationMs: report.durationMs,
      repaired: report.repaired,
      deferred: report.deferred,
      stalled: report.stalled.length,
      error: report.error,
    };
    if (repaired || report.error) this.opts.logger.warn(log, 'reconcile pass repaired or failed');
    else this.opts.logger.debug(log, 'reconcile pass');
    for (const s of report.stalled) this.opts.logger.warn({ ...s }, 'source stalled');
    return report;
  }

  /** Every open record of the epoch without a running workflow gets a new run, in seq order per source. */
  private async restartMissing(client: Client, region: RegionRow, report: ReconcilePass): Promise<void> {
    const lap = phaseTimer(report);
    const running = new Set<string>();
    const query = `WorkflowType = "${RECORD_WORKFLOW_TYPE}" AND ExecutionStatus = "Running"`;
    for await (const wf of client.workflow.list({ query, pageSize: 1000 })) running.add(wf.workflowId);
    report.running = running.size;
    lap('list');

    const suspects: OpenRecord[] = [];
    let after: { sourceId: string; seq: number } | null = null;
    for (;;) {
      const page = await openRecordsPage(this.opts.pool, region.epoch, after, this.opts.pageSize ?? 5000, this.opts.graceSeconds);
      if (!page.length) break;
      report.checked += page.length;
      for (const rec of page) {
        if (running.has(recordWorkflowId(rec.source_id, rec.seq))) continue;
        if (suspects.length < this.opts.maxRepairs) suspects.push(rec);
        else report.deferred += 1;
      }
      const last = page[page.length - 1];
      after = { sourceId: last.source_id, seq: last.seq };
    }
    lap('page');
    if (!suspects.length) return;

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
    if (!gone.length) return;
    // A failover since the pass began: the new epoch's recovery owns these records now.
    if ((await activeRegion(this.opts.pool)).epoch !== region.epoch) return;
    const started = await this.opts.starter.restart(
      gone.map((g) => g.rec),
      region,
    );
    const startedKeys = new Set(started.map((r) => `${r.source_id}\u0000${r.seq}`));
    const bySource = new Map<string, number[]>();
    for (const g of gone) {
      if (!startedKeys.has(`${g.rec.source_id}\u0000${g.rec.seq}`)) continue;
      report.repaired[g.kind] += 1;
      bySource.set(g.rec.source_id, [...(bySource.get(g.rec.source_id) ?? []), g.rec.seq]);
      this.opts.logger.warn(
        { sourceId: g.rec.source_id, seq: g.rec.seq, status: g.rec.status, kind: g.kind, region: region.name, epoch: region.epoch },
        'reconciler started a new run',
      );
    }
    for (const [sourceId, seqs] of bySource) await markRestarted(this.opts.pool, sourceId, seqs, region.name, region.epoch);
    lap('restart');
  }

  /** Sources whose first record in line has not moved: ask its workflow why, repair what is safe. */
  private async inspectStalled(client: Client, region: RegionRow, report: ReconcilePass): Promise<void> {
    const stalled = await stalledRecords(this.opts.pool, this.opts.stallSeconds, 1000);
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
    let next = 0;
    const lane = async () => {
      while (next < toInspect.length) {
        const [entry, rec] = toInspect[next++];
        entry.reason = (await this.inspectOne(client, region, rec, report)) || entry.reason;
      }
    };
    await Promise.all(Array.from({ length: INSPECT_CONCURRENCY }, lane));
  }

  private async inspectOne(client: Client, region: RegionRow, rec: StalledRecord, report: ReconcilePass): Promise<string> {
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
        (await clearStaleBlock(this.opts.pool, rec.source_id, rec.seq, region.name, region.epoch))
      ) {
        report.repaired.stale_block += 1;
        return `marked blocked at ${rec.stage}, but its workflow is at ${state.stage}: block cleared`;
      }
      return '';
    }
    if (state.phase === 'waiting' && state.stage) {
      const watermarks = await readWatermarks(this.opts.pool, rec.source_id);
      if (gateOpen(watermarks, state.stage, rec.seq)) {
        await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.signal(gateSignal, { watermarks, nudge: true }));
        report.repaired.lost_signal += 1;
        return `its workflow waited at ${state.stage} for a signal that never came: woken`;
      }
      return `waiting at ${state.stage} for record ${(watermarks[state.stage] ?? 0) + 1}`;
    }
    return `its workflow is ${state.phase} at ${state.stage ?? 'the end'}`;
  }
}
