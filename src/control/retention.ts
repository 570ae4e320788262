// Retention, in the control role: every RETENTION_INTERVAL_MS the holder removes finished records
// older than RETENTION, with their stage rows and deliveries, in small batches (one source and at
// most RETENTION_BATCH records per transaction), so no lock the hot path needs is held for long and
// nothing grows without bound. What it removed is recorded in Postgres for every replica's /metrics.
import type { Logger } from '../logger';
import type { Pool } from '../db/pool';
import { readControlState, writeControlState } from '../db/control-lease';
import { removeBatch, retentionCandidates } from '../db/retention';
import { NO_LEASE, type LeaseView } from './lease';
import { Periodic } from './periodic';

export interface RetentionOptions {
  pool: Pool;
  logger: Logger;
  /** Finished records older than this are removed. */
  retentionMs: number;
  intervalMs: number;
  /** Records per transaction at most. */
  batch: number;
  /** A pass stops after this long; the next one goes on. */
  passBudgetMs?: number;
  lease?: LeaseView;
}

/** Where the holder records what retention removed (control_state). */
export const RETENTION_STATE = 'retention';

export interface RetentionView {
  passes: number;
  recordsRemoved: number;
  rowsRemoved: number;
  lastPassAt: string | null;
}

export async function retentionView(pool: Pool): Promise<RetentionView> {
  return (
    (await readControlState<RetentionView>(pool, RETENTION_STATE)) ?? { passes: 0, recordsRemoved: 0, rowsRemoved: 0, lastPassAt: null }
  );
}

/** How many of the oldest finished records past the horizon a pass looks at to find their sources. */
const CANDIDATE_SCAN = 5_000;

export class Retention {
  private readonly loop: Periodic;

  constructor(private readonly opts: RetentionOptions) {
    this.loop = new Periodic(opts.intervalMs, async () => {
      if (!this.lease.held()) return;
      await this.runOnce().catch((err) => this.opts.logger.warn({ err: (err as Error).message }, 'retention pass failed'));
    });
  }

  private get lease(): LeaseView {
    return this.opts.lease ?? NO_LEASE;
  }

  /** One pass (nothing without the lease): the records removed and the rows with them. */
  async runOnce(now = Date.now()): Promise<{ recordsRemoved: number; rowsRemoved: number }> {
    const { pool, batch } = this.opts;
    const token = this.lease.token();
    const done = { recordsRemoved: 0, rowsRemoved: 0 };
    if (token === null) return done;
    const horizon = new Date(now - this.opts.retentionMs);
    const deadline = performance.now() + (this.opts.passBudgetMs ?? 10_000);
    for (const sourceId of await retentionCandidates(pool, horizon, CANDIDATE_SCAN)) {
      for (;;) {
        if (!this.lease.held() || performance.now() > deadline) return this.record(done, token);
        const b = await removeBatch(pool, sourceId, horizon, batch, token);
        done.recordsRemoved += b.recordsRemoved;
        done.rowsRemoved += b.rowsRemoved;
        if (b.recordsRemoved < batch) break;
      }
    }
    return this.record(done, token);
  }

  private async record(done: { recordsRemoved: number; rowsRemoved: number }, token: number) {
    const before = await retentionView(this.opts.pool);
    await writeControlState(
      this.opts.pool,
      RETENTION_STATE,
      {
        passes: before.passes + 1,
        recordsRemoved: before.recordsRemoved + done.recordsRemoved,
        rowsRemoved: before.rowsRemoved + done.rowsRemoved,
        lastPassAt: new Date().toISOString(),
      } satisfies RetentionView,
      token,
    );
    if (done.recordsRemoved) this.opts.logger.info(done, 'retention removed finished records');
    return done;
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
