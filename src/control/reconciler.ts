// The reconciler, the safety net under the relay and the sweeper: compares the open records in
// Postgres with their workflows in the active region and repairs what does not match, so that a bug
// in any one path costs minutes, not a stalled source.
//  - a record of the current epoch whose run is missing or ended: a new run (never a second live
//    one: the workflow id allows one running run, and a run started meanwhile is kept);
//  - a record first in line without progress: its workflow's state decides (a retry it never got,
//    a gate signal it never got, a block it has moved past), and the source is reported as stalled;
//  - a finished record whose run still runs (a skip whose signal was lost, a run left over): the
//    skip is sent again, a delivered record's idle run is ended.
// It runs in the control role's holder only: each pass needs the lease, every write checks its
// token, and the pass is recorded in Postgres (control_state) for every replica to serve.
// Cheap at scale: one visibility listing of the running runs per pass, open records read in keyset
// pages, describe and query calls only for the few that look wrong, repairs bounded per pass.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import pLimit from 'p-limit';
import type { Logger } from '../logger';
import type { Pool } from '../db/pool';
import { activeRegion, type RegionRow } from '../db/regions';
import { readWatermarks } from '../db/stages';
import {
  clearStaleBlock,
  finishedBefore,
  openRecordsPage,
  stalledRecords,
  type OpenRecord,
  type StalledRecord,
} from '../db/reconcile-queries';
import { readControlState, writeControlState } from '../db/control-lease';
import { parseRecordWorkflowId, RECORD_WORKFLOW_TYPE, recordWorkflowId, STAGES } from '../contracts/names';
import type { TemporalClients } from '../temporal/clients';
import { gateOpen } from '../contracts/gate';
import { gateSignal, retrySignal, skipSignal, stateQuery, type RecordState } from '../contracts/record.messages';
import type { WorkflowStarter } from './starter';
import { REPAIR_KINDS, type ReconcilePass, type ReconcileView, type RepairKind, type StalledSource } from '../contracts/reconcile';
import { NO_LEASE, type LeaseView } from './lease';

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
  /** The control lease: passes run only while it is held. */
  lease?: LeaseView;
}

/** Where the holder records its passes (control_state). */
export const RECONCILER_STATE = 'reconciler';

