// Temporal for `npm start`: the configured servers if the settings name them (checked reachable),
// else local dev servers (one shared by both regions, or one per region), started unless one
// already answers on the port; then each region's namespace and search attributes.
import path from 'node:path';
import { westPort, westUiPort, type Config } from '../config';
import { isServerReachable, namespaceRetentionMs, setupNamespace, waitForServer } from '../temporal/setup';
import { devServerArgs } from './dev-server-args';
import { logFile } from './log-files';
import { say } from './say';
import { SupervisedChild, type ChildSpec } from './supervised-child';
import { ensureTemporalCli } from './temporal-cli';

/** A region's dev server run here: the API may stop, pause and start it (chaos, failover drills). */
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
 * Brings Temporal up for every region and returns the regions' addresses. Each dev server started
 * is handed to `supervise` and added to `servers` as soon as it runs, so a later failure stops it.
 */
export async function startTemporal(
  c: Config,
  supervise: (spec: ChildSpec) => SupervisedChild,
  servers: ServerChild[],
): Promise<{ east: string; west: string }> {
  const [east, west] = c.regions;
  // A region whose address comes from the settings (env or a profile) is a real cluster or Cloud.
  const external = c.regions.some((r) => r.external);
  if (external) {
    for (const r of c.regions) {
      if (!(await isServerReachable(r.address, r.connect))) throw new Error(`Temporal is not reachable at ${r.address} (region ${r.name})`);
    }
    say(`temporal: using ${[...new Set(c.regions.map((r) => r.address))].join(', ')}`);
  } else {
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
  for (const r of c.regions) {
    const connection = await waitForServer(r.address, 60_000, r.connect);
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
