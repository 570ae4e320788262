// Moves each source's start window: when a record passes WINDOW_STAGE (a NOTIFY on its gate
// channel), the never-started records the new watermark lets in get their workflows. The relay's
// pass does the same every RELAY_INTERVAL_MS, so a lost notice costs latency, never a record.
import { WINDOW_STAGE } from '../contracts/gate';
import type { GateListener } from '../db/gate-listener';
import type { Logger } from '../logger';
import type { WorkflowStarter } from './starter';

/**
 * The window of one source: `max` while the sources with a backlog are few, shared down to 1 each
 * when `budget` divided among them is smaller (budget 0: always `max`; max 0: no window).
 */
export function sharedWindow(max: number, budget: number, backlogged: number): number {
  if (max <= 0 || budget <= 0) return max;
  return Math.max(1, Math.min(max, Math.floor(budget / Math.max(1, backlogged))));
}

/**
 * Which sources have never-started records waiting past their window, as the start passes last
 * saw them, and the window each source gets now. Open workflows then stay near `budget` however
 * many sources have a backlog: each extra one past what the CPU can run only lengthens the trip of
 * the first records (a pipeline that fills slowly), while a lone hot source still gets `max`,
 * which its rate needs. A stale entry only narrows the others' windows until that source's next
 * pass: the windows decide when a record starts, never whether.
 */
export class SourceWindows {
  private readonly backlogged = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly budget: number,
  ) {}

  /** The window of sourceId, counting it among the sources with a backlog. */
  of(sourceId: string): number {
    const n = this.backlogged.size + (this.backlogged.has(sourceId) ? 0 : 1);
    return sharedWindow(this.max, this.budget, n);
  }

  /** One window for every source (the relay's pass). */
  now(): number {
    return sharedWindow(this.max, this.budget, this.backlogged.size);
  }

  /** After a start pass of the source: whether never-started records still wait past its window. */
  note(sourceId: string, waiting: boolean): void {
    if (waiting) this.backlogged.add(sourceId);
    else this.backlogged.delete(sourceId);
  }
}

export class StartWindow {
  /** Sources with a start pass running, and whether another notice came meanwhile. */
  private readonly busy = new Map<string, boolean>();
  private readonly unsubscribe: () => void;

  constructor(
    listener: GateListener,
    private readonly starter: WorkflowStarter,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = listener.subscribe((notice) => {
      // A reconnect (null) is left to the relay: it starts whatever the windows let in.
      if (notice?.t === WINDOW_STAGE) this.kick(notice.s);
    });
  }

  stop(): void {
    this.unsubscribe();
  }

  /** One pass per source at a time; notices during it coalesce into one more pass. */
  private kick(sourceId: string): void {
    if (this.busy.has(sourceId)) {
      this.busy.set(sourceId, true);
      return;
    }
    this.busy.set(sourceId, false);
    void (async () => {
      do {
        this.busy.set(sourceId, false);
        try {
          await this.starter.startWindowOf(sourceId);
        } catch (err) {
          this.logger.warn({ sourceId, err: (err as Error).message }, 'start window pass failed; the relay will start them');
        }
      } while (this.busy.get(sourceId));
      this.busy.delete(sourceId);
    })();
  }
}
