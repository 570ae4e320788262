// The real Temporal server on Postgres (TEMPORAL_SERVER=postgres), one per region: its binaries
// (built once into the CLI's cache), its two databases per region on the pipeline's Postgres
// (created and migrated with the SQL tool's embedded schemas; reused once migrated), and its
// configuration (written under DATA_DIR from the plan below, which is pure and unit-tested).
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { goInstall } from './go-install';

export const TEMPORAL_SERVER_VERSION = 'v1.31.2';
/** Later patches need a newer Go than the machines here have; this one builds with Go 1.26. */
export const TEMPORAL_SERVER_MODULES = [
  `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`,
  `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
];
export const SQL_PLUGIN = 'postgres12';
/** The SQL tool's embedded schemas. */
export const SCHEMAS = { main: 'postgresql/v12/temporal', visibility: 'postgresql/v12/visibility' } as const;
export const HISTORY_SHARDS = 4;
/** Connections per service and store at most (each of the four services has its own pools). */
export const MAX_CONNS = { main: 6, visibility: 2 } as const;

export interface ServerBinaries {
  server: string;
  sqlTool: string;
}

/** Named with their version, so that a change of the pinned version builds the new one. */
export function cachedServerBinaries(cacheDir: string): ServerBinaries {
  const bin = path.join(cacheDir, 'bin');
  return {
    server: path.join(bin, `temporal-server-${TEMPORAL_SERVER_VERSION}`),
    sqlTool: path.join(bin, `temporal-sql-tool-${TEMPORAL_SERVER_VERSION}`),
  };
}

/** The cached server and SQL tool, else `go install` of both into the cache (several minutes, once). */
export async function ensureTemporalServer(opts: { cacheDir: string; log: (line: string) => void }): Promise<ServerBinaries> {
  const cached = cachedServerBinaries(opts.cacheDir);
  if (fs.existsSync(cached.server) && fs.existsSync(cached.sqlTool)) return cached;
  const [server, sqlTool] = await goInstall({
    what: `the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool`,
    modules: TEMPORAL_SERVER_MODULES,
    names: [path.basename(cached.server), path.basename(cached.sqlTool)],
    binDir: path.dirname(cached.server),
    noGo: 'TEMPORAL_SERVER=postgres needs Go to build the Temporal server once; install Go, or use TEMPORAL_SERVER=dev',
    log: opts.log,
  });
  return { server, sqlTool };
}

/** Where the Temporal databases live: the pipeline's Postgres server, from its URL. */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The pipeline's database: the Temporal databases are named after it. */
  database: string;
}

export function postgresTarget(databaseUrl: string): PostgresTarget {
  const url = new URL(databaseUrl);
  return {
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || 'postgres'),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'pipeline',
  };
}

/**
 * A region's two databases, named after the pipeline's database: two systems on one Postgres (a
 * checkout and its tests, two test files) never share them, and dropping a scratch pipeline
 * database may drop its Temporal ones by prefix (`<database>_temporal_`).
 */
export function temporalDatabases(pipelineDatabase: string, region: string): { main: string; visibility: string } {
  const main = `${pipelineDatabase}_temporal_${region}`;
  if (main.length + '_visibility'.length > 63) {
    throw new Error(`database name ${main}_visibility is longer than Postgres's 63 characters: use a shorter pipeline database name`);
  }
  return { main, visibility: `${main}_visibility` };
}

/** The internal services' ports, besides the frontend's gRPC port (the region's address). */
export interface ServicePorts {
  frontendMembership: number;
  historyGrpc: number;
  historyMembership: number;
  matchingGrpc: number;
  matchingMembership: number;
  workerGrpc: number;
  workerMembership: number;
}
export const SERVICE_PORT_COUNT = 7;

/** SERVICE_PORT_COUNT consecutive ports from base. */
export function servicePorts(base: number): ServicePorts {
  return {
    frontendMembership: base,
    historyGrpc: base + 1,
    historyMembership: base + 2,
    matchingGrpc: base + 3,
    matchingMembership: base + 4,
    workerGrpc: base + 5,
    workerMembership: base + 6,
  };
}

export interface ServerPlan {
  region: string;
  /** The frontend's gRPC port: the region's Temporal address is 127.0.0.1:port. */
  port: number;
  ports: ServicePorts;
  pg: PostgresTarget;
  dynamicConfigFile: string;
}

/** Distinct per region: each region's server is its own cluster. */
export const clusterName = (region: string) => `pipeline-${region}`;

/**
 * The dynamic configuration both servers read. What the dev server sets by itself (the CLI's
 * start-dev defaults) and what the launcher passes it (devServerArgs), so that the pipeline
 * behaves the same on both engines.
 */
export function dynamicConfig(): Record<string, { value: unknown }[]> {
  const values: Record<string, unknown> = {
    // A search attribute is usable as soon as it is added (setupNamespace, then workflows at once).
    'system.forceSearchAttributesCacheRefreshOnRead': true,
    // The dev server's defaults that come with it: no cache above means more persistence reads.
    'frontend.persistenceMaxQPS': 10000,
    'history.persistenceMaxQPS': 45000,
    // The reconciler and the region router list workflows: the dev server allows 100/s, not 10.
    'frontend.namespaceRPS.visibility': 100,
    // As devServerArgs: idle pollers come back every 10 s, so dead workers are seen within seconds,
    'matching.longPollExpirationInterval': '10s',
    // and the transfer queue is read often enough that each dispatch does not wait a 50 ms tick.
    'history.transferProcessorMaxPollRPS': 1000,
  };
  return Object.fromEntries(Object.entries(values).map(([k, value]) => [k, [{ value }]]));
}

