// All configuration, read once from the environment and validated at boot.
import path from 'node:path';
import os from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { defaultNamespace, REGIONS, type Region } from './names';

const Int = (def: number, min = 0) => Type.Integer({ default: def, minimum: min });

export const EnvSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', description: 'address the API listens on' }),
  PORT: Int(3000),
  DATABASE_URL: Type.Optional(Type.String({ description: 'Postgres; default the local server, else an embedded one' })),
  DATA_DIR: Type.String({ default: '.data', description: 'dev server db, embedded Postgres, lock file' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  LOG_FORMAT: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
    default: 'auto',
    description: 'auto: pretty on a terminal, JSON otherwise',
  }),
  TEMPORAL_ADDRESS: Type.Optional(Type.String({ description: 'use this Temporal server instead of a dev server' })),
  TEMPORAL_ADDRESS_EAST: Type.Optional(Type.String()),
  TEMPORAL_ADDRESS_WEST: Type.Optional(Type.String()),
  // The standard Temporal environment configuration (@temporalio/envconfig) also reads
  // TEMPORAL_CONFIG_FILE, TEMPORAL_API_KEY, TEMPORAL_TLS* and TEMPORAL_GRPC_META_*; see regionConnection().
  TEMPORAL_PROFILE: Type.Optional(Type.String({ description: 'profile of the Temporal config file for both regions' })),
  TEMPORAL_PROFILE_EAST: Type.Optional(Type.String({ description: "east's profile (its address, namespace, TLS, API key)" })),
  TEMPORAL_PROFILE_WEST: Type.Optional(Type.String({ description: "west's profile" })),
  TEMPORAL_PORT: Int(7233, 1),
  TEMPORAL_UI_PORT: Int(8233, 0),
  REGION_TOPOLOGY: Type.Union([Type.Literal('shared'), Type.Literal('servers')], {
    default: 'shared',
    description: 'shared: both namespaces on one dev server; servers: one dev server per region',
  }),
  TEMPORAL_PORT_WEST: Type.Optional(Type.Integer({ minimum: 1, description: 'west dev server port (servers topology)' })),
  TEMPORAL_UI_PORT_WEST: Type.Optional(Type.Integer({ minimum: 0 })),
  TEMPORAL_CLI: Type.Optional(Type.String({ description: 'path of the temporal CLI' })),
  TEMPORAL_CLI_CACHE: Type.String({
    default: path.join(os.homedir(), '.cache', 'record-pipeline'),
    description: 'where the temporal CLI is built once and reused',
  }),
  NAMESPACE_EAST: Type.Optional(Type.String({ description: "default: east's profile namespace, else pipeline-east" })),
  NAMESPACE_WEST: Type.Optional(Type.String({ description: "default: west's profile namespace, else pipeline-west" })),
  ACTIVE_REGION: Type.Union(REGIONS.map((r) => Type.Literal(r)), { default: 'east', description: 'initially active' }),
  FAILOVER: Type.Union([Type.Literal('auto'), Type.Literal('manual')], { default: 'auto' }),
  HEALTH_INTERVAL_MS: Int(2000, 100),
  FAILOVER_THRESHOLD: Int(3, 1),
  POLLER_LIVENESS_MS: Int(30_000, 1000),
  RELAY_INTERVAL_MS: Int(2000, 50),
  START_CONCURRENCY: Int(32, 1),
  GATE_NUDGE_SECONDS: Type.Integer({ default: 30, minimum: 1, description: 'nudge a record first in line this long without progress' }),
  SWEEPER: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on', description: "the gate's fallback nudge (off: the reconciler alone repairs, for tests)" }),
  RECONCILE_INTERVAL_MS: Type.Integer({ default: 15_000, minimum: 100, description: 'how often the reconciler compares open records with their workflows' }),
  RECONCILE_STALL_SECONDS: Type.Integer({ default: 60, minimum: 1, description: 'a source whose first record in line has not moved this long is stalled (reported, inspected)' }),
  RECONCILE_GRACE_SECONDS: Type.Integer({ default: 10, minimum: 0, description: 'records started less than this long ago are not compared (their run may not be listed yet)' }),
  RECONCILE_MAX_REPAIRS: Type.Integer({ default: 500, minimum: 1, description: 'runs the reconciler starts again per pass at most' }),
  WORKFLOW_HISTORY_LIMIT: Type.Integer({ default: 2000, minimum: 10, description: "a record's workflow continues as new past this many history events" }),
  ACTIVITY_TIMEOUT_MS: Int(10_000, 100),
  RETRY_MAX_INTERVAL_MS: Int(5_000, 10),
  WORKER_RESTART_MAX_MS: Int(30_000, 10),
  STAGE_DELAY_MS: Type.Integer({ default: 0, minimum: 0, description: 'simulated work time per stage activity (demos, tests)' }),
  STAGE_TX_DELAY_MS: Type.Integer({
    default: 0,
    minimum: 0,
    description: 'tests only: each stage write holds its transaction open this long right after its fence check (a worker paused mid-write); 0: off',
  }),
  BODY_LIMIT_BYTES: Int(16 * 1024 * 1024, 1024),
  PG_POOL_MAX: Int(10, 1),
  METRICS_MAX_SOURCES: Type.Integer({ default: 20, minimum: 0, description: 'sources with their own metrics label (in order of creation); the rest are "other"' }),
  METRICS_PORT_BASE: Type.Integer({ default: 9470, minimum: 0, description: "npm start: the first worker's Prometheus port, the others follow; 0: off" }),
  METRICS_PORT: Type.Integer({ default: 0, minimum: 0, description: "a worker process's Prometheus port for the Temporal SDK metrics (set by the supervisor); 0: off" }),
  METRICS_HOST: Type.String({ default: '127.0.0.1', description: 'address the workers\' metrics endpoints listen on (0.0.0.0 in containers)' }),
  AUTH: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on', description: 'off: no credentials checked (local experiments only)' }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16, description: 'the admin bearer token; npm start generates one when unset' })),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 6000, minimum: 1, description: 'requests per minute per source key (and per IP without a key)' }),
  AUTH_FAILURES_PER_MINUTE: Type.Integer({ default: 20, minimum: 1, description: 'failed authentications per minute per client IP; beyond it 429 (valid tokens are never refused)' }),
  SUBMIT_MAX_INFLIGHT: Type.Integer({ default: 64, minimum: 1, description: 'submits in progress at once; more are answered 503' }),
  REQUEST_TIMEOUT_MS: Int(60_000, 1000),
  CONNECTION_TIMEOUT_MS: Int(30_000, 1000),
});
export type Env = Static<typeof EnvSchema>;