/** The passes as the holder recorded them (none yet: zero counts). */
export async function reconcilerView(pool: Pool): Promise<ReconcileView> {
  const view = await readControlState<ReconcileView>(pool, RECONCILER_STATE);
  return {
    passes: view?.passes ?? 0,
    repairedTotal: { ...zero(), ...view?.repairedTotal },
    last: view?.last ?? null,
    requestsServed: view?.requestsServed ?? 0,
  };
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
  /** Repairs by kind, over every holder of the role (taken over from Postgres by load()). */
  totals = zero();
  passes = 0;
  /** The operators' reconcile requests (through any replica) served by a pass so far. */
  requestsServed = 0;
  private requested = 0;
  private current: Promise<ReconcilePass> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: ReconcilerOptions) {}

  private get lease(): LeaseView {
    return this.opts.lease ?? NO_LEASE;
  }

  /** What the last holder recorded, so that the counts go on from there (called on taking the role). */
  async load(): Promise<void> {
    const view = await readControlState<ReconcileView>(this.opts.pool, RECONCILER_STATE);
    if (!view) return;
    this.passes = view.passes;
    this.totals = { ...zero(), ...view.repairedTotal };
    this.last = view.last ?? undefined;
    this.requestsServed = view.requestsServed ?? 0;
  }

  view(): ReconcileView {
    return { passes: this.passes, repairedTotal: this.totals, last: this.last ?? null, requestsServed: this.requestsServed };
  }

  /** Runs a pass now; a caller arriving while one runs gets that pass. Rejects while this process does not hold the role. */
  runOnce(): Promise<ReconcilePass> {
    if (!this.lease.held()) return Promise.reject(new Error('this process does not hold the control role'));
    this.current ??= this.pass().finally(() => (this.current = undefined));
    return this.current;
  }

  /** An operator's request number `n` (made through any replica): a pass that serves it. */
  request(n: number): Promise<ReconcilePass> | undefined {
    if (n <= this.requestsServed) return undefined;
    this.requested = Math.max(this.requested, n);
    return this.runOnce();
  }

  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      if (this.lease.held()) {
        await this.runOnce().catch((err) => this.opts.logger.warn({ err: (err as Error).message }, 'reconcile pass failed'));
      }
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
    const serving = this.requested;
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
      await this.endFinishedRuns(client, report);
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
    this.requestsServed = Math.max(this.requestsServed, serving);
    const token = this.lease.token();
    if (token !== null) {
      await writeControlState(this.opts.pool, RECONCILER_STATE, this.view(), token).catch((err) =>
        this.opts.logger.warn({ err: (err as Error).message }, 'reconcile pass not recorded'),
      );
    }
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
    this.running = running;
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
    // The claims check the epoch and the lease: a failover since the pass began, or a lost lease,
    // leaves these records to the new epoch's recovery or to the new holder.
    const started = await this.opts.starter.restart(
      gone.map((g) => g.rec),
      region,
    );
    const startedKeys = new Set(started.map((r) => `${r.source_id}\u0000${r.seq}`));
    for (const g of gone) {
      if (!startedKeys.has(`${g.rec.source_id}\u0000${g.rec.seq}`)) continue;
      report.repaired[g.kind] += 1;
      this.opts.logger.warn(
        { sourceId: g.rec.source_id, seq: g.rec.seq, status: g.rec.status, kind: g.kind, region: region.name, epoch: region.epoch },
        'reconciler started a new run',
      );
    }
    lap('restart');
  }

  /** The running workflow ids the last listing found (restartMissing lists them once per pass). */
  private running = new Set<string>();

  /**
   * Runs still running for records that finished a while ago. A skip commits before its signal,
   * which may be lost: the run waits as blocked for ever, so the skip is sent again. A delivered
   * record's run that is not in an activity waits for nothing that will come: it is ended. Visibility
   * lags; the state query is exact, and a run in an activity (finishing) is left alone.
   */
  private async endFinishedRuns(client: Client, report: ReconcilePass): Promise<void> {
    const keys: { source_id: string; seq: number }[] = [];
    for (const id of this.running) {
      const key = parseRecordWorkflowId(id);
      if (key) keys.push(key);
    }
    const finished = (await finishedBefore(this.opts.pool, keys, this.opts.graceSeconds)).slice(0, MAX_INSPECTED);
    for (const rec of finished) {
      if (!this.lease.held()) return;
      const handle = client.workflow.getHandle(recordWorkflowId(rec.source_id, rec.seq));
      try {
        const state = await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(stateQuery));
        if (state.phase === 'running' || !this.lease.held()) continue;
        if (rec.status === 'skipped') {
          await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.signal(skipSignal));
          report.repaired.lost_skip += 1;
        } else {
          await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
            handle.terminate(`record ${rec.source_id} #${rec.seq} was already delivered; this run had nothing left to do`),
          );
          report.repaired.leaked_run += 1;
        }
        this.opts.logger.warn(
          { sourceId: rec.source_id, seq: rec.seq, status: rec.status, phase: state.phase },
          "reconciler ended a finished record's run",
        );
      } catch (err) {
        this.opts.logger.info(
          { sourceId: rec.source_id, seq: rec.seq, err: (err as Error).message },
          "finished record's run not inspected",
        );
      }
    }
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
    const limit = pLimit(INSPECT_CONCURRENCY);
    await Promise.all(
      toInspect.map(([entry, rec]) =>
        limit(async () => {
          entry.reason = (await this.inspectOne(client, region, rec, report)) || entry.reason;
        }),
      ),
    );
  }

  private async inspectOne(client: Client, region: RegionRow, rec: StalledRecord, report: ReconcilePass): Promise<string> {
    if (!this.lease.held()) return 'not inspected: this process lost the control role';
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
        (await clearStaleBlock(this.opts.pool, rec.source_id, rec.seq, region.name, region.epoch, this.lease.token()))
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