/** The server's configuration (written as YAML's JSON subset): all four services in one process. */
export function serverConfig(plan: ServerPlan): Record<string, unknown> {
  const { pg: db, ports } = plan;
  const { main, visibility } = temporalDatabases(db.database, plan.region);
  const cluster = clusterName(plan.region);
  const frontend = `127.0.0.1:${plan.port}`;
  const sql = (databaseName: string, maxConns: number, maxIdleConns: number) => ({
    sql: {
      pluginName: SQL_PLUGIN,
      databaseName,
      connectAddr: `${db.host}:${db.port}`,
      connectProtocol: 'tcp',
      user: db.user,
      password: db.password,
      maxConns,
      maxIdleConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number) => ({ rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1' } });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: HISTORY_SHARDS,
      // Per service, and the four services of a process each open their own pool: both regions'
      // servers share the pipeline's Postgres (100 connections by default) with the pipeline's 14
      // processes. 12 per pool held 28 + 6 connections per region, and the pipeline's Postgres ran out.
      // Every open connection is kept idle: with fewer idle than open, Go's pool closed the rest
      // after each burst and reconnected, several new Postgres sessions per record, which cost a
      // third of the throughput (and more on a busier machine).
      datastores: {
        default: sql(main, MAX_CONNS.main, MAX_CONNS.main),
        visibility: sql(visibility, MAX_CONNS.visibility, MAX_CONNS.visibility),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: service(plan.port, ports.frontendMembership),
      history: service(ports.historyGrpc, ports.historyMembership),
      matching: service(ports.matchingGrpc, ports.matchingMembership),
      worker: service(ports.workerGrpc, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: cluster,
      currentClusterName: cluster,
      clusterInformation: {
        [cluster]: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontend },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    publicClient: { hostPort: frontend },
    dynamicConfigClient: { filepath: plan.dynamicConfigFile, pollInterval: '10s' },
  };
}

/** `temporal-server ... start`: no authorizer is configured (the server listens on 127.0.0.1 only). */
export function serverArgs(configFile: string): string[] {
  return ['--config-file', configFile, '--allow-no-auth', 'start'];
}

/** JSON is YAML: the server's loader reads it as it is, and nothing else has to be escaped. */
export function writeServerFiles(dir: string, plan: ServerPlan): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(plan.dynamicConfigFile, JSON.stringify(dynamicConfig(), null, 2) + '\n');
  const file = path.join(dir, `${plan.region}.yaml`);
  // The file holds the database password, if the URL has one.
  fs.writeFileSync(file, JSON.stringify(serverConfig(plan), null, 2) + '\n', { mode: 0o600 });
  return file;
}

/** The SQL tool's arguments for one database: what every step shares. */
export function sqlToolArgs(db: PostgresTarget, database: string, ...step: string[]): string[] {
  return ['--plugin', SQL_PLUGIN, '--ep', db.host, '-p', String(db.port), '-u', db.user, '--db', database, ...step];
}

const run = promisify(execFile);

/**
 * Creates the database if missing, sets up the schema's version table if missing, then brings
 * the schema to the tool's latest embedded version (nothing to do on a migrated database).
 */
async function migrate(sqlTool: string, db: PostgresTarget, database: string, schema: string, log: (l: string) => void) {
  const env = { ...process.env, SQL_PASSWORD: db.password };
  const admin = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: 'postgres' });
  await admin.connect();
  let exists: boolean;
  try {
    exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount === 1;
  } finally {
    await admin.end();
  }
  const tool = async (...step: string[]) => {
    try {
      await run(sqlTool, sqlToolArgs(db, database, ...step), { env });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`temporal-sql-tool ${step[0]} on ${database} failed: ${(e.stderr || e.stdout || e.message).trim().slice(-2000)}`);
    }
  };
  if (!exists) {
    log(`temporal: creating the database ${database}`);
    await tool('create-database');
  }
  const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database });
  await client.connect();
  let versioned: boolean;
  try {
    versioned = (await client.query(`SELECT to_regclass('schema_version') IS NOT NULL AS t`)).rows[0].t as boolean;
  } finally {
    await client.end();
  }
  if (!versioned) await tool('setup-schema', '-v', '0.0');
  await tool('update-schema', '--schema-name', schema);
}

/** A region's two databases, created and migrated (idempotent); returns how long it took. */
export async function prepareServerDatabases(sqlTool: string, db: PostgresTarget, region: string, log: (l: string) => void) {
  const started = Date.now();
  const names = temporalDatabases(db.database, region);
  await migrate(sqlTool, db, names.main, SCHEMAS.main, log);
  await migrate(sqlTool, db, names.visibility, SCHEMAS.visibility, log);
  return { ...names, ms: Date.now() - started };
}