/** TLS, API key and gRPC metadata of a region's Temporal connection (client and worker alike). */
export interface ConnectOptions {
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface RegionConfig {
  name: Region;
  namespace: string;
  address: string;
  connect: ConnectOptions;
  /** The address came from the settings (a real cluster or Cloud), not the local dev server default. */
  external: boolean;
}

export interface Config extends Env {
  regions: RegionConfig[];
  databaseUrl: string;
  dataDir: string;
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/pipeline';

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    if (env[key] !== undefined && env[key] !== '') raw[key] = env[key];
  }
  const value = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw));
  const errors = [...Value.Errors(EnvSchema, value)];
  if (errors.length > 0) {
    const details = errors.map((e) => `${e.path.slice(1) || '(env)'}: ${e.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${details}`);
  }
  const e = value as Env;
  const local = `127.0.0.1:${e.TEMPORAL_PORT}`;
  const westLocal = e.REGION_TOPOLOGY === 'servers' ? `127.0.0.1:${westPort(e)}` : local;
  const regions: RegionConfig[] = [
    regionConnection(env, 'east', e.TEMPORAL_PROFILE_EAST, e.TEMPORAL_PROFILE, e.TEMPORAL_ADDRESS_EAST, e.NAMESPACE_EAST, local),
    regionConnection(env, 'west', e.TEMPORAL_PROFILE_WEST, e.TEMPORAL_PROFILE, e.TEMPORAL_ADDRESS_WEST, e.NAMESPACE_WEST, westLocal),
  ];
  return {
    ...e,
    regions,
    databaseUrl: e.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
  };
}

