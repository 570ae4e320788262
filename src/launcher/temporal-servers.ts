// Temporal for `npm start`: the configured servers if the settings name them (checked reachable),
// else local servers: dev servers (one shared by both regions, or one per region), or with
// TEMPORAL_SERVER=postgres the real server on the pipeline's Postgres, one per region; each started
// unless one already answers on the port; then each region's namespace and search attributes.
import path from 'node:path';
import { westPort, westUiPort, type Config } from '../config';
import { ensureUiServer, writeUiFiles } from './temporal-ui';
import { isServerReachable, namespaceRetentionMs, setupNamespace, waitForServer } from '../temporal/setup';
import { devServerArgs } from './dev-server-args';
import { logFile } from './log-files';
import { freePortRange } from './ports';
import { say } from './say';
import { SupervisedChild, type ChildSpec } from './supervised-child';
import { ensureTemporalCli } from './temporal-cli';
import {
  SERVICE_PORT_COUNT,
  ensureTemporalServer,
  postgresTarget,
  prepareServerDatabases,
  serverArgs,
  servicePorts,
  writeServerFiles,
  type ServerBinaries,
} from './temporal-server';

/** A region's server run here (dev or real): the API may stop, pause and start it (chaos, failover drills). */
export interface ServerChild {
  region: string;
  address: string;
  child: SupervisedChild;
}

interface PlannedServer {
  regions: string[];
  port: number;
  uiPort: number;
  db: string;
}

/** shared: both namespaces on one dev server; servers: one per region, so that killing one is a real region outage. */
function planDevServers(c: Config): PlannedServer[] {
  return c.REGION_TOPOLOGY === 'servers'
    ? [
        { regions: ['east'], port: c.TEMPORAL_PORT, uiPort: c.TEMPORAL_UI_PORT, db: 'temporal-east.db' },
        { regions: ['west'], port: westPort(c), uiPort: westUiPort(c), db: 'temporal-west.db' },
      ]
    : [{ regions: ['east', 'west'], port: c.TEMPORAL_PORT, uiPort: c.TEMPORAL_UI_PORT, db: 'temporal.db' }];
}

/**
 * Brings Temporal up for every region and returns the regions' addresses. Each server started is
 * handed to `supervise` and added to `servers` as soon as it runs, so a later failure stops it.
 * `databaseUrl` is the pipeline's Postgres (TEMPORAL_SERVER=postgres puts Temporal's databases there).
 */
export async function startTemporal(
  c: Config,
  supervise: (spec: ChildSpec) => SupervisedChild,
  servers: ServerChild[],
  databaseUrl: string,
): Promise<{ east: string; west: string }> {
  const [east, west] = c.regions;
  // A region whose address comes from the settings (env or a profile) is a real cluster or Cloud.
  const external = c.regions.some((r) => r.external);
  if (external) {
    if (c.TEMPORAL_SERVER === 'postgres') {
      throw new Error('TEMPORAL_SERVER=postgres runs the servers here: it cannot be combined with a Temporal address from the settings');
    }
    for (const r of c.regions) {
      if (!(await isServerReachable(r.address, r.connect))) throw new Error(`Temporal is not reachable at ${r.address} (region ${r.name})`);
    }
    say(`temporal: using ${[...new Set(c.regions.map((r) => r.address))].join(', ')}`);
  } else if (c.TEMPORAL_SERVER === 'postgres') {
    await startRealServers(c, supervise, servers, databaseUrl);
  } else {
    await startDevServers(c, supervise, servers);
  }
  for (const r of c.regions) {
    // The real server joins its own membership ring and takes its shards first: give it longer.
    const connection = await waitForServer(r.address, c.TEMPORAL_SERVER === 'postgres' ? 120_000 : 60_000, r.connect);
    try {
      await setupNamespace(connection, r.namespace, namespaceRetentionMs(c.retentionMs));
    } catch (err) {
      // Temporal Cloud (and locked-down clusters) create namespaces and search attributes
      // outside the application: use them as they are.
      if (!external) throw err;
      say(
        `temporal: could not set up namespace ${r.namespace} (${(err as Error).message}); it must exist with the search attributes SourceId, RecordSeq, Stage, Region`,
      );
    } finally {
      await connection.close();
    }
  }
  return { east: east.address, west: west.address };
}

