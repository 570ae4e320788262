// Starts record workflows in the active region, and the relay that makes sure every accepted
// record gets one: after a failed start (Temporal down), a crash between commit and start, or a
// failover (a record started at an older epoch is started again in the new active region).
// Every start follows a claim in Postgres (claimStarts): whichever process or path claims a record
// at an epoch is the only one to start it there. The submit path starts what it accepted in any
// replica; the relay, the start window, recovery and the reconciler run in the control role's
// holder only, and their claims and starts need its lease.
import type { Pool } from '../db/pool';
import { activeRegion, type RegionRow } from '../db/regions';
import { readWatermarks } from '../db/stages';
import type { StartContext } from '../db/checkpoint';
import { readIdentities, unstartedInWindow } from '../db/queries';
import { claimStarts, finishedAmong, pendingStarts, releaseClaims } from '../db/relay-queries';
import { claimRestarts, type RestartClaim } from '../db/reconcile-queries';
import { windowEnd } from '../contracts/gate';
import type { Logger } from '../logger';
import type { TemporalClients } from '../temporal/clients';
import { gateNotifier, type GateNotifier } from '../temporal/notifier';
import { recordAttributes } from '../telemetry/spans';
import { CLOSED_RUN, InlineStartExecutor, type StartExecutor, type StartJob, type StartOutcome } from './start-executor';
import { NO_LEASE, type LeaseView } from './lease';
import { Periodic } from './periodic';
import { SourceWindows } from './start-window';
import { sweepOnce } from './sweeper';
import { recordWorkflowId } from '../contracts/names';
import { recordStartOptions, type PendingRecord, type RecordIdentity, type ReusePolicy, type WorkflowDefaults } from './start-options';

export interface StarterOptions {
  pool: Pool;
  temporal: TemporalClients;
  logger: Logger;
  concurrency: number;
  relayIntervalMs: number;
  /** Nudge a record first in line at a stage this long without progress (the gate's fallback). */
  nudgeAfterSeconds: number;
  workflowDefaults: WorkflowDefaults;
  /** Where the starts are issued (default: in this thread, with `temporal`). */
  executor?: StartExecutor;
  /** Run the sweeper (the gate's fallback nudge) in the relay loop. */
  sweeper?: boolean;
  /**
   * Start a never-started record only once it is at most this far past its source's inbound
   * watermark (0: start every record at once). A backlog then waits in Postgres, not as waiting
   * workflows holding worker slots; StartWindow starts the next ones as inbound moves.
   */
  startWindow?: number;
  /** The sources with a backlog share this many records of start window (0: each gets startWindow); see SourceWindows. */
  startWindowBudget?: number;
  /** The control lease: the relay, window, recovery and reconciler starts happen only while it is held. */
  lease?: LeaseView;
}

/** What the submit path already knows when it starts the records it just accepted. */
export type KnownStart = StartContext & { identities: Map<number, RecordIdentity> };

/** Which path starts a record's workflow (a span attribute of its start). */
export type StartedBy = 'submit' | 'window' | 'relay' | 'recovery' | 'reconciler';

export interface StartReport {
  started: number;
  failed: number;
}

export class WorkflowStarter {
  private readonly relay: Periodic;
  private relayTail: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly executor: StartExecutor;
  private readonly windows: SourceWindows;

  constructor(private readonly opts: StarterOptions) {
    this.relay = new Periodic(opts.relayIntervalMs, () => this.relayTick());
    this.executor = opts.executor ?? new InlineStartExecutor(opts.temporal, opts.lease?.deadline);
    this.windows = new SourceWindows(opts.startWindow ?? 0, opts.startWindowBudget ?? 0);
  }

  private get lease(): LeaseView {
    return this.opts.lease ?? NO_LEASE;
  }

  /**
   * Starts the workflows of records just accepted (called after the checkpoint commit). With the
   * checkpoint's start context (region, watermarks) and the records' identities, no read is needed
   * before the starts.
   */
  async startRecords(sourceId: string, seqs: number[], by: StartedBy = 'submit', known?: KnownStart): Promise<StartReport> {
    if (!seqs.length) return { started: 0, failed: 0 };
    // In line with the relay passes (the claims alone keep them apart): one batch of starts at a time.
    return this.serial(() =>
      this.start(
        seqs.map((seq) => ({ source_id: sourceId, seq, epoch: null })),
        by,
        known?.region,
        known && { sourceId, watermarks: known.watermarks, identities: known.identities },
      ),
    );
  }

