// `npm start`: brings up the whole system on one machine and supervises it.
//   Temporal dev server -> Postgres (+ migrations) -> API -> a workflow worker and five stage workers
//   per region, each its own OS process, restarted with backoff if it dies.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, westPort, westUiPort, type Config } from '../config';
import { createPool, redactUrl } from '../db/pool';
import { prepareDatabase } from '../db/prepare';
import { activeRegion } from '../db/regions';
import { ensureTemporalCli } from './temporal-cli';
import { devServerArgs } from './dev-server-args';
import { isServerReachable, setupNamespace, waitForServer } from '../temporal/setup';
import { WORKER_ROLES, workerProcessTitle } from '../contracts/names';
import type { ControlReply, ControlRequest, ServerInfo, WorkerInfo } from '../contracts/control';
import { SupervisedChild } from './supervised-child';
import { portFree } from './ports';
import { ensurePostgres, type PostgresHandle } from './postgres';
import { resolveAdminToken, type AdminToken } from './admin-token';

const DIST = path.resolve(__dirname, '..');
const say = (line: string) => process.stdout.write(`[pipeline] ${line}\n`);

function acquireLock(dataDir: string): () => void {
  const lock = path.join(dataDir, 'supervisor.pid');
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    if (pid && pid !== process.pid) {
      process.kill(pid, 0); // throws if no such process
      throw new Error(`the pipeline is already running (supervisor pid ${pid}); stop it first (kill ${pid}), or use another DATA_DIR`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  fs.writeFileSync(lock, String(process.pid));
  return () => {
    try {
      if (Number(fs.readFileSync(lock, 'utf8')) === process.pid) fs.unlinkSync(lock);
    } catch {
      // already gone
    }
  };
}

interface ServerChild {
  region: string;
  address: string;
  child: SupervisedChild;
}

interface WorkerChild {
  region: string;
  role: string;
  child: SupervisedChild;
  metricsPort: number | null;
}

export class Supervisor {
  private readonly children: SupervisedChild[] = [];
  private workers: WorkerChild[] = [];
  private readonly servers: ServerChild[] = [];
  private api: SupervisedChild | undefined;
  private postgres: PostgresHandle | undefined;
  private releaseLock: () => void = () => undefined;
  private stopping = false;
  private admin: AdminToken | undefined;

  constructor(private readonly config: Config) {}

  private logFile(name: string): string {
    return path.join(this.config.dataDir, 'logs', `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);
  }

  private track(child: SupervisedChild): SupervisedChild {
    child.on('log', (line: string) => say(line));
    this.children.push(child);
    return child;
  }

  async run(): Promise<void> {
    const c = this.config;
    fs.mkdirSync(path.join(c.dataDir, 'logs'), { recursive: true });
    this.releaseLock = acquireLock(c.dataDir);
    if (!(await portFree(c.HOST, c.PORT))) throw new Error(`port ${c.PORT} is in use: set PORT to another port`);

    const addresses = await this.startTemporal();
    this.postgres = await ensurePostgres({ databaseUrl: c.DATABASE_URL, dataDir: c.dataDir, log: say });
    say(`postgres: ${redactUrl(this.postgres.databaseUrl)} (${this.postgres.kind})`);
    const pool = createPool({ connectionString: this.postgres.databaseUrl, applicationName: 'pipeline-supervisor' });
    const ready = { ...c, databaseUrl: this.postgres.databaseUrl };
    const applied = await prepareDatabase(ready, pool, { create: true });
    if (applied.length) say(`migrations applied: ${applied.join(', ')}`);
    const active = await activeRegion(pool);
    await pool.end();

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ADMIN_TOKEN: undefined,
      DATABASE_URL: this.postgres.databaseUrl,
      TEMPORAL_ADDRESS_EAST: addresses.east,
      TEMPORAL_ADDRESS_WEST: addresses.west,
      DATA_DIR: c.dataDir,
      LOG_FORMAT: 'json',
    };
    // Only the API needs the admin token; workers never see it.
    const apiEnv: NodeJS.ProcessEnv = { ...env };
    if (c.AUTH === 'off') {
      this.warnAuthOff();
    } else {
      this.admin = resolveAdminToken(c.dataDir, c.ADMIN_TOKEN);
      apiEnv.ADMIN_TOKEN = this.admin.token;
      if (this.admin.from === 'generated') say(`admin token generated and stored in ${this.admin.file} (mode 0600)`);
    }
    this.api = this.track(
      new SupervisedChild({
        name: 'api',
        script: path.join(DIST, 'api', 'server.js'),
        args: [],
        env: apiEnv,
        logFile: this.logFile('api'),
        waitForReady: true,
        maxBackoffMs: c.WORKER_RESTART_MAX_MS,
      }),
    );
    this.api.on('message', (msg: ControlRequest) => {
      if (msg?.type === 'worker-control') void this.control(msg);
    });
    for (const region of c.regions) {
      for (const role of WORKER_ROLES) {
        // Each worker its own SDK metrics port: METRICS_PORT_BASE, +1, ... (0: off).
        const metricsPort = c.METRICS_PORT_BASE > 0 ? c.METRICS_PORT_BASE + this.workers.length : null;
        const child = this.track(
          new SupervisedChild({
            name: workerProcessTitle(region.name, role),
            script: path.join(DIST, 'workers', 'worker.js'),
            args: [region.name, role],
            env: { ...env, METRICS_PORT: String(metricsPort ?? 0) },
            logFile: this.logFile(`worker-${region.name}-${role}`),
            waitForReady: true,
            maxBackoffMs: c.WORKER_RESTART_MAX_MS,
            stopTimeoutMs: 5_000,
          }),
        );
        this.workers.push({ region: region.name, role, child, metricsPort });
      }
    }
    say(`starting the API and ${this.workers.length} worker processes`);
    await withTimeout(
      Promise.all([this.api.start(), ...this.workers.map((w) => w.child.start())]),
      120_000,
      `processes not ready within 120 s; see ${path.join(c.dataDir, 'logs')}`,
    );
    this.banner(addresses, active.name);
  }

  private async startTemporal(): Promise<{ east: string; west: string }> {
    const c = this.config;
    const [east, west] = c.regions;
    // A region whose address comes from the settings (env or a profile) is a real cluster or Cloud.
    const external = c.regions.some((r) => r.external);
    if (external) {
      for (const r of c.regions) {
        if (!(await isServerReachable(r.address, r.connect))) throw new Error(`Temporal is not reachable at ${r.address} (region ${r.name})`);
      }
      say(`temporal: using ${[...new Set(c.regions.map((r) => r.address))].join(', ')}`);
    } else {
      // shared: both namespaces on one dev server; servers: one per region, so that killing one is
      // a real region outage.
      const plan =
        c.REGION_TOPOLOGY === 'servers'
          ? [
              { regions: ['east'], port: c.TEMPORAL_PORT, uiPort: c.TEMPORAL_UI_PORT, db: 'temporal-east.db' },
              { regions: ['west'], port: westPort(c), uiPort: westUiPort(c), db: 'temporal-west.db' },
            ]
          : [{ regions: ['east', 'west'], port: c.TEMPORAL_PORT, uiPort: c.TEMPORAL_UI_PORT, db: 'temporal.db' }];
      let cli: string | undefined;
      for (const server of plan) {
        const address = `127.0.0.1:${server.port}`;
        if (await isServerReachable(address)) {
          say(`temporal: a server already answers at ${address}; using it`);
          continue;
        }
        cli ??= await ensureTemporalCli({ explicit: c.TEMPORAL_CLI, cacheDir: c.TEMPORAL_CLI_CACHE, log: say });
        const dbFile = path.join(c.dataDir, server.db);
        const namespaces = c.regions.filter((r) => server.regions.includes(r.name)).map((r) => r.namespace);
        const name = plan.length > 1 ? `temporal-${server.regions[0]}` : 'temporal';
        const child = this.track(
          new SupervisedChild({
            name,
            command: cli,
            args: devServerArgs({ port: server.port, uiPort: server.uiPort, dbFile, namespaces }),
            env: process.env,
            logFile: this.logFile(name),
            waitForReady: false,
            maxBackoffMs: c.WORKER_RESTART_MAX_MS,
          }),
        );
        for (const region of server.regions) this.servers.push({ region, address, child });
        say(`temporal: starting the dev server for ${server.regions.join(' and ')} on ${address} (state in ${dbFile})`);
        await child.start();
      }
    }
    for (const r of c.regions) {
      const connection = await waitForServer(r.address, 60_000, r.connect);
      try {
        await setupNamespace(connection, r.namespace);
      } catch (err) {
        // Temporal Cloud (and locked-down clusters) create namespaces and search attributes
        // outside the application: use them as they are.
        if (!external) throw err;
        say(`temporal: could not set up namespace ${r.namespace} (${(err as Error).message}); it must exist with the search attributes SourceId, RecordSeq, Stage, Region`);
      } finally {
        await connection.close();
      }
    }
    return { east: east.address, west: west.address };
  }

  private serverInfo(s: ServerChild): ServerInfo {
    const info = s.child.info();
    return { region: s.region, address: s.address, pid: info.pid, state: info.state, restarts: info.restarts };
  }

  private workerInfo(w: WorkerChild): WorkerInfo {
    const info = w.child.info();
    return { region: w.region, stage: w.role, pid: info.pid, state: info.state, restarts: info.restarts, title: info.name, metricsPort: w.metricsPort };
  }

  private async control(req: ControlRequest): Promise<void> {
    const reply = (r: Omit<ControlReply, 'type' | 'id'>) =>
      this.api?.process?.send?.({ type: 'worker-control-reply', id: req.id, ...r } satisfies ControlReply);
    if (req.command === 'list') return void reply({ ok: true, workers: this.workers.map((w) => this.workerInfo(w)) });
    if (req.command === 'servers') return void reply({ ok: true, servers: this.servers.map((x) => this.serverInfo(x)) });
    if (req.command.startsWith('server-')) {
      const server = this.servers.find((x) => x.region === req.region);
      if (!server) return void reply({ ok: false, error: `no Temporal server of region ${req.region} is run here` });
      try {
        if (req.command === 'server-stop') await server.child.stop(req.signal);
        else if (req.command === 'server-pause') await server.child.pause();
        else if (req.command === 'server-resume') await server.child.resume();
        else await server.child.start();
        return void reply({ ok: true, server: this.serverInfo(server) });
      } catch (err) {
        return void reply({ ok: false, error: (err as Error).message });
      }
    }
    const w = this.workers.find((x) => x.region === req.region && x.role === req.stage);
    if (!w) return void reply({ ok: false, error: `no worker ${req.region}/${req.stage}` });
    try {
      if (req.command === 'stop') await w.child.stop(req.signal);
      else await withTimeout(w.child.start(), 60_000, 'worker did not become ready within 60 s');
      reply({ ok: true, worker: this.workerInfo(w) });
    } catch (err) {
      reply({ ok: false, error: (err as Error).message });
    }
  }

  private warnAuthOff(): void {
    const line = '!'.repeat(78);
    process.stdout.write(
      [line, '!!  AUTH=off: the API checks no credentials. Anyone who reaches the port may', '!!  write to any source and fail over the system. For local experiments only.', line, ''].join('\n'),
    );
  }

  private banner(addresses: { east: string; west: string }, active: string): void {
    const c = this.config;
    const host = c.HOST === '0.0.0.0' ? '127.0.0.1' : c.HOST;
    const api = `http://${host}:${c.PORT}`;
    const ns = c.regions.find((r) => r.name === active)!.namespace;
    const ui =
      c.regions.some((r) => r.external) || c.TEMPORAL_UI_PORT === 0
        ? '(not started here)'
        : c.REGION_TOPOLOGY === 'servers'
          ? `east http://localhost:${c.TEMPORAL_UI_PORT}/namespaces/${c.regions[0].namespace}/workflows, west http://localhost:${westUiPort(c)}/namespaces/${c.regions[1].namespace}/workflows`
          : `http://localhost:${c.TEMPORAL_UI_PORT}/namespaces/${ns}/workflows`;
    const lines = [
      '',
      'The record pipeline is up.',
      `  API        ${api}`,
      `  API docs   ${api}/docs`,
      `  Temporal   east ${addresses.east} (${c.regions[0].namespace}), west ${addresses.west} (${c.regions[1].namespace}); active: ${active}`,
      `  Web UI     ${ui}`,
      `  Postgres   ${redactUrl(this.postgres!.databaseUrl)} (${this.postgres!.kind})`,
      `  Workers    ${this.workers.length} processes: GET ${api}/v1/admin/workers${c.METRICS_PORT_BASE ? ` (SDK metrics on ports ${c.METRICS_PORT_BASE}-${c.METRICS_PORT_BASE + this.workers.length - 1})` : ''}`,
      `  Health     ${api}/readyz, ${api}/v1/stats, ${api}/metrics`,
      `  Logs       ${path.join(c.dataDir, 'logs')}`,
      ...this.authLines(),
      '',
      `  Try:  curl -s -X POST ${api}/v1/sources/demo/records -H "Authorization: Bearer $ADMIN_TOKEN" \\`,
      `          -H 'content-type: application/json' -d '{"records":[{"id":"r1","payload":{"amount":12.5}}]}'`,
      `        curl -s ${api}/v1/sources/demo -H "Authorization: Bearer $ADMIN_TOKEN"`,
      '',
      'Ctrl-C stops everything.',
      '',
    ];
    process.stdout.write(lines.join('\n') + '\n');
    if (!this.admin) this.warnAuthOff();
  }

  private authLines(): string[] {
    if (!this.admin) return ['  Auth       OFF (AUTH=off): no credentials are checked'];
    // A token the operator set is not echoed; a generated one must be shown to be usable.
    if (this.admin.from === 'env') return ['  Auth       admin token from the ADMIN_TOKEN environment variable'];
    return [`  Auth       admin token (kept in ${this.admin.file}):`, `             export ADMIN_TOKEN=${this.admin.token}`];
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
    this.releaseLock();
    say('stopped');
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]);
}

if (require.main === module) {
  process.title = 'pipeline-supervisor';
  let supervisor: Supervisor | undefined;
  const stop = (code: number) => {
    void (supervisor?.shutdown() ?? Promise.resolve()).finally(() => process.exit(code));
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  try {
    supervisor = new Supervisor(loadConfig());
  } catch (err) {
    say((err as Error).message);
    process.exit(2);
  }
  supervisor.run().catch((err) => {
    say(`failed to start: ${(err as Error).message}`);
    stop(1);
  });
}
