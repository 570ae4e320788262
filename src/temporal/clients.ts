// Temporal clients, one per region, connected lazily and reconnected after a failure.
import { Client, Connection, type ConnectionLike } from '@temporalio/client';
import type { RegionConfig } from '../config';
import { tracingClientInterceptors } from '../telemetry/temporal';

/** How a region's connection is made: grpc-js by default, or the SDK's native one (native-connection.ts). */
export type Connect = (rc: RegionConfig) => Promise<ConnectionLike>;

/** How long a connect may take before the caller fails (a server that accepts and never answers). */
export const CONNECT_TIMEOUT_MS = 3000;

/** grpc-js, in this thread: no native runtime, the default of every client but the start thread's. */
const grpcConnect: Connect = (rc) => Connection.connect({ address: rc.address, ...rc.connect, connectTimeout: CONNECT_TIMEOUT_MS });

export class TemporalClients {
  private readonly clients = new Map<string, Promise<Client>>();

  constructor(
    private readonly regions: RegionConfig[],
    private readonly connect: Connect = grpcConnect,
  ) {}

  region(name: string): RegionConfig {
    const found = this.regions.find((r) => r.name === name);
    if (!found) throw new Error(`unknown region ${name}`);
    return found;
  }

  client(name: string): Promise<Client> {
    let pending = this.clients.get(name);
    if (!pending) {
      const rc = this.region(name);
      pending = this.connect(rc).then(
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