  /** Starts the never-started records of a source that its inbound watermark now lets in. */
  async startWindowOf(sourceId: string): Promise<StartReport> {
    if (!this.lease.held()) return { started: 0, failed: 0 };
    const window = this.windows.of(sourceId);
    if (window <= 0) return { started: 0, failed: 0 };
    const { seqs, beyond } = await unstartedInWindow(this.opts.pool, sourceId, window);
    this.windows.note(sourceId, beyond);
    return this.startRecords(sourceId, seqs, 'window');
  }

  /**
   * One relay pass: every open record without a workflow in the current epoch (nothing while this
   * process does not hold the control lease). Passes and submits' starts run one batch at a time,
   * so a recovery of thousands of records and a burst of submits share START_CONCURRENCY.
   */
  relayOnce(limit = 1000, by: StartedBy = 'relay'): Promise<StartReport> {
    return this.serial(() => this.relayPass(limit, by));
  }

  /** Runs fn after every start queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const pass = this.relayTail.then(fn);
    this.relayTail = pass.catch(() => undefined);
    return pass;
  }

  private async relayPass(limit: number, by: StartedBy): Promise<StartReport> {
    if (!this.lease.held()) return { started: 0, failed: 0 };
    const region = await activeRegion(this.opts.pool);
    const rows = await pendingStarts(this.opts.pool, region.epoch, limit, this.windows.now());
    if (!rows.length) return { started: 0, failed: 0 };
    return this.start(rows, by, region);
  }

  private async start(
    records: PendingRecord[],
    by: StartedBy,
    known?: RegionRow,
    read?: Omit<KnownStart, 'region'> & { sourceId: string },
  ): Promise<StartReport> {
    const { pool } = this.opts;
    // The control loops act only while this process holds the lease; a submit's own start needs none.
    const leased = by !== 'submit';
    const token = leased ? this.lease.token() : null;
    if (leased && token === null) return { started: 0, failed: 0 };
    const region = known ?? (await activeRegion(pool));
    const watermarks = new Map<string, Awaited<ReturnType<typeof readWatermarks>>>();
    const identities = new Map<string, RecordIdentity>();
    for (const sourceId of new Set(records.map((r) => r.source_id))) {
      const seqs = records.filter((r) => r.source_id === sourceId).map((r) => r.seq);
      const given = read?.sourceId === sourceId ? read : undefined;
      watermarks.set(sourceId, given?.watermarks ?? (await readWatermarks(pool, sourceId)));
      for (const [seq, id] of given?.identities ?? (await readIdentities(pool, sourceId, seqs))) identities.set(`${sourceId}:${seq}`, id);
    }
    // A never-started record past its source's window waits in Postgres (StartWindow starts it).
    const windowOf = new Map([...watermarks.keys()].map((s) => [s, this.windows.of(s)]));
    const inWindow = (r: PendingRecord) => {
      const window = windowOf.get(r.source_id) ?? 0;
      // The blocked record's bound is applied by the window's and the relay's reads (a submit's
      // newest records are past the window anyway while one of its source is blocked).
      return window <= 0 || r.seq <= windowEnd(watermarks.get(r.source_id) ?? {}, window);
    };
    const due = records.filter((r) => r.epoch !== null || inWindow(r));
    // A submit's records (one source) are its newest: whether any wait tells whether the source has a backlog.
    if (by === 'submit') this.windows.note(records[0].source_id, due.length < records.length);
    const claimed = await claimStarts(pool, due, region, token);
    const job = (rec: PendingRecord, reuse?: ReusePolicy): StartJob => {
      const identity = identities.get(`${rec.source_id}:${rec.seq}`);
      return {
        options: recordStartOptions(rec, region, watermarks.get(rec.source_id) ?? {}, this.opts.workflowDefaults, identity, reuse),
        traceparent: identity?.traceparent,
        attrs: {
          ...recordAttributes({ sourceId: rec.source_id, seq: rec.seq, region: region.name, epoch: region.epoch }),
          'pipeline.started_by': by,
        },
        leased,
      };
    };
    const outcomes = await this.issue(region, claimed, job);
    const failed = claimed.filter((_, i) => outcomes[i] !== null);
    // Not started: the claims go back, so the relay starts these again.
    await releaseClaims(pool, failed, region.epoch);
    return { started: claimed.length - failed.length, failed: failed.length };
  }

  /**
   * Issues the starts of claimed records. One refused because a closed run of its id exists is
   * started again over that run only when its record is still open: then that run did not finish
   * it (superseded, terminated). A finished record's late start is dropped (outcome null: nothing
   * to give back), so no record runs a second time after it was delivered or skipped.
   */
  private async issue<T extends { source_id: string; seq: number }>(
    region: RegionRow,
    recs: readonly T[],
    job: (rec: T, reuse?: ReusePolicy) => StartJob,
  ): Promise<StartOutcome[]> {
    if (!recs.length) return [];
    const { logger, concurrency } = this.opts;
    const run = async (jobs: StartJob[]): Promise<StartOutcome[]> => {
      try {
        return await this.executor.start(region.name, jobs, concurrency);
      } catch (err) {
        logger.warn(
          { region: region.name, err: (err as Error).message },
          'workflow starts not issued (Temporal unreachable, or the start thread gone); the relay will start these later',
        );
        return jobs.map(() => (err as Error).message);
      }
    };
    const outcomes = await run(recs.map((r) => job(r)));
    const closed = recs.filter((_, i) => outcomes[i] === CLOSED_RUN);
    if (closed.length) {
      const finished = await finishedAmong(this.opts.pool, closed);
      const again = closed.filter((r) => !finished.has(`${r.source_id}\u0000${r.seq}`));
      const second = await run(again.map((r) => job(r, 'ALLOW_DUPLICATE')));
      recs.forEach((r, i) => {
        if (outcomes[i] !== CLOSED_RUN) return;
        const j = again.indexOf(r);
        outcomes[i] = j < 0 ? null : second[j];
      });
    }
    recs.forEach((rec, i) => {
      if (outcomes[i] === null) return;
      logger.warn(
        {
          sourceId: rec.source_id,
          seq: rec.seq,
          workflowId: recordWorkflowId(rec.source_id, rec.seq),
          region: region.name,
          err: outcomes[i],
        },
        'workflow start failed; the relay will retry',
      );
    });
    return outcomes;
  }

