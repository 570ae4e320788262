// Temporal clients, one per region, connected lazily and reconnected after a failure.
import { Client, Connection } from '@temporalio/client';
import type { RegionConfig } from '../config';
import { tracingClientInterceptors } from '../telemetry/temporal';

export class TemporalClients {
  private readonly clients = new Map<string, Promise<Client>>();

  constructor(private readonly regions: RegionConfig[]) {}

  region(name: string): RegionConfig {
    const found = this.regions.find((r) => r.name === name);
    if (!found) throw new Error(`unknown region ${name}`);
    return found;
  }

  client(name: string): Promise<Client> {
    let pending = this.clients.get(name);
    if (!pending) {
      const rc = this.region(name);
      pending = Connection.connect({ address: rc.address, ...rc.connect, connectTimeout: '3s' }).then(
        // Tracing on: a start or signal carries the caller's trace context in its headers.
        (connection) => new Client({ connection, namespace: rc.namespace, interceptors: tracingClientInterceptors() }),
      );
      // A failed connect is forgotten so the next call tries again.
      pending.catch(() => this.clients.delete(name));
      this.clients.set(name, pending);
    }
    return pending;
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((p) => p.then((c) => c.connection.close()).catch(() => undefined)));
  }
}