/**
 * A region's Temporal connection through the standard environment configuration: the profile of
 * the TOML file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml), overridden by
 * TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_GRPC_META_*; then the region's own
 * TEMPORAL_ADDRESS_<REGION> and NAMESPACE_<REGION>. TEMPORAL_NAMESPACE is not used: two regions
 * need two namespaces (NAMESPACE_<REGION>, or the namespace of TEMPORAL_PROFILE_<REGION>). Nothing set: the local dev server, namespace pipeline-<region>.
 */
function regionConnection(
  env: NodeJS.ProcessEnv,
  name: Region,
  regionProfile: string | undefined,
  sharedProfile: string | undefined,
  address: string | undefined,
  namespace: string | undefined,
  local: string,
): RegionConfig {
  const profileName = regionProfile ?? sharedProfile;
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '' && k !== 'TEMPORAL_NAMESPACE') vars[k] = v;
  let profile;
  try {
    profile = toClientOptions(loadClientConfigProfile({ profile: profileName, overrideEnvVars: vars }));
  } catch (err) {
    throw new ConfigError(`Temporal connection of region ${name}${profileName ? ` (profile ${profileName})` : ''}: ${(err as Error).message}`);
  }
  const { address: profileAddress, tls, apiKey, metadata } = profile.connectionOptions;
  const resolved = address ?? profileAddress;
  return {
    name,
    // A profile's namespace is the region's only when the profile is the region's own.
    namespace: namespace ?? (regionProfile ? profile.namespace : undefined) ?? defaultNamespace(name),
    address: resolved ?? local,
    connect: {
      ...(tls !== undefined && tls !== null ? { tls } : {}),
      ...(apiKey !== undefined ? { apiKey: apiKey as string } : {}),
      ...(metadata && Object.keys(metadata).length ? { metadata: metadata as Record<string, string> } : {}),
    },
    external: resolved !== undefined,
  };
}

/** The west dev server's ports in the two-server topology: by default the east ones plus one. */
export function westPort(e: Env): number {
  return e.TEMPORAL_PORT_WEST ?? e.TEMPORAL_PORT + 1;
}
export function westUiPort(e: Env): number {
  return e.TEMPORAL_UI_PORT_WEST ?? (e.TEMPORAL_UI_PORT === 0 ? 0 : e.TEMPORAL_UI_PORT + 1);
}

/** The command-line tool's own settings (`npx pipeline`); flags override them. */
export const CliEnvSchema = Type.Object({
  PIPELINE_URL: Type.String({ default: 'http://127.0.0.1:3000', description: 'the API the CLI talks to' }),
  PIPELINE_TOKEN: Type.Optional(Type.String({ description: 'sent as `Authorization: Bearer <token>`' })),
  DATABASE_URL: Type.String({ default: DEFAULT_DATABASE_URL, description: 'read by `pipeline verify`' }),
});
export type CliConfig = Static<typeof CliEnvSchema>;

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(CliEnvSchema.properties)) {
    if (env[key] !== undefined && env[key] !== '') raw[key] = env[key];
  }
  return Value.Default(CliEnvSchema, raw) as CliConfig;
}

export function regionConfig(config: Config, region: string): RegionConfig {
  const found = config.regions.find((r) => r.name === region);
  if (!found) throw new ConfigError(`unknown region ${region}`);
  return found;
}