  /**
   * Starts a new run for records of the current epoch whose run is gone (the reconciler's repair),
   * each claimed as the reconciler saw it (its started_at): a record another path started since
   * is left alone. USE_EXISTING: if a run was started meanwhile it is at this epoch, so it is ours.
   */
  async restart(records: readonly RestartClaim[], region: RegionRow): Promise<{ source_id: string; seq: number }[]> {
    const token = this.lease.token();
    if (token === null) return [];
    const claimed = await claimRestarts(this.opts.pool, records, region, token);
    const watermarks = new Map<string, Awaited<ReturnType<typeof readWatermarks>>>();
    for (const sourceId of new Set(claimed.map((r) => r.source_id)))
      watermarks.set(sourceId, await readWatermarks(this.opts.pool, sourceId));
    const outcomes = await this.issue(region, claimed, (rec, reuse) => ({
      options: recordStartOptions(
        { ...rec, epoch: null },
        region,
        watermarks.get(rec.source_id) ?? {},
        this.opts.workflowDefaults,
        undefined,
        reuse,
      ),
      attrs: {
        ...recordAttributes({ sourceId: rec.source_id, seq: rec.seq, region: region.name, epoch: region.epoch }),
        'pipeline.started_by': 'reconciler',
      },
      leased: true,
    }));
    return claimed.filter((_, i) => outcomes[i] === null);
  }

  /** Recovery after a failover: relay passes until every open record has a workflow in the new epoch. */
  async recoverAll(): Promise<StartReport> {
    const total: StartReport = { started: 0, failed: 0 };
    for (;;) {
      const report = await this.relayOnce(1000, 'recovery');
      total.started += report.started;
      total.failed += report.failed;
      if (report.started === 0 || this.stopped) return total;
    }
  }

  /** Runs the relay every interval (and at once) until stop(); it acts while the control lease is held. */
  startRelay(): void {
    this.relay.start({ now: true });
  }

  /** One tick of the relay loop: passes until nothing is left to start, then the sweeper's nudges. */
  private async relayTick(): Promise<void> {
    try {
      if (!this.lease.held()) return;
      let report: StartReport;
      do {
        report = await this.relayOnce();
        if (report.started) this.opts.logger.info(report, 'relay started workflows');
      } while (report.started > 0 && !this.stopped);
      const nudged =
        this.opts.sweeper === false
          ? 0
          : await sweepOnce(this.opts.pool, (r) => this.notifier(r), this.opts.nudgeAfterSeconds, this.lease.token());
      if (nudged) this.opts.logger.info({ nudged }, 'nudged records first in line without progress');
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'relay pass failed');
    }
  }

  private async notifier(region: string): Promise<GateNotifier> {
    return gateNotifier(await this.opts.temporal.client(region));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.relay.stop();
    await this.executor.close();
  }
}