async function startDevServers(c: Config, supervise: (spec: ChildSpec) => SupervisedChild, servers: ServerChild[]): Promise<void> {
  const plan = planDevServers(c);
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
    const child = supervise({
      name,
      command: cli,
      args: devServerArgs({ port: server.port, uiPort: server.uiPort, dbFile, namespaces }),
      env: process.env,
      logFile: logFile(c.dataDir, name),
      waitForReady: false,
      maxBackoffMs: c.WORKER_RESTART_MAX_MS,
      nice: c.WORKER_NICE,
    });
    for (const region of server.regions) servers.push({ region, address, child });
    say(`temporal: starting the dev server for ${server.regions.join(' and ')} on ${address} (state in ${dbFile})`);
    await child.start();
  }
}

/**
 * TEMPORAL_SERVER=postgres: per region, its databases made ready, its configuration written under
 * DATA_DIR/temporal-server, and the real server supervised like a dev server (its frontend on the
 * region's port, the other services on free ports). All servers start before any is waited for.
 */
async function startRealServers(
  c: Config,
  supervise: (spec: ChildSpec) => SupervisedChild,
  servers: ServerChild[],
  databaseUrl: string,
): Promise<void> {
  const db = postgresTarget(databaseUrl);
  const dir = path.join(c.dataDir, 'temporal-server');
  let bins: ServerBinaries | undefined;
  const regions = [
    { region: 'east', port: c.TEMPORAL_PORT, uiPort: c.TEMPORAL_UI_PORT },
    { region: 'west', port: westPort(c), uiPort: westUiPort(c) },
  ];
  // One range for both regions: the first server's ports are not bound yet when the second's are chosen.
  const base = await freePortRange(SERVICE_PORT_COUNT * regions.length);
  for (const [i, { region, port, uiPort }] of regions.entries()) {
    const address = `127.0.0.1:${port}`;
    if (await isServerReachable(address)) {
      say(`temporal: a server already answers at ${address}; using it for ${region}`);
      continue;
    }
    bins ??= await ensureTemporalServer({ cacheDir: c.TEMPORAL_CLI_CACHE, log: say });
    const dbs = await prepareServerDatabases(bins.sqlTool, db, region, say);
    say(`temporal: ${region}'s databases ${dbs.main} and ${dbs.visibility} ready (${dbs.ms} ms)`);
    const ports = servicePorts(base + i * SERVICE_PORT_COUNT);
    const configFile = writeServerFiles(dir, { region, port, ports, pg: db, dynamicConfigFile: path.join(dir, 'dynamic-config.yaml') });
    const name = `temporal-${region}`;
    const child = supervise({
      name,
      command: bins.server,
      args: serverArgs(configFile),
      env: process.env,
      logFile: logFile(c.dataDir, name),
      waitForReady: false,
      maxBackoffMs: c.WORKER_RESTART_MAX_MS,
      nice: c.WORKER_NICE,
      // A graceful stop of the real server drains its shards, which takes a few seconds.
      stopTimeoutMs: 20_000,
    });
    servers.push({ region, address, child });
    say(`temporal: starting the Temporal server ${region} on ${address} (Postgres ${dbs.main}; config ${configFile})`);
    await child.start();
    if (uiPort > 0) {
      const namespace = c.regions.find((r) => r.name === region)!.namespace;
      const ui = await ensureUiServer({ cacheDir: c.TEMPORAL_CLI_CACHE, log: say });
      const uiName = `temporal-ui-${region}`;
      const uiChild = supervise({
        name: uiName,
        command: ui,
        args: writeUiFiles(dir, { region, temporalAddress: address, port: uiPort, namespace }),
        env: process.env,
        logFile: logFile(c.dataDir, uiName),
        waitForReady: false,
        maxBackoffMs: c.WORKER_RESTART_MAX_MS,
        nice: c.WORKER_NICE,
      });
      say(`temporal: starting the Web UI of ${region} on http://localhost:${uiPort}`);
      await uiChild.start();
    }
  }
}
