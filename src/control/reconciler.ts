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
import type { Logger } from '../logger';
import type { Pool } from '../db/pool';
import { activeRegion } from '../db/regions';
import { readControlState, writeControlState } from '../db/control-lease';
import type { TemporalClients } from '../temporal/clients';
import type { WorkflowStarter } from './starter';
import { REPAIR_KINDS, type ReconcilePass, type ReconcileView, type RepairKind } from '../contracts/reconcile';
import { NO_LEASE, type LeaseView } from './lease';
import { Periodic } from './periodic';
import { restartMissing } from './reconcile-missing';
import { endFinishedRuns } from './reconcile-finished';
import { inspectStalled } from './reconcile-stalled';

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
  private readonly loop: Periodic;

  constructor(private readonly opts: ReconcilerOptions) {
    this.loop = new Periodic(opts.intervalMs, async () => {
      if (!this.lease.held()) return;
      await this.runOnce().catch((err) => this.opts.logger.warn({ err: (err as Error).message }, 'reconcile pass failed'));
    });
  }

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
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    // A pass asked for by an operator may still run.
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
      const running = await restartMissing(this.opts, client, region, report);
      await endFinishedRuns({ ...this.opts, lease: this.lease }, client, running, report);
      const t = performance.now();
      await inspectStalled({ ...this.opts, lease: this.lease }, client, region, report);
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
}
