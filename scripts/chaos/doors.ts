// The chaos run's front door: the supervisor's API and a second API replica, as a load balancer
// sees them. Which one holds the control role, and bringing back a replica a fault killed.
import { api, type System } from '../../harness/system';
import { startApiReplica, type ApiReplica } from '../../harness/replica';

export class Doors {
  private replica: ApiReplica | undefined;

  constructor(private readonly sys: System) {}

  async start(): Promise<void> {
    this.replica = await startApiReplica(this.sys);
  }

  /** Both doors: the supervisor's API first. */
  urls(): string[] {
    return [this.sys.url, ...(this.replica ? [this.replica.url] : [])];
  }

  /** The process holding the control role, by asking each door (a paused one does not answer). */
  async holder(): Promise<{ url: string; pid: number } | undefined> {
    for (const url of this.urls()) {
      const res = await api<{ control?: { self: boolean } }>(`${url}/v1/admin/regions`, 'GET', undefined, {
        signal: AbortSignal.timeout(3_000),
      }).catch(() => undefined);
      if (res?.body?.control?.self) return { url, pid: url === this.sys.url ? await this.sys.apiPid() : this.replica!.pid };
    }
    return undefined;
  }

  /** Starts the replica again if it is gone (the supervisor restarts its own API). */
  async heal(): Promise<void> {
    const r = this.replica;
    if (r && r.proc.exitCode === null && r.proc.signalCode === null) {
      process.kill(r.pid, 'SIGCONT');
      return;
    }
    this.replica = await startApiReplica(this.sys);
  }

  async stop(): Promise<void> {
    const r = this.replica;
    if (!r) return;
    if (r.proc.exitCode === null && r.proc.signalCode === null) process.kill(r.pid, 'SIGCONT');
    await r.stop();
  }
}
