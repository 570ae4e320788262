// `npm start`'s supervisor: brings up the whole system on one machine, in order, and stops it.
//   Postgres -> Temporal (dev servers, or the real server on Postgres) -> migrations -> API -> a
//   workflow worker and five stage workers per region, each its own OS process, restarted with
//   backoff if it dies.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { redactUrl } from '../db/pool';
import type { ControlRequest } from '../contracts/control';
import { resolveAdminToken, type AdminToken } from './admin-token';
import { printBanner, warnAuthOff } from './banner';
import { apiSpec, childEnv, workerSpecs, type WorkerChild } from './children';
import { answerControl } from './control';
import { prepareLocalDatabase } from './database';
import { ChildRegistry, registryFile, stopLeftovers } from './child-registry';
import { acquireLock } from './lock-file';
import { portFree } from './ports';
import { ensurePostgres, type PostgresHandle } from './postgres';
import { say } from './say';
import { SupervisedChild, type ChildSpec } from './supervised-child';
import { startTemporal, type ServerChild } from './temporal-servers';
import { withTimeout } from '../with-timeout';

export class Supervisor {
  private readonly children: SupervisedChild[] = [];
  private readonly workers: WorkerChild[] = [];
  private readonly servers: ServerChild[] = [];
  private api: SupervisedChild | undefined;
  private postgres: PostgresHandle | undefined;
  private releaseLock: () => void = () => undefined;
  private stopping = false;
  private admin: AdminToken | undefined;
  private registry: ChildRegistry | undefined;

  constructor(private readonly config: Config) {}

  /** Every child is tracked from its creation, so that shutdown stops it whatever failed later. */
  private supervise = (spec: ChildSpec): SupervisedChild => {
    const child = new SupervisedChild(spec);
    child.on('log', (line: string) => say(line));
    child.on('spawned', (pid?: number) => this.registry?.add(spec.name, pid));
    child.on('exited', (pid?: number) => this.registry?.remove(pid));
    this.children.push(child);
    return child;
  };

  async run(): Promise<void> {
    const c = this.config;
    fs.mkdirSync(path.join(c.dataDir, 'logs'), { recursive: true });
    this.releaseLock = acquireLock(c.dataDir);
    // A supervisor of this folder killed outright left its servers running: stop them first.
    const left = await stopLeftovers(registryFile(c.dataDir));
    if (left.length) say(`stopped what an earlier run left running (its supervisor was killed): ${left.join(', ')}`);
    this.registry = new ChildRegistry(registryFile(c.dataDir));
    if (!(await portFree(c.HOST, c.PORT))) throw new Error(`port ${c.PORT} is in use: set PORT to another port`);

    // Postgres first: the real Temporal server (TEMPORAL_SERVER=postgres) keeps its state there.
    this.postgres = await ensurePostgres({ databaseUrl: c.DATABASE_URL, dataDir: c.dataDir, log: say });
    say(`postgres: ${redactUrl(this.postgres.databaseUrl)} (${this.postgres.kind})`);
    const addresses = await startTemporal(c, this.supervise, this.servers, this.postgres.databaseUrl);
    const active = await prepareLocalDatabase(c, this.postgres.databaseUrl);

    const env = childEnv(c, { databaseUrl: this.postgres.databaseUrl, addresses });
    if (c.AUTH === 'off') {
      warnAuthOff();
    } else {
      this.admin = resolveAdminToken(c.dataDir, c.ADMIN_TOKEN);
      if (this.admin.from === 'generated') say(`admin token generated and stored in ${this.admin.file} (mode 0600)`);
    }
    this.api = this.supervise(apiSpec(c, env, this.admin?.token));
    this.api.on('message', (msg: ControlRequest) => {
      if (msg?.type === 'worker-control') void answerControl(msg, this.api, this.workers, this.servers);
    });
    for (const w of workerSpecs(c, env)) {
      this.workers.push({ region: w.region, role: w.role, copy: w.copy, child: this.supervise(w.spec), metricsPort: w.metricsPort });
    }
    say(`starting the API and ${this.workers.length} worker processes`);
    await withTimeout(
      Promise.all([this.api.start(), ...this.workers.map((w) => w.child.start())]),
      120_000,
      `processes not ready within 120 s; see ${path.join(c.dataDir, 'logs')}`,
    );
    printBanner(c, { addresses, active, postgres: this.postgres, workers: this.workers.length, admin: this.admin });
  }

  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    say('stopping');
    // Workers and API first, then the servers they use.
    const temporal = this.servers.map((x) => x.child);
    // A paused server would hold the workers' graceful shutdown until their kill timeout.
    await Promise.all(temporal.map((ch) => ch.resume()));
    await Promise.all(this.children.filter((ch) => !temporal.includes(ch)).map((ch) => ch.stop()));
    await Promise.all(temporal.map((ch) => ch.stop()));
    await this.postgres?.stop().catch(() => undefined);
    this.registry?.clear();
    this.releaseLock();
    say('stopped');
  }
}
