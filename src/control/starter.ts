// Starts record workflows in the active region, and the relay that makes sure every accepted
// record gets one: after a failed start (Temporal down), a crash between commit and start, or a
// failover (a record started at an older epoch is started again in the new active region).
import type { Pool } from '../db/pool';
import { activeRegion, type RegionRow } from '../db/regions';
import { readWatermarks } from '../db/stages';
import type { StartContext } from '../db/checkpoint';
import { readIdentities, unstartedInWindow } from '../db/queries';
import { markStarted, pendingStarts, type PendingStart } from '../db/relay-queries';
import { firstUnfinishedStage, WINDOW_STAGE, type Watermarks } from '../contracts/gate';
import type { RecordWorkflowInput } from '../contracts/record.messages';
import type { Logger } from '../logger';
import type { TemporalClients } from '../temporal/clients';
import { gateNotifier, type GateNotifier } from '../temporal/notifier';
import { recordAttributes } from '../telemetry/spans';
import { InlineStartExecutor, type StartExecutor, type StartJob, type StartOutcome } from './start-executor';
import { SourceWindows } from './start-window';
import { sweepOnce } from './sweeper';
import { recordWorkflowId, SA, WORKFLOW_TASK_QUEUE } from '../contracts/names';

export interface StarterOptions {
  pool: Pool;
  temporal: TemporalClients;
  logger: Logger;
  concurrency: number;
  relayIntervalMs: number;
  /** Nudge a record first in line at a stage this long without progress (the gate's fallback). */
  nudgeAfterSeconds: number;
  workflowDefaults: Pick<RecordWorkflowInput, 'activityTimeoutMs' | 'retryMaxIntervalMs' | 'historyLimit'>;
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
}

/** A record to start: its key, and the epoch it was last started at (null: never). */
export type PendingRecord = PendingStart;

/** What the UI shows of a record besides its key: the client's id and the payload's digest. */
export interface RecordIdentity {
  recordId: string;
  payloadHash: string;
  /** The trace context the record was accepted in (null: tracing was off). */
  traceparent?: string | null;
}

/** What the submit path already knows when it starts the records it just accepted. */
export type KnownStart = StartContext & { identities: Map<number, RecordIdentity> };

/** Which path starts a record's workflow (a span attribute of its start). */
export type StartedBy = 'submit' | 'window' | 'relay' | 'recovery' | 'reconciler';

export interface StartReport {
  started: number;
  failed: number;
}

