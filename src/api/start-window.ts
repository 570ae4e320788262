// Moves each source's start window: when a record passes WINDOW_STAGE (a NOTIFY on its gate
// channel), the never-started records the new watermark lets in get their workflows. The relay's
// pass does the same every RELAY_INTERVAL_MS, so a lost notice costs latency, never a record.
import { WINDOW_STAGE } from '../contracts/gate';
import type { GateListener } from '../db/gate-listener';
import type { Logger } from '../logger';
import type { WorkflowStarter } from './starter';

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