/** How a record's workflow is started: id, input, conflict policy, search attributes. */
export function recordStartOptions(
  rec: PendingRecord,
  region: Pick<RegionRow, 'name' | 'epoch'>,
  wm: Watermarks,
  defaults: StarterOptions['workflowDefaults'],
  identity?: RecordIdentity,
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

export class WorkflowStarter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private relayTail: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly executor: StartExecutor;
  private readonly windows: SourceWindows;

  constructor(private readonly opts: StarterOptions) {
    this.executor = opts.executor ?? new InlineStartExecutor(opts.temporal);
    this.windows = new SourceWindows(opts.startWindow ?? 0, opts.startWindowBudget ?? 0);
  }

  /**
   * Starts the workflows of records just accepted (called after the checkpoint commit). With the
   * checkpoint's start context (region, watermarks) and the records' identities, no read is needed
   * before the starts.
   */
  async startRecords(sourceId: string, seqs: number[], by: StartedBy = 'submit', known?: KnownStart): Promise<StartReport> {
    if (!seqs.length) return { started: 0, failed: 0 };
    // In line with the relay passes: a recovery pass that read a record at its old epoch (before
    // this start's markStarted) would start it again with TERMINATE_EXISTING and end this run.
    return this.serial(() =>
      this.start(
        seqs.map((seq) => ({ source_id: sourceId, seq, epoch: null })),
        by,
        known?.region,
        undefined,
        known && { sourceId, watermarks: known.watermarks, identities: known.identities },
      ),
    );
  }

  /** Starts the never-started records of a source that its inbound watermark now lets in. */
  async startWindowOf(sourceId: string): Promise<StartReport> {
    const window = this.windows.of(sourceId);
    if (window <= 0) return { started: 0, failed: 0 };
    const { seqs, beyond } = await unstartedInWindow(this.opts.pool, sourceId, window);
    this.windows.note(sourceId, beyond);
    return this.startRecords(sourceId, seqs, 'window');
  }

  /**
   * One relay pass: every open record without a workflow in the current epoch. Passes run one at
   * a time: recovery and the relay loop would otherwise both start the same records, and the
   * second start (TERMINATE_EXISTING, the record's epoch being older) would end the first's run.
   */
  relayOnce(limit = 1000, by: StartedBy = 'relay'): Promise<StartReport> {
    return this.serial(() => this.relayPass(limit, by));
  }

  /** Runs fn after every start queued before it: starts and their markStarted never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const pass = this.relayTail.then(fn);
    this.relayTail = pass.catch(() => undefined);
    return pass;
  }

  private async relayPass(limit: number, by: StartedBy): Promise<StartReport> {
    const region = await activeRegion(this.opts.pool);
    const rows = await pendingStarts(this.opts.pool, region.epoch, limit, this.windows.now());
    if (!rows.length) return { started: 0, failed: 0 };
    return this.start(rows, by, region);
  }

  private async start(
    records: PendingRecord[],
    by: StartedBy,
    known?: RegionRow,
    onStarted?: (rec: PendingRecord) => void,
    read?: Omit<KnownStart, 'region'> & { sourceId: string },
  ): Promise<StartReport> {
    const { pool, logger } = this.opts;
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
      return window <= 0 || r.seq <= (watermarks.get(r.source_id)?.[WINDOW_STAGE] ?? 0) + window;
    };
    const due = records.filter((r) => r.epoch !== null || inWindow(r));
    // A submit's records (one source) are its newest: whether any wait tells whether the source has a backlog.
    if (by === 'submit') this.windows.note(records[0].source_id, due.length < records.length);
    const jobs: StartJob[] = due.map((rec) => {
      const identity = identities.get(`${rec.source_id}:${rec.seq}`);
      return {
        options: recordStartOptions(rec, region, watermarks.get(rec.source_id) ?? {}, this.opts.workflowDefaults, identity),
        traceparent: identity?.traceparent,
        attrs: {
          ...recordAttributes({ sourceId: rec.source_id, seq: rec.seq, region: region.name, epoch: region.epoch }),
          'pipeline.started_by': by,
        },
      };
    });
    let outcomes: StartOutcome[];
    try {
      outcomes = await this.executor.start(region.name, jobs, this.opts.concurrency);
    } catch (err) {
      logger.warn(
        { region: region.name, err: (err as Error).message },
        'workflow starts not issued (Temporal unreachable, or the start thread gone); the relay will start these later',
      );
      return { started: 0, failed: records.length };
    }
    const started: PendingRecord[] = [];
    let failed = 0;
    due.forEach((rec, i) => {
      const why = outcomes[i];
      if (why === null) {
        started.push(rec);
        onStarted?.(rec);
        return;
      }
      failed += 1;
      logger.warn(
        { sourceId: rec.source_id, seq: rec.seq, workflowId: jobs[i].options.workflowId, region: region.name, err: why },
        'workflow start failed; the relay will retry',
      );
    });
    await markStarted(this.opts.pool, started, region);
    return { started: started.length, failed };
  }

  /**
   * Starts a new run for records of the current epoch whose run is gone (the reconciler's repair).
   * USE_EXISTING: if a run was started meanwhile it is at this epoch, so it is ours and kept.
   */
  async restart(records: { source_id: string; seq: number }[], region: RegionRow): Promise<{ source_id: string; seq: number }[]> {
    const started: { source_id: string; seq: number }[] = [];
    await this.start(
      records.map((r) => ({ source_id: r.source_id, seq: r.seq, epoch: null })),
      'reconciler',
      region,
      (rec) => started.push(rec),
    );
    return started;
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

  /** Runs the relay every interval (and at once) until stop(). */
  startRelay(): void {
    const tick = async () => {
      if (this.stopped) return;
      try {
        let report: StartReport;
        do {
          report = await this.relayOnce();
          if (report.started) this.opts.logger.info(report, 'relay started workflows');
        } while (report.started > 0 && !this.stopped);
        const nudged =
          this.opts.sweeper === false ? 0 : await sweepOnce(this.opts.pool, (r) => this.notifier(r), this.opts.nudgeAfterSeconds);
        if (nudged) this.opts.logger.info({ nudged }, 'nudged records first in line without progress');
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message }, 'relay pass failed');
      }
      if (!this.stopped) this.timer = setTimeout(() => void (this.running = tick()), this.opts.relayIntervalMs);
    };
    this.running = tick();
  }

  private async notifier(region: string): Promise<GateNotifier> {
    return gateNotifier(await this.opts.temporal.client(region));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.executor.close();
  }
}
